"""Connecting vendors: the OAuth consent round trip, HaloPSA's client credentials, listing, disconnecting,
and fresh access tokens with single-flight refresh."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.auth import Principal, Scope
from domain.connections import (
    STATE_TTL,
    ClientCredentials,
    Connection,
    ConnectionStatus,
    Grant,
    InvalidOAuthState,
    NeedsReauth,
    Provider,
    RefreshRefused,
    TokenSet,
    VendorRefused,
)
from domain.errors import NotFound
from domain.events import DomainEvent
from domain.ids import new_id
from domain.ports import Clock, ConnectionsUnitOfWork

CONNECTION_CONNECTED = "connection.connected"
CONNECTION_DISCONNECTED = "connection.disconnected"
CONNECTION_NEEDS_REAUTH = "connection.needs_reauth"


class OAuthFlow(Protocol):
    """One vendor's consent flow (implemented in adapters/<vendor>/)."""

    provider: Provider
    uses_pkce: bool

    def authorization_url(self, state: str, redirect_uri: str, code_verifier: str | None) -> str:
        """The consent URL; with a verifier, it carries the PKCE S256 challenge derived from it."""

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str]
    ) -> Grant:
        """Raises VendorRefused when the vendor answers with an error."""

    async def refresh(self, connection: Connection, secrets: dict[str, str]) -> TokenSet:
        """New tokens. `secrets` are the connection's stored secrets (HaloPSA's client secret).
        Raises RefreshRefused when the grant is dead for good."""

    async def revoke(self, connection: Connection) -> None: ...


class CredentialsFlow(Protocol):
    """A vendor connected by client credentials (HaloPSA)."""

    provider: Provider

    async def token(self, creds: ClientCredentials) -> TokenSet:
        """Raises VendorRefused when the vendor refuses the credentials."""

    async def refresh(self, connection: Connection, secrets: dict[str, str]) -> TokenSet: ...


class StateDirectory(Protocol):
    async def tenant_of(self, state_hash: str) -> uuid.UUID | None: ...


UowFactory = Callable[[uuid.UUID], ConnectionsUnitOfWork]


@dataclass(frozen=True)
class ConsentRedirect:
    url: str
    expires_at: datetime


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _snapshot(c: Connection) -> dict[str, object]:
    return {"id": str(c.id), "provider": c.provider.value, "status": c.status.value, "external_id": c.external_id}


async def start_connect(
    uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock, flow: OAuthFlow, redirect_uri: str
) -> ConsentRedirect:
    """A consent URL whose `state` is single-use, bound to this tenant, and dies in 10 minutes."""
    principal.require(Scope.CONNECTIONS_WRITE)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64) if flow.uses_pkce else None  # 86 chars of [A-Za-z0-9_-]
    now = clock.now()
    expires = now + STATE_TTL
    await uow.oauth_states.add(
        new_id(), hash_state(state), flow.provider, verifier, redirect_uri, principal.client_id, now, expires
    )
    return ConsentRedirect(flow.authorization_url(state, redirect_uri, verifier), expires)


async def complete_connect(
    uows: UowFactory,
    directory: StateDirectory,
    clock: Clock,
    flow: OAuthFlow,
    callback: Mapping[str, str],
    caller: Principal | None = None,
) -> Connection:
    """The vendor's redirect came back. The state is checked and spent before the code is exchanged, so a
    replayed callback fails even if the first exchange is still running; nothing is stored on failure."""
    state = callback.get("state", "")
    tenant_id = await directory.tenant_of(hash_state(state)) if state else None
    if tenant_id is None or (caller is not None and caller.tenant_id != tenant_id):
        raise InvalidOAuthState("The consent state is unknown. Start the connection again.")
    now = clock.now()
    async with uows(tenant_id) as uow:
        stored = await uow.oauth_states.take(hash_state(state))
        if stored is None or stored.provider is not flow.provider:
            raise InvalidOAuthState("The consent state does not belong to this provider.")
        if stored.consumed_at is not None:
            raise InvalidOAuthState("The consent state was already used. Start the connection again.")
        if stored.expires_at <= now:
            raise InvalidOAuthState("The consent took longer than 10 minutes. Start the connection again.")
        await uow.oauth_states.consume(stored.id, now)
        await uow.commit()
    if "error" in callback:
        raise VendorRefused(flow.provider, callback["error"], callback.get("error_description"))
    if not callback.get("code"):
        raise InvalidOAuthState("The vendor's redirect carried no authorization code.")
    grant = await flow.exchange_code(callback["code"], stored.redirect_uri, stored.code_verifier, callback)
    return await _store_grant(uows(tenant_id), clock, flow.provider, grant)


