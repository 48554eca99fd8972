"""halopsa_sync: full and incremental HaloPSA syncs into PostgreSQL, beside a fetch-and-decode-only baseline.

    .venv/bin/python -m benchmarks.halopsa_sync [--invoices 50000] [--clients 2000] [--small 10000] [--quick]
        [--halo-latency-ms 0] [--latency-check-ms 20] [--latency-check-invoices 10000] [--profile DIR]

HaloPSA sandboxes (sandbox/halopsa, seeded by benchmarks/support/halo_server.py) are served with uvicorn in
their own processes on loopback ports, so every page crosses real HTTP and the sandbox's records stay out of
this process: one holds `--invoices` invoices (3 lines each), another `--small`, both `--clients` clients with
a contract each, and a payment for every paid or part-paid invoice. Both answer each /api request after
`--halo-latency-ms` (0 by default: at once, about 1.3 ms a page). In order:

1. small: a full sync into a new tenant (timed);
2. large: fetch-only baseline: the same HaloApi reader as the engine's, the same page size and query
   parameters (taken from the engine itself), paging through clients, contracts, invoices and payments one
   page after another and JSON-decoding every page, without touching the database;
3. large: a full sync into a new tenant (timed): `ours`;
4. large: the fetch-only baseline again; `baseline` is the mean of 2 and 4;
5. large: 1% of the invoices changed through the sandbox's MSP helpers (edit_invoice / record_payment),
   then an incremental sync of the tenant of 3 (timed);
6. large, then small: a full sync each into new tenants under tracemalloc: the peak of the memory the
   sync allocates (the sandbox is another process, so none of its data is counted). Traced runs are slower
   and are not used for the time ratios;
7. the latency check (unless `--latency-check-ms 0`): a third sandbox of `--latency-check-invoices`
   invoices delaying every /api request by `--latency-check-ms`, as remote, rate-limited Halo does (a third
   party reports 450 requests per 5 minutes); fetch-only, a full sync into a new tenant, fetch-only again.
   The engine writes each page while it fetches the next, so with Halo's latency the database work should
   mostly hide behind the fetches: `ratio_at_latency` says how much does.

Each sync and fetch-only pass also records the CPU time PostgreSQL's backends and the sandbox used meanwhile
(`cpu_split` in the JSON): the three processes share the machine's cores. `--profile DIR` adds one more full
sync, sampled by py-spy, after all of the above (benchmarks/support/halo_bench_profile.py).

Each sync also records its wall time per page (first and last ten of each phase): a page should cost the
same however many invoices the tenant already holds; a warning is printed when the last invoice pages take
over three times as long as the first. As the tables grow, the engine drops its connection's cached plans
and refreshes the planner's statistics while they know of fewer rows than a tenth of what the run has written
(domain/halosync/engine.py, REPLAN_AFTER_PAGES); the JSON records whether autovacuum runs and how often each
synced table was analyzed.

Targets: ratio = full sync / fetch-only <= 1.5 (at `--halo-latency-ms`, 0 by default: the database work
the sync adds to reading Halo); incremental_ratio = incremental / full <= 0.1; memory_growth = traced peak
(large) / traced peak (small) <= 1.5, i.e. flat: a sync that held the whole data set would grow with the
invoice count. ratio_at_latency has no target. Prints a table and writes benchmarks/results/halopsa_sync.json.
Timings are reported, never asserted; the exit status is non-zero only when a sync did not succeed or
stored the wrong number of records.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.clients import create_tenant
from adapters.db.engine import app_engine
from benchmarks.support import env, report
from benchmarks.support.halo_bench_measure import MIB, Measured
from benchmarks.support.halo_bench_profile import profile_full_sync
from benchmarks.support.halo_bench_report import at, config, print_table, report_run, summarise, warnings
from benchmarks.support.halo_bench_sandbox import fetch_only, halo_sandbox, sandbox_call, sandbox_stats
from benchmarks.support.halo_bench_sync import (
    check_stored,
    check_succeeded,
    database_facts,
    database_version,
    stored,
    sync,
)
from benchmarks.support.servers import ROOT, Served
from domain.halosync.engine import PAGE_SIZE
from domain.halosync.runs import SyncMode

NAME = "halopsa_sync"
QUICK = {"invoices": 2_000, "clients": 100, "small": 500, "latency_check_invoices": 500}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--invoices", type=int, default=50_000, help="invoices in the large sandbox")
    p.add_argument("--clients", type=int, default=2_000, help="clients in each sandbox (one contract each)")
    p.add_argument("--small", type=int, default=10_000, help="invoices in the small sandbox (memory comparison)")
    p.add_argument("--lines", type=int, default=3, help="lines per invoice")
    p.add_argument("--changed", type=float, default=0.01, help="share of invoices changed before the incremental")
    p.add_argument("--page-size", type=int, default=PAGE_SIZE)
    p.add_argument(
        "--halo-latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="delay of the large and small sandboxes before each /api answer (0, the default: at once)",
    )
    p.add_argument(
        "--latency-check-ms",
        type=float,
        default=20.0,
        metavar="MS",
        help="the latency check's delay per Halo request (0: no latency check)",
    )
    p.add_argument(
        "--latency-check-invoices", type=int, default=10_000, metavar="N", help="invoices in the latency check"
    )
    p.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="after the measured phases, one more full sync of the large sandbox sampled by py-spy (PY_SPY or "
        "on PATH): DIR/halopsa_sync.collapsed and DIR/halopsa_sync.summary.txt",
    )
    # run_all passes its extra arguments to every benchmark; those meant for others are ignored here.
    args, unknown = p.parse_known_args(argv)
    if unknown:
        print(f"{NAME}: ignoring arguments for other benchmarks: {' '.join(unknown)}")
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    return args


class Bench:
    """The phases measured so far, the problems found, and the syncs' shared settings."""

    def __init__(self, db: AsyncEngine, page_size: int) -> None:
        self.db, self.page_size = db, page_size
        self.phases: dict[str, Measured] = {}
        self.problems: list[str] = []

    async def full(self, key: str, served: Served, halo: dict[str, Any], traced: bool = False) -> uuid.UUID:
        """A full sync into a new tenant; checks it stored every record `halo` (the sandbox's stats) holds."""
        tenant = await create_tenant(self.db, f"Halo bench {key}")
        m = await sync(self.db, tenant, served, SyncMode.FULL, self.page_size, traced)
        m.extra["stored"] = await stored(self.db, tenant)
        check_succeeded(key, m, self.problems)
        check_stored(key, m.extra["stored"], halo, self.problems)
        self.add(key, m)
        return tenant

    async def fetch_only(self, key: str, served: Served) -> None:
        self.add(key, await fetch_only(served, self.page_size))

    def add(self, key: str, m: Measured) -> None:
        self.phases[key] = m
        report_run(key, m)


