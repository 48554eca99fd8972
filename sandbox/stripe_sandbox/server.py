"""Serve the sandbox over real HTTP on a free loopback port, in a background thread: what tests and
benchmarks use to point the official `stripe` SDK (or anything else that speaks HTTP) at it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import stripe
import uvicorn

from sandbox.common import ASGIApp


@contextlib.contextmanager
def serve(app: ASGIApp, *, host: str = "127.0.0.1", startup_timeout: float = 10.0) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:<port>); stops the server on exit."""
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="stripe-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def stripe_client(base: str, api_key: str = "sk_test_sandbox", *, client_id: str | None = None) -> stripe.StripeClient:
    """The official SDK pointed at a served sandbox (both the API and the Connect OAuth host)."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": base, "connect": base},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
        client_id=client_id,
    )
