"""`POST /v1/webhooks/stripe`: Stripe's Connect webhook, verified on the raw body, kept once, answered fast.

The signature is checked by the stripe SDK on the exact bytes received (a re-serialised body would not
verify). The event names the MSP's connected account; its tenant is found from that. A verified event is
stored in the inbox (unique by Stripe's event id: a redelivery is recognised) and handed to a worker
through the outbox in the same transaction; the answer is 200 at once, so Stripe never times out on us.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import stripe
from litestar import Request, Response, post

from adapters.db.payments import tenant_of_stripe_account
from api.rest.problems import Problem
from api.rest.security import services_of
from domain.usecases import stripe_events


class StripeWebhookOut(msgspec.Struct):
    received: bool
    duplicate: bool = False
    ignored: str | None = None


@post(
    "/v1/webhooks/stripe",
    status_code=200,
    security=[{}],
    tags=["webhooks"],
    summary="Stripe's webhook (Connect events), signed with the endpoint's secret",
    include_in_schema=True,
)
async def stripe_webhook(request: Request[Any, Any, Any]) -> Response[StripeWebhookOut]:
    services = services_of(request.app.state)
    stripe_settings = services.settings.vendors.stripe
    secret = stripe_settings.webhook_secret if stripe_settings is not None else None
    if not secret:
        raise Problem(503, "stripe_webhooks_not_configured", "No Stripe webhook secret is configured.")
    body = await request.body()
    try:
        # Raises unless the body is genuine (signed with our secret) and fresh (within Stripe's tolerance).
        stripe.Webhook.construct_event(body.decode("utf-8"), request.headers.get("stripe-signature", ""), secret)
        payload: dict[str, Any] = json.loads(body)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
        # Nothing is stored: a forged, stale or altered delivery is not an event.
        raise Problem(400, "invalid_signature", "The Stripe-Signature header does not match this body.") from None
    account = payload.get("account")
    if not isinstance(account, str) or not account:
        return Response(StripeWebhookOut(True, ignored="not a Connect event"))
    async with services.engine.connect() as conn:
        tenant_id = await tenant_of_stripe_account(conn, account)
    if tenant_id is None:
        return Response(StripeWebhookOut(True, ignored="no tenant has this Stripe account connected"))
    async with services.uow(tenant_id) as uow:
        fresh = await stripe_events.receive(uow, services.clock, payload)
        await uow.commit()
    return Response(StripeWebhookOut(True, duplicate=not fresh))