async def main_phases(bench: Bench, large: Served, small: Served, args: argparse.Namespace) -> dict[str, Any]:
    """Steps 1 to 6 of the module docstring; returns the large sandbox's stats after the change."""
    halo_large, halo_small = await sandbox_stats(large), await sandbox_stats(small)
    await bench.full("full_small", small, halo_small)
    await bench.fetch_only("fetch_only_1", large)
    tenant = await bench.full("full_large", large, halo_large)
    await bench.fetch_only("fetch_only_2", large)

    changed = max(1, round(args.invoices * args.changed))
    change = await sandbox_call(large, "POST", "/bench/change", count=changed, seed=1)
    print(f"  changed {change['invoices']:,} invoices: {change['edited']:,} due dates, {change['payments']:,} payments")
    m = await sync(bench.db, tenant, large, SyncMode.INCREMENTAL, bench.page_size)
    m.extra["changed"] = change
    m.extra["stored"] = await stored(bench.db, tenant)
    check_succeeded("incremental_large", m, bench.problems)
    bench.add("incremental_large", m)
    if m.extra["counts"]["updated"] + m.extra["counts"]["created"] < change["invoices"]:
        bench.problems.append(f"incremental_large: {m.extra['counts']} after {change['invoices']} invoices changed")

    halo_after = await sandbox_stats(large)
    await bench.full("full_large_traced", large, halo_after, traced=True)
    await bench.full("full_small_traced", small, halo_small, traced=True)
    return halo_after


