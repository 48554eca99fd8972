"""A stateful local stand-in for the HaloPSA REST API (auth server + `/api` resource server).

    state = HaloState(tenant="acme")
    app = state.add_application("read:invoices edit:invoices read:customers")
    async with asgi_client(state) as http:
        token = (await http.post("/auth/token", data={...})).json()["access_token"]

See providers.md §1 and §5 for the behaviour reproduced; [U] comments mark where Halo is silent and we chose.
"""

from sandbox.halopsa.app import asgi_client, bearer_client, create_app
from sandbox.halopsa.core import ApiApplication, HaloLimits, IssuedToken
from sandbox.halopsa.invoices import PAID, PARTIALLY_PAID, UNPAID
from sandbox.halopsa.state import HaloState
from sandbox.halopsa.webhooks import EVENTS, Delivery, WebhookConfig

__all__ = [
    "EVENTS",
    "PAID",
    "PARTIALLY_PAID",
    "UNPAID",
    "ApiApplication",
    "Delivery",
    "HaloLimits",
    "HaloState",
    "IssuedToken",
    "WebhookConfig",
    "asgi_client",
    "bearer_client",
    "create_app",
]
