"""`--profile DIR` of benchmarks/halopsa_sync.py: one more full sync of the large sandbox, sampled by py-spy.

It runs after the measured phases, so sampling never perturbs the reported figures. py-spy is not a project
dependency: it is used when found (PY_SPY=/path/to/py-spy, or on PATH; `pip install py-spy` in any
virtualenv). Writes DIR/halopsa_sync.collapsed (py-spy's raw collapsed stacks: flamegraph.pl or speedscope)
and DIR/halopsa_sync.summary.txt (on-CPU time of this process by package, by leaf function and by our
functions); PostgreSQL's and the sandbox's CPU time in that sync are printed beside it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.clients import create_tenant
from benchmarks.support.halo_bench_sync import sync
from benchmarks.support.profile import py_spy, summarise
from benchmarks.support.servers import Served
from domain.halosync.runs import SyncMode


def _start(exe: str, collapsed: Path) -> subprocess.Popen[bytes]:
    collapsed.parent.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "record", "--pid", str(os.getpid()), "--rate", "250", "--nonblocking", "--format", "raw",
           "--output", str(collapsed)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(spy: subprocess.Popen[bytes], collapsed: Path) -> Path | None:
    """Stop py-spy (it writes what it sampled on SIGINT) and summarise; None when it wrote nothing."""
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
    if not collapsed.exists():
        print(f"  --profile: py-spy wrote nothing: {spy.stderr.read().decode()[-300:] if spy.stderr else ''}")
        return None
    summary = collapsed.with_suffix(".summary.txt")
    summary.write_text(summarise(collapsed))
    return summary


async def profile_full_sync(db: AsyncEngine, served: Served, page_size: int, out_dir: str, name: str) -> None:
    exe = py_spy()
    if exe is None:
        print("  --profile: py-spy not found (set PY_SPY or put it on PATH); skipping")
        return
    collapsed = Path(out_dir) / f"{name}.collapsed"
    spy = _start(exe, collapsed)
    await asyncio.sleep(1.0)  # py-spy attaches before the sync starts
    tenant = await create_tenant(db, "Halo bench profiled")
    m = await sync(db, tenant, served, SyncMode.FULL, page_size)
    summary = _stop(spy, collapsed)
    x = m.extra
    print(
        f"  profiled full sync: {m.seconds:.2f} s, cpu ours {m.cpu_seconds:.2f} s, PostgreSQL "
        f"{x.get('postgres_cpu_seconds')} s, sandbox {x.get('sandbox_cpu_seconds')} s (sampled: slower): {summary}"
    )
