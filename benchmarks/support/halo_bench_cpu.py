"""CPU time of the benchmark's other processes during a phase: PostgreSQL's backends and the Halo sandbox.

The machine's cores are shared by this process, PostgreSQL and the sandbox, so a phase's wall time depends on
all three. This process's own CPU time is in `Measured.cpu_seconds`; this adds the other two, read from
/proc (Linux, servers on this machine): PostgreSQL's as the backends serving the benchmark's database (their
command line names it; each benchmark run has a database of its own), the sandbox's as its server process.
None when /proc cannot tell (another OS, a remote server). Background processes (WAL writer, checkpointer)
are not counted.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu(pid: str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def postgres_cpu(database: str) -> float | None:
    """Seconds of CPU used so far by the live backends connected to `database` (`postgres: ... <database>`)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    total, seen = 0.0, False
    marker = f" {database} ".encode()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if cmdline.startswith(b"postgres:") and marker in cmdline + b" ":
                total += _cpu(entry.name)
                seen = True
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return total if seen else None


def process_cpu(pid: int) -> float | None:
    try:
        return _cpu(str(pid))
    except OSError:
        return None


class OtherCpu:
    """`with OtherCpu(database, sandbox_pid) as other: ...`, then `other.as_json()`."""

    def __init__(self, database: str | None, sandbox_pid: int) -> None:
        self.database, self.sandbox_pid = database, sandbox_pid
        self.postgres: float | None = None
        self.sandbox: float | None = None

    def __enter__(self) -> OtherCpu:
        self._pg0 = postgres_cpu(self.database) if self.database else None
        self._sb0 = process_cpu(self.sandbox_pid)
        return self

    def __exit__(self, *_: object) -> None:
        pg1 = postgres_cpu(self.database) if self.database else None
        sb1 = process_cpu(self.sandbox_pid)
        # Backends that ended during the phase take their CPU time with them: the pool keeps them open.
        self.postgres = None if pg1 is None else round(pg1 - (self._pg0 or 0.0), 2)
        self.sandbox = None if sb1 is None or self._sb0 is None else round(sb1 - self._sb0, 2)

    def as_json(self) -> dict[str, float | None]:
        return {"postgres_cpu_seconds": self.postgres, "sandbox_cpu_seconds": self.sandbox}
