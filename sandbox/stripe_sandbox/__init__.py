"""A stateful local stand-in for Stripe's `/v1` API, Connect OAuth and webhooks.

    state = StripeState(seed=1)
    app = create_app(state)                  # ASGI, behind sandbox.common's faults and request log
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": url, "connect": url})

See `state.py` for the behaviour switches and `helpers.py` for what tests can do to it.
"""

from sandbox.stripe_sandbox.app import create_app
from sandbox.stripe_sandbox.state import DEFAULT_API_VERSION, StripeState
from sandbox.stripe_sandbox.webhooks import Delivery, WebhookEndpoint, compute_signature, signature_header

__all__ = [
    "DEFAULT_API_VERSION",
    "Delivery",
    "StripeState",
    "WebhookEndpoint",
    "compute_signature",
    "create_app",
    "signature_header",
]
