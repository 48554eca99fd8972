"""A run's transactions go on the connection that holds the run: scoped to the tenant, rolled back when not
committed; a connection interrupted mid-statement is ended, never handed back to the pool."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.halosync import HeldSyncTransaction, SqlSyncStore, SqlSyncTransaction
from domain.halopsa import HaloResource
from domain.halosync.runs import FoundIssue, IssueKind
from domain.ids import new_id
from domain.pagination import PageRequest
from tests.conftest import new_tenant

ISSUE = FoundIssue(IssueKind.BAD_RECORD, HaloResource.INVOICES, "7", "total is not a number")


async def test_a_runs_transactions_share_its_connection_and_its_tenant(engine: AsyncEngine) -> None:
    a, b = (await new_tenant(engine, "Held MSP A")).tenant_id, (await new_tenant(engine, "Held MSP B")).tenant_id
    store, run_id, now = SqlSyncStore(engine, a), new_id(), datetime.now(UTC)
    async with store.exclusive(run_id) as mine:
        assert mine
        async with store.transaction() as tx:
            assert isinstance(tx, HeldSyncTransaction)
            pid = (await tx._driver()).get_server_pid()
            await tx.record_issues([ISSUE], run_id, now)  # not committed: rolled back on leaving
        async with store.transaction() as tx:
            assert (await tx._driver()).get_server_pid() == pid  # one connection per run
            assert (await tx.list_issues(PageRequest())).items == []
            await tx.record_issues([ISSUE], run_id, now)
            await tx.commit()
    async with store.transaction() as tx:
        assert type(tx) is SqlSyncTransaction  # outside a run: the full unit of work
        assert [i.external_id for i in (await tx.list_issues(PageRequest())).items] == ["7"]
    async with SqlSyncStore(engine, b).transaction() as tx:
        assert (await tx.list_issues(PageRequest())).items == []


async def test_a_run_interrupted_mid_statement_leaves_no_connection_behind(engine: AsyncEngine) -> None:
    store, run_id = SqlSyncStore(engine, (await new_tenant(engine, "Interrupted MSP")).tenant_id), new_id()
    started = asyncio.Event()

    async def run() -> None:
        async with store.exclusive(run_id) as mine, store.transaction() as tx:
            assert mine
            started.set()
            await (await tx._driver()).execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(run())
    await started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, asyncpg.InterfaceError):
        await task
    # The run's lock is free again, and every pooled connection works (none is left mid-transaction).
    for _ in range(3):
        async with store.exclusive(run_id) as mine:
            assert mine
        async with store.transaction() as tx:
            assert (await tx.list_runs(PageRequest())).items == []
