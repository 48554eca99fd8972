"""The sync's storage (domain.halosync.ports): runs, issues and webhook receipts here; records in
halosync_records.py and halosync_invoices.py. Each `transaction()` is one tenant's transaction on the
application role: a full unit of work, or, while `exclusive` holds a run, a lighter one on the holding
connection (see `HeldSyncTransaction`)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.crypto import KeyRing
from adapters.db.driver import driver
from adapters.db.halosync_records import RecordWrites
from adapters.db.uow import SqlUnitOfWork
from domain.halopsa import HaloResource
from domain.halosync.runs import (
    Checkpoint,
    Counts,
    FoundIssue,
    IssueKind,
    SyncIssue,
    SyncMode,
    SyncRun,
    SyncStatus,
    SyncTrigger,
)
from domain.ids import new_id
from domain.pagination import Page, PageRequest, page_of

_RUN_COLUMNS = (
    "id, trigger, mode, status, requested_at, created, updated, unchanged, failed, issues, checkpoint::text, "
    "started_at, finished_at, error, target::text"
)
_ISSUE_COLUMNS = "id, kind, resource, external_id, message, run_id, first_seen_at, last_seen_at, resolved_at"


def _run(r: Any) -> SyncRun:
    return SyncRun(
        id=r[0],
        trigger=SyncTrigger(r[1]),
        mode=SyncMode(r[2]),
        status=SyncStatus(r[3]),
        requested_at=r[4],
        counts=Counts(r[5], r[6], r[7], r[8]),
        issues=r[9],
        checkpoint=Checkpoint.from_json(json.loads(r[10])),
        started_at=r[11],
        finished_at=r[12],
        error=r[13],
        target=json.loads(r[14]),
    )


def _issue(r: Any) -> SyncIssue:
    return SyncIssue(r[0], IssueKind(r[1]), HaloResource(r[2]), r[3], r[4], r[5], r[6], r[7], r[8])


class SqlSyncTransaction(SqlUnitOfWork, RecordWrites):
    """A unit of work with the sync's reads and writes."""

    async def __aenter__(self) -> SqlSyncTransaction:
        await super().__aenter__()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await super().__aexit__(et, e, tb)

    # -- runs -------------------------------------------------------------------------------------------

    async def add_run(self, run: SyncRun) -> bool:
        """False when another page-reading run is already queued or running (the unique index says so)."""
        rows = await self._fetch(
            "INSERT INTO sync_runs (tenant_id, id, trigger, mode, status, requested_at, target) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) "
            "ON CONFLICT (tenant_id) WHERE status IN ('queued', 'running') AND mode <> 'record' DO NOTHING "
            "RETURNING id",
            run.id,
            run.trigger.value,
            run.mode.value,
            run.status.value,
            run.requested_at,
            json.dumps(run.target),
        )
        return bool(rows)

    async def load_run(self, run_id: uuid.UUID, *, for_update: bool = False) -> SyncRun | None:
        lock = " FOR UPDATE" if for_update else ""
        rows = await self._fetch(
            f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1 AND id = $2{lock}",
            run_id,
        )
        return _run(rows[0]) if rows else None

    async def save_run(self, run: SyncRun) -> None:
        c = run.counts
        await self._execute(
            "UPDATE sync_runs SET status = $3, created = $4, updated = $5, unchanged = $6, failed = $7, "
            "issues = $8, checkpoint = $9::text::jsonb, started_at = $10, finished_at = $11, error = $12, "
            "target = $13::text::jsonb, heartbeat_at = now() WHERE tenant_id = $1 AND id = $2",
            run.id,
            run.status.value,
            c.created,
            c.updated,
            c.unchanged,
            c.failed,
            run.issues,
            json.dumps(run.checkpoint.to_json()),
            run.started_at,
            run.finished_at,
            run.error,
            json.dumps(run.target),
        )

    async def last_high_water(self) -> dict[str, str]:
        rows = await self._fetch(
            "SELECT checkpoint::text FROM sync_runs WHERE tenant_id = $1 AND status = 'succeeded' "
            "AND mode IN ('full', 'incremental') ORDER BY requested_at DESC LIMIT 1"
        )
        return Checkpoint.from_json(json.loads(rows[0][0])).high_water if rows else {}

    async def active_run(self) -> SyncRun | None:
        rows = await self._fetch(
            f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1 "
            "AND status IN ('queued', 'running') AND mode <> 'record' ORDER BY requested_at LIMIT 1"
        )
        return _run(rows[0]) if rows else None

    async def list_runs(self, page: PageRequest) -> Page[SyncRun]:
        after = "AND id < $3" if page.after else ""
        args: list[Any] = [page.limit + 1] + ([page.after] if page.after else [])
        rows = await self._fetch(
            f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1 {after} ORDER BY id DESC LIMIT $2",
            *args,
        )
        return page_of([_run(r) for r in rows], page.limit)

    # -- issues -----------------------------------------------------------------------------------------

    async def record_issues(self, issues: Sequence[FoundIssue], run_id: uuid.UUID, now: datetime) -> None:
        """New problems open an issue; a problem seen again bumps the open one (one statement per page)."""
        if not issues:
            return
        await self._execute(
            """
            INSERT INTO sync_issues (tenant_id, id, kind, resource, external_id, message, run_id, first_seen_at,
                                     last_seen_at)
            SELECT DISTINCT ON (u.kind, u.resource, coalesce(u.ext, ''))
                   $1, u.id, u.kind, u.resource, u.ext, u.message, $7, $8, $8
            FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
                AS u(id, kind, resource, ext, message)
            ON CONFLICT (tenant_id, kind, resource, coalesce(external_id, '')) WHERE resolved_at IS NULL
            DO UPDATE SET message = EXCLUDED.message, run_id = EXCLUDED.run_id,
                last_seen_at = EXCLUDED.last_seen_at, occurrences = sync_issues.occurrences + 1
            """,
            [new_id() for _ in issues],
            [i.kind.value for i in issues],
            [i.resource.value for i in issues],
            [i.external_id for i in issues],
            [i.message for i in issues],
            run_id,
            now,
        )

    async def resolve_issues(self, resource: HaloResource, external_ids: Sequence[str], now: datetime) -> None:
        if not external_ids:
            return
        await self._execute(
            "UPDATE sync_issues SET resolved_at = $4 WHERE tenant_id = $1 AND resource = $2 "
            "AND external_id = ANY($3::text[]) AND resolved_at IS NULL",
            resource.value,
            list(external_ids),
            now,
        )

    async def settle_duplicates(self, now: datetime) -> None:  # type: ignore[override]
        cleared = await RecordWrites.settle_duplicates(self, now)
        await self._execute(
            "UPDATE sync_issues SET resolved_at = $3 WHERE tenant_id = $1 AND kind = 'duplicate_number' "
            "AND external_id = ANY($2::text[]) AND resolved_at IS NULL",
            cleared,
            now,
        )

    async def list_issues(self, page: PageRequest, *, open_only: bool = True) -> Page[SyncIssue]:
        where = "AND resolved_at IS NULL" if open_only else ""
        after = "AND id < $3" if page.after else ""
        args: list[Any] = [page.limit + 1] + ([page.after] if page.after else [])
        rows = await self._fetch(
            f"SELECT {_ISSUE_COLUMNS} FROM sync_issues WHERE tenant_id = $1 {where} {after} ORDER BY id DESC LIMIT $2",
            *args,
        )
        return page_of([_issue(r) for r in rows], page.limit)

    # -- webhooks ---------------------------------------------------------------------------------------

    async def receive_webhook(self, event_id: str, event_type: str, payload: dict[str, Any], now: datetime) -> bool:
        """Store a delivery; False when this event id was received before (a redelivery)."""
        rows = await self._fetch(
            "INSERT INTO webhook_receipts (tenant_id, id, provider, event_id, event_type, payload, received_at) "
            "VALUES ($1, $2, 'halopsa', $3, $4, $5::text::jsonb, $6) ON CONFLICT DO NOTHING RETURNING id",
            new_id(),
            event_id,
            event_type,
            json.dumps(payload),
            now,
        )
        return bool(rows)


