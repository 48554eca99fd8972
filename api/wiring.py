"""Builds the vendor side of the app from settings (part of the composition root, with api/app.py)."""

from __future__ import annotations

import httpx

from adapters.config import Settings
from adapters.halopsa.auth import HaloCredentialsFlow
from adapters.quickbooks.oauth import QuickBooksFlow
from adapters.xero.oauth import XeroFlow
from api.services import SystemClock, Vendors
from domain.connections import Provider
from domain.usecases.connections import OAuthFlow

# Generous but bounded: a vendor that hangs must not hold a worker or a request forever.
VENDOR_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def build_vendors(settings: Settings, clock: SystemClock, transport: httpx.AsyncBaseTransport | None = None) -> Vendors:
    """`transport` lets tests and the dev runner route vendor calls to in-process sandboxes."""
    http = httpx.AsyncClient(timeout=VENDOR_TIMEOUT, transport=transport, follow_redirects=False)
    oauth: dict[Provider, OAuthFlow] = {}
    if (qbo := settings.vendors.quickbooks) is not None:
        app, endpoints = QuickBooksFlow.app_and_endpoints(qbo)
        oauth[Provider.QUICKBOOKS] = QuickBooksFlow(app, endpoints, http, clock)
    if (xero := settings.vendors.xero) is not None:
        oauth[Provider.XERO] = XeroFlow(xero, http, clock)
    return Vendors(
        http=http,
        oauth=oauth,
        halopsa=HaloCredentialsFlow(http, clock),
        allow_http_urls=settings.allow_http_vendor_urls,
    )
