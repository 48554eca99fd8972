"""Vendor settings: arbridge's app registrations and the vendors' URLs.

Every URL is a setting, so the same code talks to the real vendors in production and to the sandbox
stand-ins in tests and `make run`. A vendor whose app registration is missing is simply not offered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class QuickBooksSettings:
    client_id: str
    client_secret: str
    authorize_url: str = "https://appcenter.intuit.com/connect/oauth2"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    revoke_url: str = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    api_url: str = "https://quickbooks.api.intuit.com/v3"
    scopes: tuple[str, ...] = ("com.intuit.quickbooks.accounting",)
    minor_version: int = 75


@dataclass(frozen=True)
class XeroSettings:
    client_id: str
    client_secret: str | None  # None: a PKCE app
    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    token_url: str = "https://identity.xero.com/connect/token"
    revoke_url: str = "https://identity.xero.com/connect/revocation"
    connections_url: str = "https://api.xero.com/connections"
    api_url: str = "https://api.xero.com/api.xro/2.0"
    scopes: tuple[str, ...] = (
        "openid",
        "offline_access",
        "accounting.invoices",
        "accounting.payments",
        "accounting.banktransactions",
        "accounting.contacts",
        "accounting.settings.read",
    )


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str  # the platform's key; calls for an MSP carry its account in Stripe-Account
    connect_client_id: str | None = None  # ca_...: enables the Connect OAuth flow for standard accounts
    api_url: str = "https://api.stripe.com"
    connect_url: str = "https://connect.stripe.com"
    # whsec_...: the signing secret of the Connect webhook endpoint at <ARBRIDGE_BASE_URL>/v1/webhooks/stripe
    webhook_secret: str | None = None


@dataclass(frozen=True)
class VendorSettings:
    quickbooks: QuickBooksSettings | None = None
    xero: XeroSettings | None = None
    stripe: StripeSettings | None = None

    @staticmethod
    def from_env() -> VendorSettings:
        qbo = xero = stripe = None
        if (cid := _env("QUICKBOOKS_CLIENT_ID")) and (secret := _env("QUICKBOOKS_CLIENT_SECRET")):
            qbo = QuickBooksSettings(
                cid,
                secret,
                authorize_url=_env("QUICKBOOKS_AUTHORIZE_URL", QuickBooksSettings.authorize_url) or "",
                token_url=_env("QUICKBOOKS_TOKEN_URL", QuickBooksSettings.token_url) or "",
                revoke_url=_env("QUICKBOOKS_REVOKE_URL", QuickBooksSettings.revoke_url) or "",
                api_url=_env("QUICKBOOKS_API_URL", QuickBooksSettings.api_url) or "",
            )
        if cid := _env("XERO_CLIENT_ID"):
            xero = XeroSettings(
                cid,
                _env("XERO_CLIENT_SECRET"),
                authorize_url=_env("XERO_AUTHORIZE_URL", XeroSettings.authorize_url) or "",
                token_url=_env("XERO_TOKEN_URL", XeroSettings.token_url) or "",
                revoke_url=_env("XERO_REVOKE_URL", XeroSettings.revoke_url) or "",
                connections_url=_env("XERO_CONNECTIONS_URL", XeroSettings.connections_url) or "",
                api_url=_env("XERO_API_URL", XeroSettings.api_url) or "",
            )
        if key := _env("STRIPE_SECRET_KEY"):
            stripe = StripeSettings(
                key,
                _env("STRIPE_CONNECT_CLIENT_ID"),
                api_url=_env("STRIPE_API_URL", StripeSettings.api_url) or "",
                connect_url=_env("STRIPE_CONNECT_URL", StripeSettings.connect_url) or "",
                webhook_secret=_env("STRIPE_WEBHOOK_SECRET"),
            )
        return VendorSettings(qbo, xero, stripe)
