"""The vendor sandboxes of `make run`: each on its own loopback port, preconfigured with arbridge's app
registrations and a little data, so a newcomer can click through every connect flow in a browser.

State is in memory: restarting `make run` starts the vendors afresh (connections made before then will
need connecting again, as they would after a vendor-side reset).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.vendor_config import QuickBooksSettings, StripeSettings, VendorSettings, XeroSettings
from sandbox.halopsa import HaloState
from sandbox.halopsa import create_app as halo_app
from sandbox.quickbooks.app import create_app as quickbooks_app
from sandbox.quickbooks.state import QuickBooksState
from sandbox.stripe_sandbox.app import create_app as stripe_app
from sandbox.stripe_sandbox.state import StripeState
from sandbox.xero.app import create_app as xero_app
from sandbox.xero.state import XeroState

QBO_CLIENT = ("arbridge-dev-qbo", "dev-qbo-secret")
XERO_CLIENT = "arbridge-dev-xero"


@dataclass
class DevVendors:
    apps: dict[int, Any]  # port -> ASGI app
    settings: VendorSettings
    notes: list[str] = field(default_factory=list)  # what the banner tells the newcomer
    # What the sandboxes do unasked (Stripe settles ACH debits, pays out, sends its webhooks), run beside them.
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def build_dev_vendors(base_url: str, host: str, first_port: int) -> DevVendors:
    halo_port, qbo_port, xero_port, stripe_port = first_port, first_port + 1, first_port + 2, first_port + 3
    halo = HaloState(tenant="demo-msp")
    halo.seed(clients=25, invoices=200)
    halo_application = halo.add_application(scopes="all", client_id="arbridge-demo", client_secret="halo-demo-secret")

    qbo = QuickBooksState()
    qbo.register_app(
        [f"{base_url}/v1/connections/quickbooks/callback"], client_id=QBO_CLIENT[0], client_secret=QBO_CLIENT[1]
    )
    qbo.add_company("Demo MSP Books")

    xero = XeroState()
    xero.register_app("arbridge", client_id=XERO_CLIENT, pkce=True,
                      redirect_uris=[f"{base_url}/v1/connections/xero/callback"])  # fmt: skip
    xero.add_organisation("Demo MSP Ltd")
    xero.add_organisation("Demo MSP (US) Inc")

    stripe = StripeState()
    stripe.oauth.redirect_uris.append(f"{base_url}/v1/connections/stripe/callback")
    # Stripe's Connect webhook, to arbridge, signed with a secret both sides know.
    stripe.add_webhook_endpoint(f"{base_url}/v1/webhooks/stripe", secret=STRIPE_WEBHOOK_SECRET, connect=True)

    qbo_url, xero_url = f"http://{host}:{qbo_port}", f"http://{host}:{xero_port}"
    stripe_url = f"http://{host}:{stripe_port}"
    settings = VendorSettings(
        quickbooks=QuickBooksSettings(
            QBO_CLIENT[0],
            QBO_CLIENT[1],
            authorize_url=f"{qbo_url}/connect/oauth2",
            token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
            revoke_url=f"{qbo_url}/v2/oauth2/tokens/revoke",
            api_url=f"{qbo_url}/v3",
        ),
        xero=XeroSettings(
            XERO_CLIENT,
            None,
            authorize_url=f"{xero_url}/identity/connect/authorize",
            token_url=f"{xero_url}/connect/token",
            revoke_url=f"{xero_url}/connect/revocation",
            connections_url=f"{xero_url}/connections",
            api_url=f"{xero_url}/api.xro/2.0",
        ),
        stripe=StripeSettings(
            stripe.secret_key,
            stripe.connect_client_id,
            api_url=stripe_url,
            connect_url=stripe_url,
            webhook_secret=STRIPE_WEBHOOK_SECRET,
        ),
    )
    notes = [
        f"HaloPSA sandbox   http://{host}:{halo_port}  (API application: client_id {halo_application.client_id}, "
        f"client_secret {halo_application.client_secret}, tenant demo-msp)",
        f"QuickBooks sandbox {qbo_url}  (company 'Demo MSP Books')",
        f"Xero sandbox       {xero_url}  (organisations 'Demo MSP Ltd', 'Demo MSP (US) Inc')",
        f"Stripe sandbox     {stripe_url}  (arbridge is the Connect platform; consent creates the MSP's account)",
    ]
    apps = {
        halo_port: halo_app(halo),
        qbo_port: quickbooks_app(qbo),
        xero_port: xero_app(xero),
        stripe_port: stripe_app(stripe),
    }
    return DevVendors(apps, settings, notes, background=[lambda: _stripe_pump(stripe)])


STRIPE_WEBHOOK_SECRET = "whsec_arbridge_dev_sandbox"


async def _stripe_pump(state: StripeState, interval: float = 1.0) -> None:
    """Scheduled work (ACH settlement, payouts) and webhook delivery, once a second, as Stripe does unasked."""
    while True:
        state.tick()
        await state.webhooks.flush()
        await asyncio.sleep(interval)
