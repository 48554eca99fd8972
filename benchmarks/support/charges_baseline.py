"""The floor for benchmarks/charges.py: bare stripe-SDK PaymentIntent calls, in a process of their own.

    python -m benchmarks.support.charges_baseline OUT.json < spec.json

The spec holds the sandbox's URL and key, the concurrency (the worker's MAX_JOBS) and the charges as
[account, customer, payment_method, amount]. Each charge is one `client.v1.payment_intents.create_async`
on the official SDK, built by the same `adapters.stripe.client.stripe_client` as ours (httpx, the same
retries and pool), with the very request our StripeGateway sends: confirmed off-session on the connected
account (Stripe-Account), the same metadata keys, the balance transaction expanded for the fee, and an
Idempotency-Key of its own. `concurrency` lanes (coroutines) take the charges in turn from one shared list,
so at most that many calls are in flight, as the worker holds at most MAX_JOBS jobs; no task waits for a turn
(as no job is started before a slot is free), so the harness adds next to nothing. No database, no queue, no
bookkeeping: what is left is the cost of asking Stripe. It runs on uvloop, as our worker does.

Timing is as for our jobs (benchmarks/support/charges_timing.py): each call's own time, and the window from the
first call's start to the last one's end; OUT.json gets the same fields as benchmarks/support/charges_jobs.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import stripe

from adapters.stripe.client import stripe_client
from adapters.vendor_config import StripeSettings
from benchmarks.support.charges_timing import Timings
from workers import event_loop


def intent_params(customer: str, payment_method: str, amount: int) -> dict[str, Any]:
    """What adapters/stripe/gateway.py sends (the sandbox's /bench/stats lets the benchmark check it)."""
    return {
        "amount": amount,
        "currency": "usd",
        "customer": customer,
        "payment_method": payment_method,
        "confirm": True,
        "off_session": True,
        "metadata": {"arbridge_payment_id": str(uuid.uuid4()), "surcharge": "0"},
        "expand": ["latest_charge.balance_transaction"],
    }


async def run(spec: dict[str, Any]) -> Timings:
    client = stripe_client(StripeSettings(spec["key"], api_url=spec["url"], connect_url=spec["url"]))
    timings = Timings(sandbox_pid=spec.get("sandbox_pid"))

    async def one(account: str, customer: str, payment_method: str, amount: int) -> None:
        started = timings.started()
        params: Any = intent_params(customer, payment_method, amount)
        options: Any = {"stripe_account": account, "idempotency_key": f"baseline-{uuid.uuid4()}"}
        try:
            intent = await client.v1.payment_intents.create_async(params=params, options=options)
        except stripe.StripeError as exc:
            timings.ended(started, f"error {type(exc).__name__}", exc)
            return
        timings.ended(started, str(intent.status))

    charges = iter(spec["charges"])

    async def lane() -> None:
        for charge in charges:  # one shared iterator: each lane takes the next charge when it is free
            await one(*charge)

    await asyncio.gather(*(lane() for _ in range(int(spec["concurrency"]))))
    timings.finish()
    return timings


def main(argv: list[str]) -> int:
    spec = json.load(sys.stdin)
    loop = event_loop.install()  # the worker's event loop (workers/event_loop.py): the same on both sides
    try:
        timings = loop.run_until_complete(run(spec))
    finally:
        loop.close()
    with open(argv[0], "w") as f:
        json.dump(timings.summary(), f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
