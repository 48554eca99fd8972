"""Our side of benchmarks/charges.py: autopay's run jobs, run by a real worker in its own process.

    python -m benchmarks.support.charges_jobs OUT.json   # environment: env.app_env(settings) + STRIPE_*

The worker is the production one (`workers.settings.build_worker`, workers/claims.py's ClaimingWorker, on
uvloop as `python -m workers` runs it): its startup (`app_engine` with a pool of 20, the clock, the key ring,
the vendor flows whose `stripe` is the official SDK built from STRIPE_SECRET_KEY and STRIPE_API_URL, here the
sandbox, the run slots), and its tuning (MAX_JOBS 200 at once, POLL_DELAY 0.05 s, QUEUE_READ_LIMIT 400, run
slots RUNS_AT_ONCE x payment_runs.IN_FLIGHT Stripe calls). Only these differ, and why:

- `functions`: `charge_invoices` below, the production job's work (workers.jobs.charge_invoices, which autopay
  will enqueue) with each charge timed;
- `burst=True`: the worker stops once the queue is empty (the benchmark enqueues every job first);
- `run_relay_task=False` and no cron jobs: the outbox rows each charge writes (payment.succeeded,
  invoice.payment_applied, invoice.paid) are written in the charge's transaction, as always, but not relayed
  to handle_event jobs during the run: the benchmark measures charges, not the event handlers after them;
- `keep_result=60`: a job's result is stored (one SET, as in production) but expires in a minute instead of
  a day, so nothing lingers in a shared Redis;
- `on_shutdown`: the CPU times are read before the worker's own shutdown closes the engine (and with it the
  PostgreSQL backends whose CPU time is counted).

Each job is one run (domain/usecases/payment_runs.py) of one tenant's charges, each paying an invoice with the
client's default (saved) card under an idempotency key per invoice: the attempts recorded, the PaymentIntents
created and confirmed off-session on the tenant's connected account, the outcomes recorded, the invoices paid,
and the ledger posted (payment_succeeded, processing_fee). Each charge's time runs from its run's start (once
the run has a slot: its wait in the queue and for a slot is not counted) to the run's end; BENCH_SANDBOX_PID
names the sandbox server and BENCH_DATABASE the database, whose servers' CPU times are read too
(benchmarks/support/charges_timing.py). When the worker stops, OUT.json gets the window from the first run's
start to the last one's end, the latencies, the outcomes, the CPU times, and arq's own counters. With
BENCH_PROFILE=PATH the worker runs under cProfile and its stats go to PATH (`python -m pstats PATH`); its
figures are then slowed by profiling. With BENCH_SAMPLE=PATH py-spy samples the worker's on-CPU stacks instead
(to PATH, and a summary by package, leaf and our functions to PATH.summary.txt): far less distortion than
cProfile, but py-spy's own CPU competes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from arq import func

from adapters.config import Settings
from benchmarks.support.charges_timing import Timings
from benchmarks.support.profile import py_spy, summarise
from domain.payments import Payment
from workers import event_loop
from workers.payments import RUN_JOB_TIMEOUT, charge_run, run_items
from workers.settings import MAX_JOBS, POLL_DELAY, QUEUE_READ_LIMIT, _shutdown, build_worker

JOB = "charge_invoices"


TIMINGS = Timings(
    sandbox_pid=int(os.environ.get("BENCH_SANDBOX_PID") or 0) or None, database=os.environ.get("BENCH_DATABASE")
)


async def charge_invoices(ctx: dict[str, Any], tenant_id: str, charges: list[dict[str, Any]]) -> str:
    """workers.jobs.charge_invoices' work (workers/payments.py run_charges), with each charge timed from its run's
    start, once the run has a slot, to the run's end (its settlement committed): a charge is done only then."""
    items = run_items(charges)
    async with ctx["payment_runs"]:
        started = TIMINGS.started()
        try:
            answers = await charge_run(ctx, uuid.UUID(tenant_id), items)
        except Exception as exc:  # counted and reported: a benchmark with failures is not valid
            for _ in items:
                TIMINGS.ended(started, f"error {type(exc).__name__}", exc)
            return f"error {type(exc).__name__}"
    for answer in answers:
        if isinstance(answer, Payment):
            TIMINGS.ended(started, answer.status.value)
        else:
            TIMINGS.ended(started, f"error {type(answer).__name__}", answer)
    return "done"


async def shutdown(ctx: dict[str, Any]) -> None:
    """The worker's own shutdown, after the run's CPU times are read: it closes the engine's connections, and
    with them the PostgreSQL backends whose CPU time is counted."""
    TIMINGS.finish()
    await _shutdown(ctx)


def start_sampling(path: str | None) -> subprocess.Popen[bytes] | None:
    """py-spy recording this process until stop_sampling (SIGINT makes it write its output)."""
    exe = py_spy() if path else None
    if path and exe is None:
        print("  BENCH_SAMPLE: py-spy not found (set PY_SPY or put it on PATH); not sampling", file=sys.stderr)
    if not path or exe is None:
        return None
    cmd = [exe, "record", "--pid", str(os.getpid()), "--rate", "200", "--nonblocking", "--format", "raw",
           "--output", path]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_sampling(spy: subprocess.Popen[bytes] | None, path: str | None) -> None:
    if spy is None or path is None:
        return
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
    if Path(path).exists():
        Path(f"{path}.summary.txt").write_text(summarise(Path(path), top=40))


def main(argv: list[str]) -> int:
    out = argv[0]
    event_loop.install()  # as `python -m workers` does
    worker = build_worker(
        Settings.from_env(),
        burst=True,
        run_relay_task=False,
        functions=[func(charge_invoices, timeout=RUN_JOB_TIMEOUT)],
        cron_jobs=[],
        keep_result=60,
        on_shutdown=shutdown,
    )
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # cProfile over the whole run: slower figures, but where the worker's CPU time goes
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(worker.run)
        profiler.dump_stats(profile)
    else:
        sample = os.environ.get("BENCH_SAMPLE")
        spy = start_sampling(sample)
        worker.run()
        stop_sampling(spy, sample)
    result = TIMINGS.summary()
    result["arq"] = {
        "jobs_complete": worker.jobs_complete,
        "jobs_failed": worker.jobs_failed,
        "jobs_retried": worker.jobs_retried,
        "max_jobs": MAX_JOBS,
        "poll_delay_s": POLL_DELAY,
        "queue_read_limit": QUEUE_READ_LIMIT,
    }
    with open(out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
