"""Combining the load generator's per-phase results, and comparing two servers' JSON answers."""

from __future__ import annotations

from typing import Any

LATENCY_KEYS = ("p50_ms", "p90_ms", "p99_ms", "mean_ms")


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Across rounds of one target: mean throughput, mean of each round's latency percentiles, summed errors."""
    n = len(results)
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    cpu_keys = {k for r in results for k in r.get("cpu", {})}
    cpu = {}
    for k in sorted(cpu_keys):
        vals = [r["cpu"][k] for r in results if r.get("cpu", {}).get(k) is not None]
        cpu[k] = round(sum(vals) / len(vals), 3) if vals else None
    return {
        "rps": sum(r["rps"] for r in results) / n,
        **{k: sum(r[k] for r in results) / n for k in LATENCY_KEYS},
        "max_ms": max(r["max_ms"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "errors": errors,
        "unfinished": sum(r["unfinished"] for r in results),
        "mean_body_bytes": sum(r["mean_body_bytes"] for r in results) / n,
        "cpu": cpu,
    }


def ratio(ours: float | None, baseline: float | None) -> float | None:
    return round(ours / baseline, 3) if ours is not None and baseline else None


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two decoded JSON documents first differ (dict key order ignored), or None when equal."""
    if type(a) is not type(b):
        return f"{path}: {a!r} vs {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in the {'first' if k in a else 'second'}"
            if d := first_difference(a[k], b[k], f"{path}.{k}"):
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if d := first_difference(x, y, f"{path}[{i}]"):
                return d
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"
