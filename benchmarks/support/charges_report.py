"""The results of benchmarks/charges.py: each side's figures, the checks, and the printed table."""

from __future__ import annotations

import statistics
from typing import Any

TARGETS = {"ratio": 0.5}
POSTING_KINDS = ("payment_succeeded", "processing_fee")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def side(raw: dict[str, Any], expected: int) -> dict[str, Any]:
    """One side's figures from what its process wrote (benchmarks/support/charges_timing.py).

    `mean_in_flight` is Little's law: the charges' summed own times over the window, i.e. how many were in
    progress at once on average (at most the worker's MAX_JOBS, or the baseline's lanes)."""
    lat = sorted(raw.pop("latencies_s"))
    done = sum(raw["outcomes"].values())
    ok = raw["outcomes"].get("succeeded", 0)
    seconds = raw["seconds"] or float("nan")
    sandbox_cpu = raw.get("sandbox_cpu_seconds")
    pg_cpu = raw.get("postgres_cpu_seconds")
    span = raw.get("span_seconds") or seconds
    return {
        "charges": done,
        "succeeded": ok,
        "failed": expected - ok,
        "seconds": round(seconds, 3),
        "charges_per_s": round(ok / seconds, 1),
        "mean_in_flight": round(sum(lat) / seconds, 1),
        "p50_ms": round(1000 * percentile(lat, 0.50), 1),
        "p90_ms": round(1000 * percentile(lat, 0.90), 1),
        "p99_ms": round(1000 * percentile(lat, 0.99), 1),
        "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else None,
        "max_ms": round(1000 * lat[-1], 1) if lat else None,
        "process_cpu_ms_per_charge": round(1000 * raw["cpu_seconds"] / done, 2) if done else None,
        "process_cpu_share": round(raw["cpu_seconds"] / seconds, 2),
        "sandbox_cpu_ms_per_charge": round(1000 * sandbox_cpu / done, 2) if sandbox_cpu is not None and done else None,
        "sandbox_cpu_share": round(sandbox_cpu / span, 2) if sandbox_cpu is not None else None,
        "machine_busy": round(raw["machine_busy"], 3) if raw.get("machine_busy") is not None else None,
        **({"postgres_cpu_ms_per_charge": round(1000 * pg_cpu / done, 2)} if pg_cpu is not None and done else {}),
        "outcomes": raw["outcomes"],
        "errors": raw["errors"],
        **({"arq": raw["arq"]} if "arq" in raw else {}),
    }


def shapes_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def check(
    n: int, baselines: dict[str, dict[str, Any]], us: dict[str, Any], before: dict[str, Any], after: dict[str, Any],
    shapes: dict[str, dict[str, int]],
) -> list[str]:  # fmt: skip
    """Figures are only worth comparing when both sides did the whole work, and the same work."""
    problems = list(after["problems"])
    runs = [(f"baseline @{c}", s) for c, s in baselines.items()] + [("ours", us)]
    for label, s in runs:
        if s["succeeded"] != n:
            problems.append(f"{label}: {s['succeeded']} of {n} charges succeeded: {s['outcomes']} {s['errors'][:3]}")
    if after["payments"].get("succeeded", 0) != n:
        problems.append(f"ours: payments by status {after['payments']}, expected {n} succeeded")
    if after["invoices"].get("paid", 0) != n:
        problems.append(f"ours: invoices by status {after['invoices']}, expected {n} paid")
    for kind in POSTING_KINDS:
        made = after["ledger_transactions"].get(kind, 0) - before["ledger_transactions"].get(kind, 0)
        if made != n:
            problems.append(f"ours: {made} {kind} ledger transactions, expected {n}")
    if set(shapes["baseline"]) != set(shapes["ours"]):
        problems.append(f"the baseline's PaymentIntent requests differ from ours: {shapes}")
    return problems


def _f(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(summary: dict[str, Any], title: str) -> None:
    head = (f"{'':<14}{'charges/s':>10}{'postings/s':>11}{'in flight':>10}{'p50 ms':>8}{'p99 ms':>8}{'failed':>7}"
            f"{'cpu ms':>8}{'pg ms':>7}{'sbx ms':>8}{'busy':>6}{'ratio':>7}{'target':>9}")  # fmt: skip
    out = [title, head, "-" * (len(head) + 6)]
    ours = summary["sides"]["ours"]
    rows = [("ours", ours, None)]
    rows += [(f"bare SDK @{c}", s, c) for c, s in summary["baselines"].items()]
    for label, s, conc in rows:
        r = ratio_of(ours, s) if conc is not None else None
        best = conc is not None and conc == str(summary["baseline_concurrency"])
        target = TARGETS["ratio"] if best else None
        verdict = "" if not best or r is None else ("  ok" if r >= TARGETS["ratio"] else "  MISS")
        busy = s["machine_busy"]
        busy_pct = _f(busy * 100 if busy is not None else None, ".0f") + "%"
        out.append(
            f"{label:<14}{_f(s['charges_per_s'], ',.1f'):>10}{_f(s.get('ledger_postings_per_s'), ',.1f'):>11}"
            f"{_f(s['mean_in_flight'], '.1f'):>10}{_f(s['p50_ms'], '.1f'):>8}{_f(s['p99_ms'], '.1f'):>8}"
            f"{s['failed']:>7}{_f(s['process_cpu_ms_per_charge'], '.2f'):>8}"
            f"{_f(s.get('postgres_cpu_ms_per_charge'), '.2f'):>7}{_f(s['sandbox_cpu_ms_per_charge'], '.2f'):>8}"
            f"{busy_pct:>6}"
            f"{_f(r, '.2f') if r is not None else '':>7}{('>= ' + format(target, '.2f')) if target else '':>9}{verdict}"
        )
    out += [
        "ratio: ours / that baseline; `ratio` (with its target) is against the fastest baseline. in flight: charges in",
        "progress at once, on average. cpu ms: the worker's (ours) or the SDK client's (baseline) CPU time per charge;",
        "pg ms: the PostgreSQL backends serving our worker; sbx ms: the Stripe sandbox server's; busy: the whole",
        "machine's CPU use (all cores, other processes too); p50/p99: each charge's own time, queue wait excluded.",
        "CPU per charge, fastest baseline / ours (the worker's, PostgreSQL's not counted): "
        f"{summary['worker_cpu_ratio']}",
    ]
    print()
    print("\n".join(out))


def ratio_of(ours: dict[str, Any], base: dict[str, Any]) -> float | None:
    b = base["charges_per_s"]
    return round(ours["charges_per_s"] / b, 3) if b else None
