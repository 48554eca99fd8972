"""The official stripe SDK, pointed at the configured Stripe (or the sandbox), on its httpx client."""

from __future__ import annotations

import httpx
import stripe

from adapters.vendor_config import StripeSettings


def stripe_client(settings: StripeSettings, transport: httpx.AsyncBaseTransport | None = None) -> stripe.StripeClient:
    """Async calls (`*_async`) go through httpx. With `transport` (tests), those calls reach in-process
    sandboxes: the SDK builds its own AsyncClient, which we replace with one on that transport."""
    http_client = stripe.HTTPXClient(timeout=30)
    if transport is not None:
        http_client._client_async = httpx.AsyncClient(transport=transport)
    return stripe.StripeClient(
        settings.secret_key,
        base_addresses={"api": settings.api_url, "connect": settings.connect_url},
        http_client=http_client,
        max_network_retries=2,  # the SDK retries only what is safe (it adds idempotency keys to POSTs)
    )