async def _store_grant(uow: ConnectionsUnitOfWork, clock: Clock, provider: Provider, grant: Grant) -> Connection:
    now = clock.now()
    choosing = grant.external_id is None and len(grant.organisations) > 1
    only = grant.organisations[0] if len(grant.organisations) == 1 else None
    async with uow:
        existing = await uow.connections.by_provider(provider, for_update=True)
        connection = Connection(
            tenant_id=uow.tenant_id,
            id=existing.id if existing else new_id(),
            provider=provider,
            status=ConnectionStatus.CHOOSING_ORGANISATION if choosing else ConnectionStatus.ACTIVE,
            external_id=grant.external_id or (only.id if only else None),
            display_name=grant.display_name or (only.name if only else None),
            scopes=grant.scopes,
            created_at=existing.created_at if existing else now,
            updated_at=now,
            tokens=grant.tokens,
            organisations=grant.organisations,
            settings=grant.settings,
            last_refreshed_at=now,
        )
        await uow.connections.save(connection)
        await uow.outbox.add(
            DomainEvent(CONNECTION_CONNECTED, uow.tenant_id, connection.id, now, _snapshot(connection))
        )
        await uow.commit()
    return connection


async def connect_with_credentials(
    uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock, flow: CredentialsFlow, creds: ClientCredentials
) -> Connection:
    """Check the credentials by getting a token, then keep them (the secret encrypted)."""
    principal.require(Scope.CONNECTIONS_WRITE)
    tokens = await flow.token(creds)
    now = clock.now()
    existing = await uow.connections.by_provider(flow.provider, for_update=True)
    connection = Connection(
        tenant_id=uow.tenant_id,
        id=existing.id if existing else new_id(),
        provider=flow.provider,
        status=ConnectionStatus.ACTIVE,
        external_id=creds.resource_url,
        display_name=creds.tenant or creds.resource_url,
        scopes=creds.scope.split(),
        created_at=existing.created_at if existing else now,
        updated_at=now,
        tokens=tokens,
        settings={
            "resource_url": creds.resource_url,
            "auth_url": creds.auth_url,
            "client_id": creds.client_id,
            "tenant": creds.tenant,
            "scope": creds.scope,
            # Reconnecting (new credentials, say) keeps the MSP's sync choices and webhook secret.
            **({"sync": existing.settings["sync"]} if existing and "sync" in existing.settings else {}),
        },
        last_refreshed_at=now,
    )
    await uow.connections.save(connection, secrets={"client_secret": creds.client_secret})
    await uow.outbox.add(DomainEvent(CONNECTION_CONNECTED, uow.tenant_id, connection.id, now, _snapshot(connection)))
    return connection


async def list_connections(uow: ConnectionsUnitOfWork, principal: Principal) -> list[Connection]:
    principal.require(Scope.CONNECTIONS_READ)
    return await uow.connections.list_all()


async def choose_organisation(
    uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock, connection_id: uuid.UUID, organisation_id: str
) -> Connection:
    principal.require(Scope.CONNECTIONS_WRITE)
    connection = await uow.connections.get(connection_id, for_update=True)
    if connection is None:
        raise NotFound("connection", connection_id)
    now = clock.now()
    connection.choose_organisation(organisation_id, now)
    await uow.connections.save(connection)
    await uow.outbox.add(DomainEvent(CONNECTION_CONNECTED, uow.tenant_id, connection.id, now, _snapshot(connection)))
    return connection


