"""Payment work in the worker: acting on Stripe's webhook events (the API only verified and kept them), and runs
of off-session charges (autopay's unit of work)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from adapters.db.driver_uow import DriverUnitOfWork
from adapters.stripe.gateway import StripeGateway
from domain.auth import Principal, Scope
from domain.payments import Allocation, Payment, PayRequest
from domain.usecases import payment_runs, stripe_events

log = logging.getLogger("arbridge.payments")
RUN_SCOPES = frozenset({Scope.PAYMENTS_WRITE.value})


def payments_units_of_work(ctx: dict[str, Any], tenant_id: uuid.UUID) -> Callable[[], DriverUnitOfWork]:
    """The worker's payments units of work: SqlUnitOfWork's, each transaction begun on the driver in one round
    trip (adapters/db/driver_uow.py). A payment is two short transactions around a Stripe call, so the round
    trip saved is a large share of its database time."""
    return lambda: DriverUnitOfWork(ctx["engine"], tenant_id, ctx["ring"])


async def stripe_event_received(ctx: dict[str, Any], tenant_id: uuid.UUID, data: dict[str, Any]) -> None:
    client = ctx["vendor_flows"].stripe
    if client is None:
        log.warning("a Stripe event for tenant %s, but Stripe is not configured here", tenant_id)
        return
    did = await stripe_events.act(
        payments_units_of_work(ctx, tenant_id), StripeGateway(client), ctx["clock"], uuid.UUID(data["inbox_id"])
    )
    log.info("stripe event %s for tenant %s: %s", data.get("stripe_event_id"), tenant_id, did)


# Runs charging invoices at once in one worker; each asks Stripe for up to payment_runs.IN_FLIGHT charges at a
# time, so a worker holds at most RUNS_AT_ONCE x IN_FLIGHT Stripe calls. Run jobs enqueued under run_job_id
# are claimed no more than RUNS_AT_ONCE at a time (the worker's lane, workers/claims.py), so waiting runs never
# take the job slots other jobs need; a run job enqueued under another id waits for a run slot inside its job.
RUNS_AT_ONCE = 3
RUN_JOB_PREFIX = "payment-run:"
RUN_JOB_TIMEOUT = 1800


def run_job_id(first_request_key: str) -> str:
    """The arq job id of a charge_invoices run, from its first charge's request key (a re-enqueued run is the
    same job, which arq keeps from running twice)."""
    return RUN_JOB_PREFIX + first_request_key


def run_items(charges: list[dict[str, Any]]) -> list[payment_runs.RunItem]:
    """A run job's charges: {"client_id", "currency", "request_key", "invoices": [[invoice_id, amount], ...]},
    each paid with the client's default method. Raises ValueError (or KeyError) for a malformed run."""
    items = [
        payment_runs.RunItem(
            PayRequest(
                uuid.UUID(c["client_id"]),
                [Allocation(uuid.UUID(invoice_id), int(amount)) for invoice_id, amount in c["invoices"]],
                str(c["currency"]),
                None,
            ),
            str(c["request_key"]),
        )
        for c in charges
    ]
    if len({i.request_key for i in items}) != len(items):
        raise ValueError("a run's request keys must be unique")
    return items


async def run_charges(ctx: dict[str, Any], tenant_id: uuid.UUID, items: list[payment_runs.RunItem]) -> dict[str, int]:
    """One run of off-session charges for one tenant, once one of the worker's run slots is free. Returns how
    many payments ended in each status, and how many requests were refused or left pending."""
    async with ctx["payment_runs"]:
        answers = await charge_run(ctx, tenant_id, items)
    counts: dict[str, int] = {}
    for answer in answers:
        key = answer.status.value if isinstance(answer, Payment) else type(answer).__name__
        counts[key] = counts.get(key, 0) + 1
    log.info("payment run for tenant %s: %s", tenant_id, counts)
    return counts


async def charge_run(
    ctx: dict[str, Any], tenant_id: uuid.UUID, items: list[payment_runs.RunItem]
) -> list[payment_runs.Answer]:
    """domain/usecases/payment_runs.py's pay_many on the worker's units of work and Stripe client."""
    client = ctx["vendor_flows"].stripe
    if client is None:
        raise RuntimeError("Stripe is not configured here: no charges can be made")
    principal = Principal(tenant_id, "autopay", RUN_SCOPES)
    uows = payments_units_of_work(ctx, tenant_id)
    return await payment_runs.pay_many(uows, StripeGateway(client), principal, ctx["clock"], items)


def run_slots() -> asyncio.Semaphore:
    """The worker's run slots (made at startup, shared by its jobs)."""
    return asyncio.Semaphore(RUNS_AT_ONCE)
