"""Run the Stripe sandbox as a standalone server (the zero-credential dev run, manual poking):

    python -m sandbox.stripe_sandbox --port 12111 --webhook http://127.0.0.1:8000/v1/webhooks/stripe

It prints each webhook endpoint's signing secret, runs due scheduled work once a second (real time drives
the clock here) and delivers queued webhooks, so an app pointed at it sees events arrive as from Stripe.
OAuth consent is approved automatically unless --consent-page is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

import uvicorn

from sandbox.stripe_sandbox.app import create_app
from sandbox.stripe_sandbox.state import StripeState

log = logging.getLogger("stripe_sandbox")


async def pump(state: StripeState, interval: float) -> None:
    """Scheduled work and webhook delivery, the parts of Stripe that act without being asked."""
    while True:
        state.tick()
        for d in await state.webhooks.flush():
            log.info("webhook %s %s -> %s %s", d.event_type, d.event_id, d.url, d.status or d.error)
        await asyncio.sleep(interval)


async def serve(state: StripeState, host: str, port: int, interval: float) -> None:
    server = uvicorn.Server(uvicorn.Config(create_app(state), host=host, port=port, lifespan="off"))
    task = asyncio.create_task(pump(state, interval))
    try:
        await server.serve()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.stripe_sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111, help="stripe-mock's port, so tooling finds it")
    parser.add_argument("--webhook", action="append", default=[], help="platform webhook endpoint URL")
    parser.add_argument("--connect-webhook", action="append", default=[], help="Connect webhook endpoint URL")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--ach-business-days", type=int, default=0, help="ACH processing period (0: next second)")
    parser.add_argument("--consent-page", action="store_true", help="show the OAuth consent page")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = StripeState(seed=args.seed)
    state.ach_business_days = args.ach_business_days
    state.oauth_auto_approve = not args.consent_page
    for url, connect in [(u, False) for u in args.webhook] + [(u, True) for u in args.connect_webhook]:
        ep = state.add_webhook_endpoint(url, connect=connect)
        log.info("webhook endpoint %s (%s) secret %s", url, "connect" if connect else "account", ep.secret)
    log.info(
        "platform %s, Connect client_id %s; any sk_test_ key is accepted", state.platform_id, state.connect_client_id
    )
    asyncio.run(serve(state, args.host, args.port, args.interval))


if __name__ == "__main__":
    main()
