"""Running the HaloPSA sync engine for benchmarks/halopsa_sync.py, and checking what it stored.

`sync` queues a run (not timed) and times `SyncEngine.run` alone, with the wall time of every page;
`stored` counts what a tenant holds per Halo resource; `database_facts` is what the results record about the
server: its version, whether autovacuum runs, and how often the synced tables were analyzed (the engine
refreshes the planner's statistics itself while they lag far behind what a run has written, through
`analyze_synced_tables()`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.db.halosync import SqlSyncStore
from benchmarks.support.halo_bench_cpu import OtherCpu
from benchmarks.support.halo_bench_measure import Measured, mean_ms, measuring
from benchmarks.support.halo_bench_sandbox import reader
from benchmarks.support.servers import Served
from domain.halopsa import HaloResource
from domain.halosync.engine import SyncEngine
from domain.halosync.runs import SyncMode, SyncRun, SyncStatus, SyncTrigger
from domain.halosync.settings import SyncSettings
from domain.ids import new_id

SYNCED_TABLES = ("clients", "agreements", "invoices", "invoice_lines", "recorded_payments")
STORED = (  # table, condition: what a sync stores per Halo resource
    ("clients", "AND source = 'halopsa'"),
    ("agreements", ""),
    ("invoices", "AND source = 'halopsa'"),
    ("recorded_payments", ""),
)


async def _queue(store: SqlSyncStore, mode: SyncMode) -> uuid.UUID:
    run = SyncRun(new_id(), SyncTrigger.MANUAL, mode, SyncStatus.QUEUED, SystemClock().now())
    async with store.transaction() as tx:
        await tx.add_run(run)
        await tx.commit()
    return run.id


async def sync(
    db: AsyncEngine, tenant_id: uuid.UUID, served: Served, mode: SyncMode, page_size: int, traced: bool = False
) -> Measured:
    """Queue a run (not timed), then time `SyncEngine.run` alone."""
    store = SqlSyncStore(db, tenant_id)
    run_id = await _queue(store, mode)
    api, http = reader(served)
    pages: dict[str, int] = {}
    page_ms: dict[str, list[float]] = {}
    last = [time.perf_counter()]

    def progress(_run: SyncRun, resource: HaloResource, _page: int, _count: int | None) -> None:
        now = time.perf_counter()
        pages[resource.value] = pages.get(resource.value, 0) + 1
        page_ms.setdefault(resource.value, []).append((now - last[0]) * 1000)
        last[0] = now

    engine = SyncEngine(store, api, SystemClock(), SyncSettings(), tenant_id, page_size=page_size, progress=progress)
    try:
        with OtherCpu(db.url.database, served.pid) as other:
            async with measuring(traced) as m:
                last[0] = time.perf_counter()
                run = await engine.run(run_id)
    finally:
        await http.aclose()
    assert run is not None, "nothing else runs this run"
    m.extra = {
        "mode": mode.value,
        "status": run.status.value,
        "error": run.error,
        "counts": vars(run.counts).copy(),
        "issues": run.issues,
        "pages": pages,
        # Wall time per page (read + write + commit), first and last ten of each phase: flat when a page costs
        # the same however much the tenant already holds.
        "page_ms": {k: {"first_10": mean_ms(v[:10]), "last_10": mean_ms(v[-10:])} for k, v in page_ms.items()},
        **other.as_json(),
    }
    return m


async def stored(db: AsyncEngine, tenant_id: uuid.UUID) -> dict[str, int]:
    store = SqlSyncStore(db, tenant_id)
    counts = {}
    async with store.transaction() as tx:
        for table, where in STORED:
            sql = f"SELECT count(*) FROM {table} WHERE tenant_id = :t {where}"
            counts[table] = int((await tx.conn.execute(text(sql), {"t": tenant_id})).scalar() or 0)
    return counts


def check_stored(label: str, have: dict[str, int], halo: dict[str, Any], problems: list[str]) -> None:
    """`halo`: the sandbox's /bench/stats. A full sync must store every client, contract and invoice."""
    want = {"clients": halo["clients"], "agreements": halo["contracts"], "invoices": halo["invoices"]}
    for table, n in want.items():
        if have[table] != n:
            problems.append(f"{label}: {have[table]:,} {table} stored, the sandbox holds {n:,}")


def check_succeeded(label: str, m: Measured, problems: list[str]) -> None:
    x = m.extra
    if x["status"] != SyncStatus.SUCCEEDED.value or x["counts"]["failed"]:
        problems.append(f"{label}: {x['status']} ({x['error']}), counts {x['counts']}")


async def database_version(owner_url: str) -> str:
    conn = await asyncpg.connect(owner_url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def database_facts(owner_url: str) -> dict[str, Any]:
    """Whether autovacuum runs, and how often each synced table was analyzed (by the engine, or by autovacuum)."""
    conn = await asyncpg.connect(owner_url)
    try:
        rows = await conn.fetch(
            "SELECT relname, analyze_count, autoanalyze_count FROM pg_stat_user_tables "
            "WHERE relname = ANY($1::text[]) ORDER BY relname",
            list(SYNCED_TABLES),
        )
        return {
            "autovacuum": str(await conn.fetchval("SHOW autovacuum")),
            "analyze_count": {r[0]: r[1] for r in rows},
            "autoanalyze_count": {r[0]: r[2] for r in rows},
        }
    finally:
        await conn.close()
