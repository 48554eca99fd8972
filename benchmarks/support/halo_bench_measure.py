"""Measuring one phase of benchmarks/halopsa_sync.py: wall time, this process's CPU time and memory.

`measuring()` times its block and samples this process's resident set from a thread; with `traced=True` it
also runs tracemalloc over the block and records the peak of the memory allocated in it and alive at once.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    # os.open/os.read rather than pathlib: sampled from a thread during traced runs, it must allocate next to
    # nothing (pathlib interns path parts, and a resize of the interned-strings table showed up as the sync's).
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            return int(os.read(fd, 128).split()[1]) * _PAGE
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 0


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class RssSampler:
    """This process's resident set, sampled every 10 ms from a thread: its peak above the value at start."""

    def __init__(self) -> None:
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


@dataclass
class Measured:
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process only: the sandbox server and PostgreSQL are other processes
    rss_growth: int = 0  # peak RSS during the phase minus RSS at its start (see the note in the results)
    maxrss_after: int = 0  # the process's RSS high-water mark after the phase
    traced_peak: int | None = None  # tracemalloc: peak bytes allocated by the phase and alive at once
    extra: dict[str, Any] = field(default_factory=dict)  # what the phase adds: pages, counts, status...

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "rss_growth_mib": round(self.rss_growth / MIB, 2),
            "maxrss_after_mib": round(self.maxrss_after / MIB, 1),
            "traced_peak_mib": None if self.traced_peak is None else round(self.traced_peak / MIB, 2),
            **self.extra,
        }


@contextlib.asynccontextmanager
async def measuring(traced: bool = False) -> AsyncIterator[Measured]:
    m = Measured()
    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
    cpu, started = time.process_time(), time.perf_counter()
    try:
        with RssSampler() as rss:
            yield m
    finally:
        m.seconds = time.perf_counter() - started
        m.cpu_seconds = time.process_time() - cpu
        m.rss_growth, m.maxrss_after = rss.peak - rss.start, _maxrss()
        if traced:
            m.traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def mean_ms(values: list[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0
