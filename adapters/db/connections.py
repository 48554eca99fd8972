"""Connections and OAuth states. Tokens and secrets are encrypted here, on the way in and out: the rest of
the code sees a TokenSet, the database only ciphertext bound (as associated data) to its row and column."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.crypto import KeyRing
from adapters.db.tables import connections, oauth_states
from domain.connections import Connection, ConnectionStatus, OAuthStateRecord, Organisation, Provider, TokenSet


class SqlConnectionRepository:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID, ring: KeyRing | None) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._ring = ring

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            raise RuntimeError("this unit of work was opened without the key ring")
        return self._ring

    def _mine(self, *conditions: Any) -> Any:
        """The one tenant filter of this repository; every statement below goes through it."""
        return and_(connections.c.tenant_id == self.tenant_id, *conditions)

    def _seal(self, connection_id: uuid.UUID, column: str, value: str | None) -> str | None:
        return None if value is None else self.ring.encrypt(value, f"connections:{connection_id}:{column}")

    def _open(self, connection_id: uuid.UUID, column: str, value: str | None) -> str | None:
        return None if value is None else self.ring.decrypt(value, f"connections:{connection_id}:{column}")

    async def get(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        q = select(connections).where(self._mine(connections.c.id == connection_id))
        if for_update:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return self._to_connection(row) if row else None

    async def by_provider(self, provider: Provider, *, for_update: bool = False) -> Connection | None:
        q = select(connections).where(self._mine(connections.c.provider == provider.value))
        if for_update:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return self._to_connection(row) if row else None

    async def list_all(self) -> list[Connection]:
        q = select(connections).where(self._mine()).order_by(connections.c.created_at)
        return [self._to_connection(r) for r in await self.conn.execute(q)]

    async def secrets(self, connection_id: uuid.UUID) -> dict[str, str]:
        q = select(connections.c.secrets_encrypted).where(self._mine(connections.c.id == connection_id))
        sealed = (await self.conn.execute(q)).scalar_one_or_none()
        opened = self._open(connection_id, "secrets", sealed)
        return json.loads(opened) if opened else {}

    async def save(self, c: Connection, secrets: dict[str, str] | None = None) -> None:
        """Insert or replace the connection (one per kind: a new Xero connection replaces QuickBooks)."""
        values: dict[str, Any] = {
            "tenant_id": c.tenant_id,
            "id": c.id,
            "provider": c.provider.value,
            "kind": c.provider.kind,
            "status": c.status.value,
            "external_id": c.external_id,
            "display_name": c.display_name,
            "scopes": c.scopes,
            "access_token_encrypted": self._seal(c.id, "access", c.tokens.access_token if c.tokens else None),
            "refresh_token_encrypted": self._seal(c.id, "refresh", c.tokens.refresh_token if c.tokens else None),
            "access_expires_at": c.tokens.access_expires_at if c.tokens else None,
            "refresh_expires_at": c.tokens.refresh_expires_at if c.tokens else None,
            "organisations": [{"id": o.id, "name": o.name} for o in c.organisations],
            "settings": c.settings,
            "needs_reauth_reason": c.needs_reauth_reason,
            "last_refreshed_at": c.last_refreshed_at,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
        }
        if secrets is not None:
            values["secrets_encrypted"] = self._seal(c.id, "secrets", json.dumps(secrets))
        await self.conn.execute(
            delete(connections).where(self._mine(connections.c.kind == c.provider.kind, connections.c.id != c.id))
        )
        stmt = insert(connections).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k not in ("tenant_id", "id", "created_at")}
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["tenant_id", "id"], set_=updates))

    async def delete(self, connection_id: uuid.UUID) -> None:
        await self.conn.execute(delete(connections).where(self._mine(connections.c.id == connection_id)))

    def _to_connection(self, r: Any) -> Connection:
        tokens = None
        if r.access_token_encrypted is not None:
            tokens = TokenSet(
                access_token=self._open(r.id, "access", r.access_token_encrypted) or "",
                access_expires_at=r.access_expires_at,
                refresh_token=self._open(r.id, "refresh", r.refresh_token_encrypted),
                refresh_expires_at=r.refresh_expires_at,
            )
        return Connection(
            tenant_id=r.tenant_id,
            id=r.id,
            provider=Provider(r.provider),
            status=ConnectionStatus(r.status),
            external_id=r.external_id,
            display_name=r.display_name,
            scopes=list(r.scopes),
            created_at=r.created_at,
            updated_at=r.updated_at,
            tokens=tokens,
            organisations=[Organisation(o["id"], o["name"]) for o in r.organisations],
            settings=dict(r.settings),
            needs_reauth_reason=r.needs_reauth_reason,
            last_refreshed_at=r.last_refreshed_at,
        )


class SqlOAuthStates:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID, ring: KeyRing | None) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._ring = ring

    def _context(self, state_id: uuid.UUID) -> str:
        return f"oauth_states:{state_id}:code_verifier"

    async def add(
        self,
        state_id: uuid.UUID,
        state_hash: str,
        provider: Provider,
        code_verifier: str | None,
        redirect_uri: str,
        created_by: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        assert self._ring is not None, "this unit of work was opened without the key ring"
        sealed = self._ring.encrypt(code_verifier, self._context(state_id)) if code_verifier else None
        await self.conn.execute(
            oauth_states.insert().values(
                tenant_id=self.tenant_id,
                id=state_id,
                state_hash=state_hash,
                provider=provider.value,
                code_verifier_encrypted=sealed,
                redirect_uri=redirect_uri,
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
        )

    async def take(self, state_hash: str) -> OAuthStateRecord | None:
        """Lock the state row (a concurrent callback with the same state waits, then finds it consumed)."""
        row = (
            await self.conn.execute(
                select(oauth_states)
                .where(oauth_states.c.tenant_id == self.tenant_id, oauth_states.c.state_hash == state_hash)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        verifier = None
        if row.code_verifier_encrypted:
            assert self._ring is not None
            verifier = self._ring.decrypt(row.code_verifier_encrypted, self._context(row.id))
        return OAuthStateRecord(
            row.id, Provider(row.provider), verifier, row.redirect_uri, row.created_by, row.expires_at, row.consumed_at
        )

    async def consume(self, state_id: uuid.UUID, now: datetime) -> None:
        await self.conn.execute(
            update(oauth_states)
            .where(oauth_states.c.tenant_id == self.tenant_id, oauth_states.c.id == state_id)
            .values(consumed_at=now)
        )


async def tenant_of_state(conn: AsyncConnection, state_hash: str) -> uuid.UUID | None:
    """Whose consent is this? (Cross-tenant, through the SECURITY DEFINER function; returns the id only.)"""
    row = (await conn.execute(text("SELECT tenant_id FROM find_oauth_state(:h)"), {"h": state_hash})).first()
    return row.tenant_id if row else None


async def connections_due_for_refresh(
    conn: AsyncConnection, refresh_expiring_before: datetime, idle_since: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    rows = await conn.execute(
        text("SELECT tenant_id, id FROM connections_due_for_refresh(:b, :i)"),
        {"b": refresh_expiring_before, "i": idle_since},
    )
    return [(r.tenant_id, r.id) for r in rows]