class HeldSyncTransaction(SqlSyncTransaction):
    """A transaction of the run being run, on the connection that holds its lock (`SqlSyncStore.exclusive`):
    the engine's transactions, one per page, hundreds per run.

    The unit of work's own begin (a pool checkout, SQLAlchemy's begin, then the tenant's set_config, each its
    own round trip and greenlet switches) cost a page about a millisecond of CPU; here the transaction
    begins and scopes itself to the tenant in one round trip, on asyncpg directly, and commits in one more.
    The tenant is set the same way (set_config, local to the transaction), first thing. It offers the sync's
    reads and writes only, not the unit of work's other repositories."""

    def __init__(self, store: SqlSyncStore, conn: AsyncConnection, raw: Any) -> None:
        SqlUnitOfWork.__init__(self, store.engine, store.tenant_id, store.ring)
        self.conn, self._raw = conn, raw
        self._open = False

    async def __aenter__(self) -> HeldSyncTransaction:
        if self._raw.is_in_transaction():
            raise RuntimeError("a transaction of this sync run is already open on its connection")
        # One simple-protocol round trip; the tenant's id is a UUID's canonical text, safe to inline. Generic
        # plans: a custom plan sees the tenant's id, and a tenant the statistics have not seen yet (a new one,
        # mid-way through its first sync) looks like a row or two, so PostgreSQL read a page's hundred
        # invoices through a tenant-prefix index, all of the tenant's rows, for every page. A generic plan
        # weighs the tenant as an average one, and the engine drops cached plans as the tables grow (replan).
        await self._raw.execute(
            f"BEGIN; SELECT set_config('app.tenant_id', '{uuid.UUID(str(self.tenant_id))}', true); "
            "SET LOCAL plan_cache_mode = force_generic_plan"
        )
        self._open = True
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._open:
            self._open = False
            try:
                await self._raw.execute("ROLLBACK")
            except BaseException as exc:
                # Interrupted mid-statement (a cancelled job, a dropped connection): its state is unknown, so
                # it is ended (the run's lock goes with it) and never reused. The first failure propagates.
                self._raw.terminate()
                if e is None or not isinstance(exc, Exception):
                    raise

    async def commit(self) -> None:
        self._open = False  # committed or not, PostgreSQL ends the transaction
        await self._raw.execute("COMMIT")

    async def rollback(self) -> None:
        self._open = False
        await self._raw.execute("ROLLBACK")