async def disconnect(
    uow: ConnectionsUnitOfWork,
    principal: Principal,
    clock: Clock,
    flows: Mapping[Provider, OAuthFlow],
    connection_id: uuid.UUID,
) -> None:
    """Revoke at the vendor, then forget. A vendor that is down does not keep the MSP connected: the
    tokens are deleted here either way (and expire at the vendor)."""
    principal.require(Scope.CONNECTIONS_WRITE)
    connection = await uow.connections.get(connection_id, for_update=True)
    if connection is None:
        raise NotFound("connection", connection_id)
    flow = flows.get(connection.provider)
    if flow is not None and connection.tokens is not None:
        # Already revoked or expired at the vendor: forgetting it is all that's left to do.
        with contextlib.suppress(VendorRefused):
            await flow.revoke(connection)
    await uow.connections.delete(connection.id)
    now = clock.now()
    await uow.outbox.add(DomainEvent(CONNECTION_DISCONNECTED, uow.tenant_id, connection.id, now, _snapshot(connection)))


async def fresh_access_token(
    uow: ConnectionsUnitOfWork,
    clock: Clock,
    flow: OAuthFlow | CredentialsFlow,
    connection_id: uuid.UUID,
    *,
    stale: str | None = None,
) -> str:
    """An access token good for a call, refreshing at most once however many callers ask at the same time.

    The connection row stays locked while the vendor refreshes: a second worker waits on the lock, then
    finds the token fresh and uses it. The new token set is committed before it is returned, so a crash
    after the refresh cannot lose a rotated refresh token. The caller commits nothing else in this unit.

    `stale` is a token the vendor just refused (Halo may revoke one before its expiry): if it is still the
    stored one it is refreshed however fresh it looks; if another caller already replaced it, that
    replacement is returned, so many callers refused at once still cause one refresh.
    """
    connection = await uow.connections.get(connection_id, for_update=True)
    if connection is None:
        raise NotFound("connection", connection_id)
    if connection.status is ConnectionStatus.NEEDS_REAUTH:
        raise NeedsReauth(connection.provider, connection.needs_reauth_reason)
    now = clock.now()
    refused = stale is not None and connection.tokens is not None and connection.tokens.access_token == stale
    if connection.access_token_fresh(now) and not refused:
        assert connection.tokens is not None
        await uow.rollback()
        return connection.tokens.access_token
    tokens = await _refresh(uow, flow, connection, now)
    if tokens is None:
        raise NeedsReauth(connection.provider, connection.needs_reauth_reason)
    return tokens.access_token


async def _refresh(
    uow: ConnectionsUnitOfWork, flow: OAuthFlow | CredentialsFlow, connection: Connection, now: datetime
) -> TokenSet | None:
    """Refresh the locked connection and commit the new tokens before anyone uses them. None (and the
    connection committed as `needs_reauth`, with an event) when the vendor refuses for good."""
    try:
        tokens = await flow.refresh(connection, await uow.connections.secrets(connection.id))
    except RefreshRefused as exc:
        connection.refresh_failed_for_good(exc.reason, now)
        await uow.connections.save(connection)
        await uow.outbox.add(
            DomainEvent(CONNECTION_NEEDS_REAUTH, uow.tenant_id, connection.id, now, _snapshot(connection))
        )
        await uow.commit()
        return None
    connection.refreshed(tokens, now)
    await uow.connections.save(connection)
    await uow.commit()
    return tokens


async def keep_alive(
    uow: ConnectionsUnitOfWork, clock: Clock, flow: OAuthFlow | CredentialsFlow, connection_id: uuid.UUID
) -> bool:
    """Refresh a connection nobody has used lately, before its refresh token dies unused (Xero: 60 days,
    QuickBooks: 100). Same single-flight lock as `fresh_access_token`. False when it needs the MSP."""
    connection = await uow.connections.get(connection_id, for_update=True)
    if connection is None or connection.status is not ConnectionStatus.ACTIVE:
        await uow.rollback()
        return False
    return await _refresh(uow, flow, connection, clock.now()) is not None
