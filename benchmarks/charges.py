"""charges: off-session card charges through the worker against the Stripe sandbox, beside bare SDK calls.

    .venv/bin/python -m benchmarks.charges [--charges 10000] [--tenants 10] [--quick] [--sample PATH]

1. A fresh database (migrated), and the Stripe sandbox served over real HTTP by uvicorn in its own process
   (benchmarks/support/charges_sandbox.py; its rate limiter off, as by default).
2. Seeding through the use cases (benchmarks/support/charges_seed.py): `--tenants` tenants with Stripe
   connected (a connected account each), `--clients-per-tenant` clients with a card saved through the
   SetupIntent flow, and `--charges` open invoices, each with its invoice_issued posting.
3. The baseline, in its own process (benchmarks/support/charges_baseline.py): one bare stripe-SDK
   PaymentIntent creation per invoice (the same customer, card, amount and account, confirmed off-session,
   the same request our gateway sends), no database; once per `--baseline-concurrency` (calls in flight:
   10, 50 and the worker's MAX_JOBS, 200, by default).
4. Ours: the invoices as autopay's runs, `--run-size` (50) charges of one tenant to a `charge_invoices` arq job,
   then a production worker (`workers.settings.build_worker`, on uvloop as `python -m workers`, in burst mode)
   runs them in its own process (benchmarks/support/charges_jobs.py): each run is
   domain/usecases/payment_runs.py's `pay_many`: every attempt recorded in one transaction, each PaymentIntent
   created with its attempt's idempotency key (a run 8 at a time, 3 runs at once), every outcome recorded,
   invoice paid and ledger posting written in one more.
5. Checks: every charge succeeded on every side; every invoice is paid; one payment_succeeded and one
   processing_fee posting per charge; stored ledger balances equal the entries' sums; the baseline's
   requests have the same shape (form keys, Stripe headers) as ours.

CPU per charge is reported per process: the worker's (ours) or the SDK client's (baseline), the PostgreSQL
backends serving the worker's database, and the sandbox's. On a machine of few cores they compete for the same
CPUs, so the worker's CPU alone does not bound our throughput: PostgreSQL's counts as much.

Throughput is charges per second over each side's window (first charge's start to last charge's end); ledger
postings per second count the ledger transactions our run wrote over the same window. Latencies are each
charge's own time, queue wait excluded: for ours, from its run's start (once the run has a slot) to the run's
end, since a charge is recorded only when its run settles; so "in flight" counts the charges of the runs in
progress. `ratio` = ours / the fastest baseline's charges per second, target >= 0.5; `ratio_at_max_jobs` = ours
/ the baseline at MAX_JOBS calls in flight, reported without a target.

Why several baselines: the bare SDK does not get faster with more calls in flight, it gets much slower. Its
httpx client's connection pool (httpcore; 100 connections, 20 kept alive, the SDK's defaults) spends CPU
per request that grows with the connections and queued requests (encode/httpcore#1035), so 200 calls in
flight cost several times the client CPU per charge of 10. The worker never has that many Stripe calls in
flight (3 runs of 8 at most), so a baseline held at 200 would flatter us. The fastest of the runs is the floor
we compare against. Both sides run on uvloop, as the worker does in production.

The charges go to the tenants in turn, and so do the runs (each holds one tenant's charges). The ledger keeps
each account's balance under a row lock held to commit, so one tenant's postings (its AR and clearing accounts)
are serialised; a run writes all of its postings in one statement. Prints a table and writes
benchmarks/results/charges.json. Timings are reported, never asserted; the exit status is non-zero when a check
fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from adapters.db.engine import app_engine
from adapters.queue.arq_queue import connect
from benchmarks.support import env, report
from benchmarks.support.charges_jobs import JOB
from benchmarks.support.charges_report import POSTING_KINDS, TARGETS, check, print_table, ratio_of, shapes_delta, side
from benchmarks.support.charges_sandbox import SECRET_KEY, sandbox_call, stripe_sandbox
from benchmarks.support.charges_seed import Charge, Seeded, counts, seed
from benchmarks.support.servers import ROOT, Served
from domain.usecases.payment_runs import IN_FLIGHT
from workers.payments import RUNS_AT_ONCE, run_job_id
from workers.settings import MAX_JOBS, POLL_DELAY

NAME = "charges"
RUN_SIZE = 50  # autopay's runs: a tenant's due invoices, this many to a job
QUICK = {"charges": 300}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--charges", type=int, default=10_000, help="invoices charged, by each side")
    p.add_argument("--tenants", type=int, default=10, help="tenants the charges are spread over")
    p.add_argument(
        "--run-size", type=int, default=RUN_SIZE, help="charges per run job (one tenant's each; default: %(default)s)"
    )
    p.add_argument("--clients-per-tenant", type=int, default=100, help="clients (one saved card each) per tenant")
    p.add_argument(
        "--baseline-concurrency",
        default=f"10,50,{MAX_JOBS}",
        metavar="N,N,...",
        help="the baseline's calls in flight, one run each; `ratio` is against the fastest (default: %(default)s)",
    )
    p.add_argument(
        "--profile", metavar="PATH", help="run our worker under cProfile, stats to PATH (slows ours: not for figures)"
    )
    p.add_argument(
        "--sample",
        metavar="PATH",
        help="sample our worker with py-spy (PY_SPY=/path/to/py-spy, or on PATH): collapsed stacks to PATH and "
        "a summary to PATH.summary.txt (py-spy takes CPU too: not for figures)",
    )
    p.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    # run_all passes its extra arguments to every benchmark; those meant for others are ignored here.
    args, unknown = p.parse_known_args(argv)
    if unknown:
        print(f"{NAME}: ignoring arguments for other benchmarks: {' '.join(unknown)}")
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    args.profile = str(Path(args.profile).resolve()) if args.profile else None
    args.sample = str(Path(args.sample).resolve()) if args.sample else None
    args.baseline_concurrency = [int(c) for c in str(args.baseline_concurrency).split(",") if c.strip()]
    return args


async def run_module(module: str, out_dir: Path, env_vars: dict[str, str], stdin: bytes, limit_s: float) -> Any:
    """`python -m module OUT.json` in its own process; returns what it wrote to OUT.json."""
    out = out_dir / f"{module.rsplit('.', 1)[-1]}.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, str(out), cwd=ROOT, env={**env_vars, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.wait_for(proc.communicate(stdin), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SystemExit(f"{module} did not finish within {limit_s:.0f} s") from None
    if proc.returncode != 0:
        raise SystemExit(f"{module} exited with {proc.returncode}")
    return json.loads(out.read_text())


def timeout_for(charges: int) -> float:
    return 120 + charges / 10  # ten charges a second at the very least


async def baseline(sandbox: Served, charges: list[Charge], concurrency: int, out_dir: Path) -> Any:
    spec = {
        "url": sandbox.url, "key": SECRET_KEY, "concurrency": concurrency, "sandbox_pid": sandbox.pid,
        "charges": [c.baseline_args() for c in charges],
    }  # fmt: skip
    return await run_module(
        "benchmarks.support.charges_baseline", out_dir, dict(os.environ), json.dumps(spec).encode(),
        timeout_for(len(charges)),
    )  # fmt: skip


def runs_of(charges: list[Charge], size: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """The charges as autopay's runs: each tenant's in the seeded order, `size` to a run; the runs of the tenants
    in turn, as the charges are."""
    per_tenant: dict[uuid.UUID, list[Charge]] = {}
    for c in charges:
        per_tenant.setdefault(c.tenant_id, []).append(c)
    chunks = [[cs[i : i + size] for i in range(0, len(cs), size)] for cs in per_tenant.values()]
    runs = []
    for turn in range(max((len(c) for c in chunks), default=0)):
        for tenant_chunks in chunks:
            if turn < len(tenant_chunks):
                run = tenant_chunks[turn]
                runs.append((str(run[0].tenant_id), [c.run_charge() for c in run]))
    return runs


async def enqueue(settings: Any, charges: list[Charge], run_size: int) -> tuple[float, int]:
    """One charge_invoices job per run; returns the seconds taken and the number of runs."""
    started = time.perf_counter()
    runs = runs_of(charges, run_size)
    redis = await connect(settings.redis_url)
    try:
        for i in range(0, len(runs), 200):
            batch = runs[i : i + 200]
            jobs = await asyncio.gather(*(
                redis.enqueue_job(JOB, tenant, run, _job_id=run_job_id(run[0]["request_key"]),
                                  _queue_name=settings.queue_name)
                for tenant, run in batch
            ))  # fmt: skip
            if any(j is None for j in jobs):
                raise SystemExit("a run job was already queued: the queue is not this run's own")
    finally:
        await redis.aclose()
    return time.perf_counter() - started, len(runs)


async def ours(settings: Any, sandbox: Served, charges: list[Charge], out_dir: Path, args: argparse.Namespace) -> Any:
    worker_env = {
        **env.app_env(settings),
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_API_URL": sandbox.url,
        "STRIPE_CONNECT_URL": sandbox.url,
        "BENCH_SANDBOX_PID": str(sandbox.pid),
        "BENCH_DATABASE": settings.database_url.rsplit("/", 1)[-1].split("?", 1)[0],
        **({"BENCH_PROFILE": args.profile} if args.profile else {}),
        **({"BENCH_SAMPLE": args.sample} if args.sample else {}),
    }
    return await run_module("benchmarks.support.charges_jobs", out_dir, worker_env, b"", timeout_for(len(charges)))


async def database_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def measure(settings: Any, sandbox: Served, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    engine = app_engine(settings, pool_size=20)
    try:
        seeded: Seeded = await seed(
            engine, settings.database_url, sandbox, args.charges, args.tenants, args.clients_per_tenant
        )
        print(
            f"  seeded {len(seeded.tenants)} tenants, {seeded.clients:,} clients with a saved card in "
            f"{seeded.seconds['tenants_and_cards']:.1f} s; {len(seeded.charges):,} invoices in "
            f"{seeded.seconds['invoices']:.1f} s"
        )
        before = await counts(engine, seeded.tenants)
        s0 = await sandbox_call(sandbox, "GET", "/bench/stats")
        baselines: dict[int, dict[str, Any]] = {}
        for conc in args.baseline_concurrency:
            print(f"  baseline: {len(seeded.charges):,} bare SDK calls, {conc} in flight ...", flush=True)
            b = baselines[conc] = side(await baseline(sandbox, seeded.charges, conc, out_dir), len(seeded.charges))
            print(f"    {b['charges_per_s']:,.1f} charges/s, p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms")
        s1 = await sandbox_call(sandbox, "GET", "/bench/stats")
        enqueue_s, runs = await enqueue(settings, seeded.charges, args.run_size)
        print(
            f"  ours: {len(seeded.charges):,} charges in {runs:,} run jobs enqueued in {enqueue_s:.1f} s; "
            "the worker runs them ...",
            flush=True,
        )
        us = side(await ours(settings, sandbox, seeded.charges, out_dir, args), len(seeded.charges))
        print(f"    {us['charges_per_s']:,.1f} charges/s, p50 {us['p50_ms']} ms, p99 {us['p99_ms']} ms")
        s2 = await sandbox_call(sandbox, "GET", "/bench/stats")
        after = await counts(engine, seeded.tenants)
    finally:
        await engine.dispose()
    shapes = {
        "baseline": shapes_delta(s1["intent_shapes"], s0["intent_shapes"]),
        "ours": shapes_delta(s2["intent_shapes"], s1["intent_shapes"]),
    }
    n = len(seeded.charges)
    postings = sum(
        after["ledger_transactions"].get(k, 0) - before["ledger_transactions"].get(k, 0) for k in POSTING_KINDS
    )
    entries = after["ledger_entries"] - before["ledger_entries"]
    us["ledger_postings"] = postings
    us["ledger_postings_per_s"] = round(postings / us["seconds"], 1)
    us["ledger_entries"] = entries
    us["ledger_entries_per_s"] = round(entries / us["seconds"], 1)
    best = max(baselines, key=lambda c: baselines[c]["charges_per_s"])
    base = baselines[best]
    return {
        "unit": "charges/s",
        "ours": us["charges_per_s"],
        "baseline": base["charges_per_s"],
        "ratio": ratio_of(us, base),
        "targets": TARGETS,
        "baseline_concurrency": best,
        "ledger_postings_per_s": us["ledger_postings_per_s"],
        # ours / the baseline holding as many calls in flight as the worker may hold jobs (MAX_JOBS): no target,
        # since the bare SDK at that concurrency is slowed by its own HTTP pool (see the module docstring).
        "ratio_at_max_jobs": ratio_of(us, baselines[MAX_JOBS]) if MAX_JOBS in baselines else None,
        # The client process's CPU time per charge, baseline / ours (1.0: our worker spends no more than the bare
        # SDK). Less disturbed by other load than charges/s; PostgreSQL's own CPU time is not in it.
        "worker_cpu_ratio": (
            round(base["process_cpu_ms_per_charge"] / us["process_cpu_ms_per_charge"], 3)
            if base["process_cpu_ms_per_charge"] and us["process_cpu_ms_per_charge"]
            else None
        ),
        "sides": {"ours": us, "baseline": base},
        "baselines": {str(c): v for c, v in baselines.items()},
        "problems": check(n, {str(c): v for c, v in baselines.items()}, us, before, after, shapes),
        "database_after": {k: v for k, v in after.items() if k != "problems"},
        "sandbox": {
            "requests_logged": s2["requests_logged"],
            "objects": s2["objects"],
            "rss_mib": round(s2["rss_bytes"] / 2**20, 1),
            "rate_limited": s2["rate_limited"],
            "intent_shapes": shapes,
        },
        "setup_seconds": {**{k: round(v, 2) for k, v in seeded.seconds.items()}, "enqueue": round(enqueue_s, 2)},
        "dataset": {"tenants": len(seeded.tenants), "clients": seeded.clients, "charges": n},
    }


def config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "charges": args.charges,
        "tenants": args.tenants,
        "clients_per_tenant": args.clients_per_tenant,
        "run_size": args.run_size,
        "worker": f"workers.settings.build_worker in its own process on uvloop: max_jobs {MAX_JOBS}, poll_delay "
        f"{POLL_DELAY} s, engine pool 20, {RUNS_AT_ONCE} runs at once x {IN_FLIGHT} Stripe calls each; burst, "
        "no relay, no cron, keep_result 60 s; job charge_invoices -> payment_runs.pay_many()",
        "baseline": "its own process: stripe_client(...).v1.payment_intents.create_async, the gateway's params, "
        f"{args.baseline_concurrency} in flight (coroutine lanes over one list; one run each), no database",
        "sandbox": "sandbox.stripe_sandbox in one uvicorn process (uvloop, httptools), rate limiter off; shared",
        "order": "seed, baseline, then ours (the sandbox holds the baseline's objects while ours runs)",
        "profiled": bool(args.profile or args.sample),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with env.servers() as srv:
        async with env.fresh_database(srv, "arbridge_bench") as settings:
            pg_version = await database_version(settings.database_url)
            print(f"  database and migrations ready in {time.perf_counter() - started:.1f} s")
            with stripe_sandbox() as sandbox, tempfile.TemporaryDirectory(prefix="arbridge-charges-") as tmp:
                summary = await measure(settings, sandbox, args, Path(tmp))
    summary["meets_targets"] = {k: (summary[k] or 0) >= v for k, v in TARGETS.items()}
    summary["config"] = config(args)
    summary["machine"] = report.machine(pg_version, srv.embedded)
    summary["total_seconds"] = round(time.perf_counter() - started, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"{NAME}: {args.charges:,} off-session card charges over {args.tenants} tenants "
        f"({args.clients_per_tenant} clients each at most), ours through an arq worker (max_jobs {MAX_JOBS}) "
        f"vs bare SDK calls ({', '.join(map(str, args.baseline_concurrency))} in flight), one Stripe sandbox"
    )
    summary = asyncio.run(run(args))
    title = (
        f"{NAME}: {summary['dataset']['charges']:,} charges, {summary['dataset']['tenants']} tenants; "
        f"{summary['machine']['cpus']} CPUs"
    )
    print_table(summary, title)
    for problem in summary["problems"]:
        print(f"PROBLEM: {problem}")
    path = report.write(NAME, summary)
    print(f"\nwrote {path.relative_to(ROOT)} in {summary['total_seconds']:.0f} s total")
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
