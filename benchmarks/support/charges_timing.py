"""Timing one side of benchmarks/charges.py (our worker, or the bare SDK baseline) from inside its process.

Each charge's own time is kept (from its start, not from its wait in a queue or for a semaphore, to its end),
with its outcome. The window runs from the first charge's start to the last one's end; this process's CPU
time is read at both (time.process_time: a cheap call, made at each charge's end). The sandbox server's CPU
time and the machine's busy time (/proc) are read at the first start and once more when the run is over
(`finish`), a few milliseconds after the last end, so their shares are of that slightly longer span.
With `database`, the CPU time of the PostgreSQL backends serving that database (found by their process titles,
so only on the machine the benchmark runs on) is read at the same two points: on a machine of few cores what
PostgreSQL spends per charge competes with the worker as much as the worker's own CPU does.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.support.loadgen import TICKS, cpu_snapshot


def postgres_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving `database`, by pid (empty off Linux)."""
    if not database:
        return {}
    wanted = f" {database} ".encode()
    found: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                title = f.read()
            if not title.startswith(b"postgres: ") or wanted not in title:
                continue
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(stat[11]) + int(stat[12])) / TICKS
        except (OSError, ValueError, IndexError):
            continue
    return found


@dataclass
class Timings:
    sandbox_pid: int | None = None
    database: str | None = None
    first_start: float | None = None
    last_end: float = 0.0
    cpu_at_first: float = 0.0
    cpu_at_last: float = 0.0
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _snap_first: tuple[float, float, float, float] | None = None
    _snap_done: tuple[float, float, float, float] | None = None
    _done_at: float = 0.0
    _pg_first: dict[int, float] = field(default_factory=dict)
    _pg_done: dict[int, float] = field(default_factory=dict)

    def started(self) -> float:
        now = time.perf_counter()
        if self.first_start is None:
            self.first_start, self.cpu_at_first = now, time.process_time()
            self._snap_first = cpu_snapshot(self.sandbox_pid)
            self._pg_first = postgres_cpu(self.database)
        return now

    def ended(self, started: float, outcome: str, error: BaseException | None = None) -> None:
        self.last_end = time.perf_counter()
        self.cpu_at_last = time.process_time()
        self.latencies.append(self.last_end - started)
        self.outcomes[outcome] += 1
        if error is not None and len(self.errors) < 10:
            self.errors.append(f"{type(error).__name__}: {error}")

    def finish(self) -> None:
        self._snap_done, self._done_at = cpu_snapshot(self.sandbox_pid), time.perf_counter()
        self._pg_done = postgres_cpu(self.database)

    def summary(self) -> dict[str, Any]:
        window = self.last_end - self.first_start if self.first_start is not None else 0.0
        out: dict[str, Any] = {
            "seconds": window,
            "cpu_seconds": self.cpu_at_last - self.cpu_at_first,
            "latencies_s": self.latencies,
            "outcomes": dict(self.outcomes),
            "errors": self.errors,
        }
        a, b = self._snap_first, self._snap_done
        if a is not None and b is not None and self.first_start is not None:
            span = self._done_at - self.first_start
            out["sandbox_cpu_seconds"] = b[0] - a[0] if self.sandbox_pid else None
            out["span_seconds"] = span
            out["machine_busy"] = (b[1] - a[1]) / (b[2] - a[2]) if b[2] > a[2] else None
        if self.database:  # backends started within the window count from zero
            out["postgres_cpu_seconds"] = sum(t - self._pg_first.get(pid, 0.0) for pid, t in self._pg_done.items())
        return out