class SqlSyncStore:
    def __init__(self, engine: AsyncEngine, tenant_id: uuid.UUID, ring: KeyRing | None = None) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.ring = ring  # the HaloPSA connection's settings are read through the connections repository
        self._held: tuple[AsyncConnection, Any] | None = None  # while `exclusive` holds a run

    def transaction(self) -> SqlSyncTransaction:
        if self._held is not None:
            return HeldSyncTransaction(self, *self._held)
        return SqlSyncTransaction(self.engine, self.tenant_id, self.ring)

    @contextlib.asynccontextmanager
    async def exclusive(self, run_id: uuid.UUID) -> AsyncIterator[bool]:
        """A session advisory lock on its own connection, keyed by the run: PostgreSQL releases it when the
        holder's connection ends, so a killed worker or an interrupted CLI never leaves a run locked. While
        held, this store's transactions run on that connection (one connection per run, not two)."""
        key = int.from_bytes(run_id.bytes[:8], "big", signed=True)
        async with self.engine.connect() as conn:
            raw = await driver(conn)
            mine = bool(await raw.fetchval("SELECT pg_try_advisory_lock($1)", key))
            try:
                if mine:
                    self._held = (conn, raw)  # the run's own transactions go on this connection
                yield mine
            finally:
                self._held = None
                if raw.is_closed():
                    await conn.invalidate()  # ended by HeldSyncTransaction: not back into the pool
                elif mine:
                    await raw.fetchval("SELECT pg_advisory_unlock($1)", key)


__all__ = ["SqlSyncStore", "SqlSyncTransaction", "driver"]
