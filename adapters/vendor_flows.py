"""Builds each vendor's connection flow from settings, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import stripe

from adapters.config import Settings
from adapters.halopsa.auth import HaloCredentialsFlow
from adapters.http.limiter import LimiterRegistry
from adapters.quickbooks.oauth import QuickBooksFlow
from adapters.stripe.client import stripe_client
from adapters.stripe.connect import StripeConnectFlow
from adapters.xero.oauth import XeroFlow
from domain.connections import Provider
from domain.ports import Clock
from domain.usecases.connections import CredentialsFlow, OAuthFlow

# Generous but bounded: a vendor that hangs must not hold a worker or a request forever.
VENDOR_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class VendorFlows:
    """One HTTP client for all vendor calls, and each vendor's flow."""

    http: httpx.AsyncClient
    oauth: dict[Provider, OAuthFlow]  # vendors configured for the consent redirect
    halopsa: CredentialsFlow
    allow_http_urls: bool = False  # development only: the sandboxes listen on plain http
    stripe: stripe.StripeClient | None = None  # the platform's client (payments on connected accounts)
    # One per process, so every API client of a vendor tenant draws from the same allowance.
    limiters: LimiterRegistry = field(default_factory=LimiterRegistry)

    def for_provider(self, provider: Provider) -> OAuthFlow | CredentialsFlow | None:
        return self.halopsa if provider is Provider.HALOPSA else self.oauth.get(provider)


def build_vendor_flows(
    settings: Settings, clock: Clock, transport: httpx.AsyncBaseTransport | None = None
) -> VendorFlows:
    """`transport` lets tests route vendor calls to in-process sandboxes."""
    http = httpx.AsyncClient(timeout=VENDOR_TIMEOUT, transport=transport, follow_redirects=False)
    oauth: dict[Provider, OAuthFlow] = {}
    if (qbo := settings.vendors.quickbooks) is not None:
        app, endpoints = QuickBooksFlow.app_and_endpoints(qbo)
        oauth[Provider.QUICKBOOKS] = QuickBooksFlow(app, endpoints, http, clock)
    if (xero := settings.vendors.xero) is not None:
        oauth[Provider.XERO] = XeroFlow(xero, http, clock)
    stripe_settings = settings.vendors.stripe
    if stripe_settings is not None and stripe_settings.connect_client_id:
        oauth[Provider.STRIPE] = StripeConnectFlow(stripe_settings, http, clock)
    # Payments go through the official SDK (its retries and idempotency keys are Stripe's documented behaviour).
    sdk = stripe_client(stripe_settings, transport) if stripe_settings is not None else None
    return VendorFlows(http, oauth, HaloCredentialsFlow(http, clock), settings.allow_http_vendor_urls, stripe=sdk)
