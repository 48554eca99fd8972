"""The HaloPSA sandbox for benchmarks/halopsa_sync.py, seeded and served over real HTTP in its own process.

Serve with `uvicorn benchmarks.support.halo_server:create_app --factory` (`servers.uvicorn_server` does):
the factory seeds a fresh `HaloState` from BENCH_HALO_CLIENTS, BENCH_HALO_INVOICES, BENCH_HALO_LINES and
BENCH_HALO_SEED before the server answers, so the sandbox's records live in this process and never in the
benchmark's (whose memory is what is measured).

BENCH_HALO_LATENCY_MS (default 0) delays every `/api/...` request by that many milliseconds (asyncio.sleep,
so concurrent requests wait side by side) before the sandbox serves it: a stand-in for real Halo, which is
remote and rate-limited. The token endpoint and the benchmark controls below are never delayed.

Besides the sandbox's own routes (`/auth/token`, `/api/...`) it answers a few benchmark controls, outside the
sandbox's request log and fault injection:

- `GET /health`: 200 once seeded, with the record counts;
- `POST /bench/token`: a bearer token for a new API application with scope "all" (skips the OAuth form);
- `POST /bench/change?count=N&seed=S`: what an MSP does in Halo's UI to N random invoices, through the
  sandbox's own MSP helpers (`HaloState.edit_invoice`, `HaloState.record_payment`): every fifth one that
  still has an amount due gets a part payment, the others a due date a week later. Both bump
  `last_modified`, as Halo does;
- `GET /bench/stats`: this process's RSS, the number of requests the sandbox logged, the record counts and
  the latency in force.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from sandbox.common import ASGIApp, Receive, Scope, Send
from sandbox.halopsa import HaloState
from sandbox.halopsa.app import create_app as sandbox_app
from sandbox.halopsa.fields import money

HALO_TENANT = "acme"


def _rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def seeded_state() -> HaloState:
    state = HaloState(tenant=HALO_TENANT)
    state.seed(
        clients=int(os.environ.get("BENCH_HALO_CLIENTS", "100")),
        invoices=int(os.environ.get("BENCH_HALO_INVOICES", "1000")),
        lines_per_invoice=int(os.environ.get("BENCH_HALO_LINES", "3")),
        seed=int(os.environ.get("BENCH_HALO_SEED", "0")),
    )
    return state


def change_invoices(state: HaloState, count: int, seed: int) -> dict[str, int]:
    """Edit `count` distinct random invoices as an MSP would; see the module docstring."""
    rng = random.Random(seed)
    ids = rng.sample(sorted(state.invoices.rows), min(count, len(state.invoices.rows)))
    edited = paid = 0
    for n, invoice_id in enumerate(ids):
        row = state.invoices.rows[invoice_id]
        due = float(row.get("amountdue") or 0.0)
        if n % 5 == 0 and due >= 0.02 and not row.get("voided"):
            state.record_payment(invoice_id, money(due / 2))
            paid += 1
        else:
            current = datetime.fromisoformat(str(row["duedate"]).replace("Z", "+00:00"))
            state.edit_invoice(invoice_id, duedate=current + timedelta(days=7))
            edited += 1
    return {"invoices": len(ids), "edited": edited, "payments": paid}


def latency_seconds() -> float:
    """BENCH_HALO_LATENCY_MS as seconds; a negative value counts as 0."""
    return max(0.0, float(os.environ.get("BENCH_HALO_LATENCY_MS", "0") or 0)) / 1000


def _stats(state: HaloState, latency: float) -> dict[str, Any]:
    return {
        "latency_ms": round(latency * 1000, 3),
        "rss_bytes": _rss_bytes(),
        "requests_logged": len(state.controls.log),
        "clients": len(state.clients),
        "contracts": len(state.contracts),
        "invoices": len(state.invoices),
        "payments": len(state.payments),
    }


async def _reply(send: Send, status: int, value: Any) -> None:
    body = msgspec.json.encode(value)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> ASGIApp:
    state = seeded_state()
    latency = latency_seconds()
    inner = sandbox_app(state)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/health" or path == "/bench/stats":
            await _reply(send, 200, _stats(state, latency))
        elif path == "/bench/token" and scope["method"] == "POST":
            await _reply(send, 200, {"token": state.issue_token(state.add_application("all")).token})
        elif path == "/bench/change" and scope["method"] == "POST":
            query = dict(
                part.split("=", 1) for part in scope.get("query_string", b"").decode().split("&") if "=" in part
            )
            await _reply(send, 200, change_invoices(state, int(query.get("count", "0")), int(query.get("seed", "0"))))
        else:
            if latency and (path == "/api" or path.startswith("/api/")):
                await asyncio.sleep(latency)
            await inner(scope, receive, send)

    return app
