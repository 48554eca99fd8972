"""list_invoices: one tenant's first page of invoices, over REST and GraphQL, beside a raw asyncpg baseline.

    .venv/bin/python -m benchmarks.list_invoices [--duration 10] [--warmup 2] [--concurrency 32]

Seeds 100k invoices (3 lines each) over 10 tenants with 50 clients each, serves our app and the baseline
(benchmarks/support/baseline.py) with uvicorn, checks both answer the same JSON, then drives each with the
load generator in its own process: `GET /v1/invoices?limit=50`, and the GraphQL page with each invoice's
client. Prints a table and writes benchmarks/results/list_invoices.json. Targets: REST >= 0.7 x baseline,
GraphQL >= 0.4 x baseline. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import asyncpg
import httpx

from adapters.auth.clients import create_api_client
from adapters.db.engine import app_engine
from benchmarks.support import env, report, seed
from benchmarks.support.profile import profile_phase
from benchmarks.support.servers import ROOT, Served, uvicorn_server
from benchmarks.support.stats import LATENCY_KEYS, combine, first_difference, ratio
from domain.auth import Scope

NAME = "list_invoices"
TARGETS = {"ratio": 0.7, "graphql_ratio": 0.4}
GRAPHQL_QUERY = "{ invoices(first: 50) { edges { node { id number total { amount currency } client { id name } } } } }"
REST_PATH = "/v1/invoices?limit=50"
PLANS = {  # api -> (method, path, body)
    "rest": ("GET", REST_PATH, ""),
    "graphql": ("POST", "/graphql", json.dumps({"query": GRAPHQL_QUERY})),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--invoices", type=int, default=100_000)
    p.add_argument("--tenants", type=int, default=10)
    p.add_argument("--clients-per-tenant", type=int, default=50)
    p.add_argument("--lines", type=int, default=3, help="lines per invoice")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--warmup", type=float, default=2.0, help="seconds per phase before measuring")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    p.add_argument(
        "--rounds", type=int, default=2, help="rounds per API; the order alternates (ours, base, base, ours)"
    )
    p.add_argument("--profile", metavar="DIR", help="after measuring, py-spy our server under load into DIR")
    return p.parse_args(argv)


def load(served: Served, method: str, path: str, token: str, body: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body:
        headers["Content-Type"] = "application/json"
    spec = {
        "host": "127.0.0.1", "port": served.port, "method": method, "path": path, "headers": headers, "body": body,
        "concurrency": args.concurrency, "warmup": args.warmup, "duration": args.duration, "server_pid": served.pid,
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.support.loadgen"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=args.warmup + args.duration + 30,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def credentials(settings: Any, tenant_id: Any) -> tuple[str, str]:
    engine = app_engine(settings, pool_size=1)
    try:
        creds = await create_api_client(
            engine, tenant_id, "bench", frozenset({Scope.INVOICES_READ.value, Scope.CLIENTS_READ.value})
        )
    finally:
        await engine.dispose()
    return creds.client_id, creds.client_secret


def issue_token(ours: Served, client_id: str, secret: str) -> str:
    r = httpx.post(
        ours.url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def check_same_answers(ours: Served, base: Served, token: str) -> None:
    """The baseline must do the same work: the same JSON, field for field, from both servers.

    When the API's answer changes (a field added, a format changed), this stops the run until
    benchmarks/support/baseline.py is brought level, rather than comparing against a baseline doing less.
    """
    h = {"Authorization": f"Bearer {token}"}
    for method, path, body in (("GET", REST_PATH, None), ("POST", "/graphql", {"query": GRAPHQL_QUERY})):
        a = httpx.request(method, ours.url + path, headers=h, json=body, timeout=30)
        b = httpx.request(method, base.url + path, headers=h, json=body, timeout=30)
        if a.status_code != 200 or b.status_code != 200:
            raise SystemExit(f"{method} {path}: ours {a.status_code}, baseline {b.status_code}\n{a.text[:600]}")
        if "errors" in a.json():
            raise SystemExit(f"{method} {path}: GraphQL errors: {a.text[:600]}")
        if diff := first_difference(a.json(), b.json()):
            raise SystemExit(
                f"{method} {path}: ours (first) and the baseline (second) answer differently at {diff}\n"
                "Bring benchmarks/support/baseline.py level with the API before comparing them."
            )


def measure(ours: Served, base: Served, token: str, args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for api, (method, path, body) in PLANS.items():
        for rnd in range(args.rounds):
            order = [("ours", ours), ("baseline", base)]
            for who, served in order if rnd % 2 == 0 else reversed(order):
                key = f"{api}_{who}"
                print(f"  {key:<18} round {rnd + 1}/{args.rounds} ...", end="", flush=True)
                res = load(served, method, path, token, body, args)
                print(f" {res['rps']:,.1f} req/s, p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms")
                runs.setdefault(key, []).append(res)
    return runs


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    c = {k: combine(v) for k, v in runs.items()}
    rest, gql = (
        ratio(c["rest_ours"]["rps"], c["rest_baseline"]["rps"]),
        ratio(c["graphql_ours"]["rps"], c["graphql_baseline"]["rps"]),
    )

    def cpu(key: str) -> float | None:
        return c[key]["cpu"].get("server_cpu_ms_per_request")

    return {
        "unit": "requests/s",
        "ours": round(c["rest_ours"]["rps"], 1),
        "baseline": round(c["rest_baseline"]["rps"], 1),
        "ratio": rest,
        "graphql_ours": round(c["graphql_ours"]["rps"], 1),
        "graphql_baseline": round(c["graphql_baseline"]["rps"], 1),
        "graphql_ratio": gql,
        "targets": TARGETS,
        "meets_targets": {k: (v or 0) >= TARGETS[k] for k, v in (("ratio", rest), ("graphql_ratio", gql))},
        "latencies": {k: {m: round(v[m], 2) for m in (*LATENCY_KEYS, "max_ms")} for k, v in c.items()},
        # Server CPU time per request: the figure contention on a shared machine disturbs least. Its ratio is
        # baseline / ours, so it reads like the throughput ratio (1.0 = as cheap as the baseline).
        "server_cpu_ms_per_request": {k: cpu(k) for k in c},
        "cpu_ratio": ratio(cpu("rest_baseline"), cpu("rest_ours")),
        "graphql_cpu_ratio": ratio(cpu("graphql_baseline"), cpu("graphql_ours")),
        "errors": {k: {"errors": v["errors"], "unfinished": v["unfinished"]} for k, v in c.items()},
        "combined": c,
        "runs": runs,
    }  # fmt: skip


def print_table(s: dict[str, Any], title: str) -> None:
    def row(label: str, key: str, ratio: float | None = None, target: float | None = None) -> dict[str, Any]:
        c = s["combined"][key]
        errs = sum(c["errors"].values()) + c["unfinished"]
        return {"label": label, "rps": c["rps"], "p50_ms": c["p50_ms"], "p99_ms": c["p99_ms"], "errors": errs,
                "cpu_ms": c["cpu"].get("server_cpu_ms_per_request"), "busy": c["cpu"].get("machine_busy"),
                "ratio": ratio, "target": target}  # fmt: skip

    rows = [
        row("REST ours", "rest_ours", s["ratio"], TARGETS["ratio"]),
        row("REST baseline", "rest_baseline"),
        row("GraphQL ours", "graphql_ours", s["graphql_ratio"], TARGETS["graphql_ratio"]),
        row("GraphQL baseline", "graphql_baseline"),
    ]
    print()
    print(report.table(title, rows))
    print(
        f"server CPU per request, baseline/ours: REST {s['cpu_ratio']}, GraphQL {s['graphql_cpu_ratio']} "
        "(less disturbed by other load on the machine than req/s)"
    )


async def prepare(srv: env.Servers, settings: Any, args: argparse.Namespace) -> tuple[seed.Seeded, str]:
    seeded = await seed.seed(settings.database_url, args.tenants, args.invoices, args.clients_per_tenant, args.lines)
    conn = await asyncpg.connect(settings.database_url)
    try:
        version = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    return seeded, version


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with env.servers() as srv:
        async with env.fresh_database(srv, "arbridge_bench") as settings:
            setup_s = time.perf_counter() - started
            seeded, pg_version = await prepare(srv, settings, args)
            print(
                f"  seeded {seeded.invoices:,} invoices, {seeded.lines:,} lines, {seeded.clients} clients over "
                f"{len(seeded.tenant_ids)} tenants in {seeded.seconds:.1f} s (servers + migrations {setup_s:.1f} s)"
            )
            runs = await serve_and_measure(settings, seeded.tenant_ids[0], args)
    summary = summarise(runs)
    summary["config"] = config(seeded, args)
    summary["machine"] = report.machine(pg_version, srv.embedded)
    summary["total_seconds"] = round(time.perf_counter() - started, 1)
    return summary


async def serve_and_measure(settings: Any, tenant: Any, args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    client_id, secret = await credentials(settings, tenant)
    app_env = env.app_env(settings)
    with uvicorn_server("ours", "api.app:create_app", app_env) as ours:
        token = issue_token(ours, client_id, secret)
        base_env = {
            **app_env,
            "BENCH_APP_DATABASE_URL": settings.app_database_url,
            "BENCH_TOKEN": token,
            "BENCH_TENANT_ID": str(tenant),
            "BENCH_POOL_SIZE": str(settings.db_pool_size),
        }
        with uvicorn_server("baseline", "benchmarks.support.baseline:create_app", base_env) as base:
            check_same_answers(ours, base, token)
            runs = measure(ours, base, token, args)
            if args.profile:
                profile_phase(args.profile, ours, lambda m, p, b: load(ours, m, p, token, b, args), PLANS)
    return runs


def config(seeded: seed.Seeded, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "dataset": {
            "invoices": seeded.invoices,
            "lines": seeded.lines,
            "tenants": len(seeded.tenant_ids),
            "clients": seeded.clients,
            "seed_seconds": round(seeded.seconds, 2),
        },
        "load": {
            "concurrency": args.concurrency,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "generator": "benchmarks/support/loadgen.py: its own process, HTTP/1.1 keep-alive, closed loop",
        },
        "server": "uvicorn, 1 worker, uvloop, httptools, no access log; app pool 10 + 10 overflow, baseline 10..20",
        "rest_request": f"GET {REST_PATH}",
        "graphql_request": f"POST /graphql {GRAPHQL_QUERY}",
        "baseline": "bare Litestar routes on an asyncpg pool as the app role. Per request: BEGIN, set_config, the "
        "repository's selects (invoices, lines; GraphQL adds the loader's clients select, all in one transaction "
        "where ours uses two), ROLLBACK; rows -> dicts -> msgspec JSON. Checked to answer the same JSON as ours.",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"{NAME}: {args.invoices:,} invoices x {args.lines} lines over {args.tenants} tenants; {args.concurrency} "
        f"connections, {args.rounds} x ({args.warmup:g} s warm-up + {args.duration:g} s) per server and API"
    )
    summary = asyncio.run(run(args))
    title = (
        f"{NAME}: one tenant's first page (50 of {args.invoices // args.tenants:,}); "
        f"{args.concurrency} connections; {summary['machine']['cpus']} CPUs"
    )
    print_table(summary, title)
    path = report.write(NAME, summary)
    print(f"\nwrote {path.relative_to(ROOT)} in {summary['total_seconds']:.0f} s total")
    return 0 if healthy(summary) else 1


def healthy(summary: dict[str, Any]) -> bool:
    """Figures are only worth comparing when every server answered: no phase may fail more than 1% of requests."""
    ok = True
    for key, c in summary["combined"].items():
        failed = sum(c["errors"].values()) + c["unfinished"]
        if c["requests"] == 0 or failed > 0.01 * (c["requests"] + failed):
            print(f"{key}: {c['requests']} answered, {failed} failed ({c['errors']}): these figures are not valid")
            ok = False
    return ok


if __name__ == "__main__":
    sys.exit(main())