async def latency_check(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """Step 7: fetch-only, full sync, fetch-only against a sandbox that delays each Halo request."""
    started = time.perf_counter()
    with halo_sandbox(
        "halo-latency", args.clients, args.latency_check_invoices, args.lines, args.latency_check_ms
    ) as s:
        halo = await sandbox_stats(s)
        print(
            f"  latency sandbox seeded and serving in {time.perf_counter() - started:.1f} s: {halo['invoices']:,} "
            f"invoices, each /api request delayed {halo['latency_ms']:g} ms"
        )
        if halo["latency_ms"] != args.latency_check_ms:
            bench.problems.append(f"latency sandbox: delays {halo['latency_ms']} ms, not {args.latency_check_ms}")
        await bench.fetch_only("latency_fetch_only_1", s)
        await bench.full("latency_full", s, halo)
        await bench.fetch_only("latency_fetch_only_2", s)
    return halo


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    sandbox: dict[str, Any] = {}
    with env.servers() as srv:
        async with env.fresh_database(srv, "arbridge_bench") as settings:
            pg_version = await database_version(settings.database_url)
            setup_s = time.perf_counter() - started
            seeding = time.perf_counter()
            latency = args.halo_latency_ms
            db = app_engine(settings, pool_size=2)
            bench = Bench(db, args.page_size)
            try:
                with (
                    halo_sandbox("halo-large", args.clients, args.invoices, args.lines, latency) as large,
                    halo_sandbox("halo-small", args.clients, args.small, args.lines, latency) as small,
                ):
                    sandbox["large"], sandbox["small"] = await sandbox_stats(large), await sandbox_stats(small)
                    print(
                        f"  sandboxes seeded and serving in {time.perf_counter() - seeding:.1f} s (database + "
                        f"migrations {setup_s:.1f} s): large {sandbox['large']['invoices']:,} invoices, "
                        f"{sandbox['large']['payments']:,} payments; small {sandbox['small']['invoices']:,}; "
                        f"{sandbox['large']['clients']:,} clients each; each /api request delayed {latency:g} ms"
                    )
                    halo_after = await main_phases(bench, large, small, args)
                    if args.profile:
                        await profile_full_sync(db, large, args.page_size, args.profile, NAME)
                    sandbox["server_rss_mib"] = {
                        "large": round(halo_after["rss_bytes"] / MIB, 1),
                        "small": round((await sandbox_stats(small))["rss_bytes"] / MIB, 1),
                    }
                if args.latency_check_ms > 0:
                    sandbox["latency"] = await latency_check(bench, args)
            finally:
                await db.dispose()
            await asyncio.sleep(1.5)  # pg_stat_user_tables: backends report their counters within a second
            database = {"version": pg_version, **await database_facts(settings.database_url)}
    summary = summarise(bench.phases, args)
    summary["problems"] = bench.problems
    summary["warnings"] = warnings(bench.phases)
    summary["sandbox"] = sandbox
    summary["database"] = database
    summary["config"] = config(args)
    summary["machine"] = report.machine(pg_version, srv.embedded)
    summary["total_seconds"] = round(time.perf_counter() - started, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check = "no latency check"
    if args.latency_check_ms > 0:
        check = f"latency check: {args.latency_check_invoices:,} invoices{at(args.latency_check_ms)} per request"
    print(
        f"{NAME}: {args.invoices:,} invoices (and {args.small:,} for memory) x {args.lines} lines, "
        f"{args.clients:,} clients; page size {args.page_size}; {args.changed:.0%} changed for the incremental; "
        f"Halo latency {args.halo_latency_ms:g} ms; {check}"
    )
    summary = asyncio.run(run(args))
    print_table(NAME, summary, args, summary["machine"]["cpus"])
    for warning in summary["warnings"]:
        print(f"WARNING: {warning}")
    for problem in summary["problems"]:
        print(f"PROBLEM: {problem}")
    path = report.write(NAME, summary)
    print(f"\nwrote {path.relative_to(ROOT)} in {summary['total_seconds']:.0f} s total")
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
