"""The Stripe sandbox for benchmarks/charges.py, served over real HTTP in its own process, and its controls.

Serve with `uvicorn benchmarks.support.charges_sandbox:create_app --factory` (`stripe_sandbox()` does, through
`servers.uvicorn_server`: one process, uvloop, httptools, no access log). Both sides of the benchmark, ours
and the baseline, charge through this one server, so its capacity is shared by the comparison.

The sandbox's rate limiter (sandbox/stripe_sandbox/ratelimit.py) is off by default ("off unless a test
configures it"); the factory switches it off explicitly all the same (`configure(None)`), and `/bench/stats`
reports it. Real Stripe allows 25 operations per second per account in test mode (100 live): against it,
one MSP's charges could never run at the rates measured here.

Besides the sandbox's own routes (`/v1/...` for the official SDK; any sk_test_ key is the platform's) it
answers a few benchmark controls, outside the sandbox's request log:

- `GET /health`: 200 once the state is built;
- `POST /bench/account?name=...`: a connected account ready for charges (`StripeState.seed_account`);
- `GET /bench/stats`: this process's RSS, the request count, the objects held, the rate limit in force, and
  the shapes of the PaymentIntent creations seen (form keys and headers), so the benchmark can check that
  the baseline asks Stripe exactly what our gateway asks.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import httpx
import msgspec

from benchmarks.support.servers import Served, uvicorn_server
from sandbox.common import ASGIApp, Receive, Scope, Send
from sandbox.stripe_sandbox import StripeState
from sandbox.stripe_sandbox import create_app as sandbox_app

SECRET_KEY = "sk_test_arbridge_bench"  # any sk_test_ key acts as the platform's (StripeState.api_keys is empty)
INTENTS = "/v1/payment_intents"
_SHAPE_HEADERS = ("idempotency-key", "stripe-account", "stripe-version")


def _rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def intent_shapes(state: StripeState) -> dict[str, int]:
    """PaymentIntent creations seen, by shape: the sorted form keys, the Stripe headers sent, the status."""
    shapes: Counter[str] = Counter()
    for r in state.controls.log:
        if r.method == "POST" and r.path == INTENTS:
            keys = sorted({k for k, _ in parse_qsl(r.body.decode(), keep_blank_values=True)})
            headers = [h for h in _SHAPE_HEADERS if h in r.headers]
            shapes[f"{r.status} {' '.join(keys)} | {' '.join(headers)}"] += 1
    return dict(shapes)


def stats(state: StripeState) -> dict[str, Any]:
    with state.lock:
        counts: Counter[str] = Counter()
        for part in state.partitions.values():
            for kind in ("customer", "payment_method", "payment_intent", "charge", "balance_transaction", "event"):
                counts[kind] += len(part.table(kind))
        return {
            "rss_bytes": _rss_bytes(),
            "requests_logged": len(state.controls.log),
            "objects": dict(counts),
            "idempotency_keys": len(state.idempotency),
            "rate_limited": bool(state.rate_limits._limits),
            "intent_shapes": intent_shapes(state),
        }


async def _reply(send: Send, status: int, value: Any) -> None:
    body = msgspec.json.encode(value)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> ASGIApp:
    state = StripeState(seed=int(os.environ.get("BENCH_STRIPE_SEED", "7")))
    state.rate_limits.configure(None)  # off: both sides share this server, and no 429 may skew either
    inner = sandbox_app(state)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/health":
            await _reply(send, 200, {"status": "ok"})
        elif path == "/bench/stats":
            await _reply(send, 200, stats(state))
        elif path == "/bench/account" and scope["method"] == "POST":
            query = parse_qs(scope.get("query_string", b"").decode())
            name = query.get("name", ["Bench MSP"])[0]
            await _reply(send, 200, {"account": state.seed_account(name=name)})
        else:
            await inner(scope, receive, send)

    return app


@contextlib.contextmanager
def stripe_sandbox() -> Iterator[Served]:
    with uvicorn_server("stripe-sandbox", "benchmarks.support.charges_sandbox:create_app", dict(os.environ)) as s:
        yield s


async def sandbox_call(served: Served, method: str, path: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as http:
        r = await http.request(method, served.url + path, params=params)
    r.raise_for_status()
    return dict(r.json())
