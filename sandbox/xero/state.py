"""Everything one Xero sandbox knows, in one object per instance: apps, the signed-in user, organisations
and their books, tokens and connections, rate-limit windows, webhook subscriptions, the clock (on
`controls`) and the random source (`seed` makes ids, webhook entropy and probe order reproducible; bearer
and refresh tokens always come from `secrets`).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx

from sandbox.common import SandboxControls

from . import seeding
from .consent import AutoConsent
from .formats import truncate_ms
from .limits import RateLimiter, XeroLimits
from .models import Account, Contact, Invoice, Organisation
from .oauth import IDENTITY_SCOPES, Grant, IdentityStore, OAuthApp, XeroUser, issue_tokens, new_refresh_token
from .webhooks import Delivery, WebhookSubscription, deliver, new_key

DEFAULT_SCOPES = frozenset({
    "accounting.transactions", "accounting.transactions.read", "accounting.contacts", "accounting.contacts.read",
    "accounting.settings", "accounting.settings.read", "accounting.invoices", "accounting.invoices.read",
    "accounting.payments", "accounting.payments.read", "accounting.banktransactions",
    "accounting.banktransactions.read",
})  # fmt: skip
CONNECT_SCOPES = ("openid", "profile", "email", "offline_access", "accounting.transactions", "accounting.contacts",
                  "accounting.settings")  # fmt: skip


@dataclass
class XeroConfig:
    limits: XeroLimits = field(default_factory=XeroLimits)
    access_token_ttl: int = 1800  # seconds [V]
    refresh_token_ttl: timedelta = timedelta(days=60)  # unused refresh tokens expire [V providers.md]
    refresh_grace: timedelta = timedelta(minutes=30)  # the previous refresh token stays usable [V]
    code_ttl: int = 300  # authorization codes [S]
    idempotency_ttl: timedelta = timedelta(hours=24)  # [U]
    default_page_size: int = 100  # [V spec "up to 100"]
    max_page_size: int = 1000  # [S]
    latency: float = 0.0  # simulated service time per accounting call, seconds
    webhook_batch_size: int = 50  # events per delivery [U]
    webhook_timeout: float = 5.0  # the receiver's budget [V]


class XeroState:
    def __init__(
        self, config: XeroConfig | None = None, *, controls: SandboxControls | None = None, seed: int | None = None,
        user: XeroUser | None = None,
    ) -> None:  # fmt: skip
        self.config = config or XeroConfig()
        self.controls = controls or SandboxControls()
        self.rng = random.Random(seed)  # noqa: S311 - ids and probe order, never secrets
        self.identity = IdentityStore(signing_key=secrets.token_bytes(32))
        self.user = user or XeroUser(self.new_id(), "owner@example.com", "Sandbox", "Owner")
        self.orgs: dict[UUID, Organisation] = {}
        self.limiter = RateLimiter(self.config.limits)
        self.webhook_subscriptions: dict[str, WebhookSubscription] = {}

    # -- time and randomness ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return truncate_ms(self.controls.clock.now())

    def new_id(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)

    # -- organisations and books ---------------------------------------------------------------------------
    def add_organisation(
        self, name: str = "Demo Company (US)", currency: str = "USD", *, chart: bool = True
    ) -> Organisation:
        org = Organisation(self.new_id(), name, currency, self.now())
        self.orgs[org.tenant_id] = org
        for code, account_name, kind, extra in seeding.DEFAULT_CHART if chart else ():
            seeding.add_account(self, org, code, account_name, kind, **extra)
        return org

    def add_account(self, org: Organisation, code: str, name: str, kind: str, **extra: Any) -> Account:
        return seeding.add_account(self, org, code, name, kind, **extra)

    def add_contact(self, org: Organisation, name: str, **extra: Any) -> Contact:
        return seeding.add_contact(self, org, name, **extra)

    def add_invoice(
        self, org: Organisation, contact: Contact, amount: Decimal | str | None = None, **kw: Any
    ) -> Invoice:
        return seeding.add_invoice(self, org, contact, amount, **kw)

    def add_payment(self, org: Organisation, invoice: Invoice, amount: Decimal | str, **kw: Any) -> dict[str, Any]:
        return seeding.add_payment(self, org, invoice, amount, **kw)

    def seed_invoices(self, org: Organisation, count: int, **kw: Any) -> list[Invoice]:
        return seeding.seed_invoices(self, org, count, **kw)

    # -- apps, consent and tokens ----------------------------------------------------------------------------
    def register_app(
        self, name: str = "arbridge", *, client_id: str | None = None, client_secret: str | None = None,
        pkce: bool = False, redirect_uris: Iterable[str] = ("https://app.example.com/xero/callback",),
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> OAuthApp:  # fmt: skip
        """A confidential app gets a secret (generated unless given); a PKCE app has none."""
        secret = None if pkce else (client_secret or self.token(36))
        app = OAuthApp(client_id or self.new_id().hex.upper(), secret, tuple(redirect_uris), frozenset(scopes), name)
        self.identity.apps[app.client_id] = app
        return app

    def auto_consent(self, *, allow: bool = True, tenants: Iterable[Organisation] | None = None) -> None:
        """Answer the consent page without showing it: the authorize GET redirects at once."""
        chosen = None if tenants is None else tuple(o.tenant_id for o in tenants)
        self.identity.auto = AutoConsent(allow, chosen)

    def show_consent_page(self) -> None:
        self.identity.auto = None

    def connect(
        self, app: OAuthApp, orgs: Iterable[Organisation] | None = None, scopes: Iterable[str] = CONNECT_SCOPES
    ) -> dict[str, Any]:
        """A completed consent without the browser round trip: connections plus a token response."""
        wanted = tuple(scopes)
        grant = Grant(app.client_id, self.user.user_id, wanted, self.new_id())
        if any(s not in IDENTITY_SCOPES for s in wanted):
            for org in self.orgs.values() if orgs is None else orgs:
                self.identity.connect(grant, org.tenant_id, self.now(), self.new_id())
        return issue_tokens(self, grant, new_refresh_token(self, grant))

    # -- webhooks -----------------------------------------------------------------------------------------
    def subscribe_webhooks(
        self, app: OAuthApp, url: str, *, key: str | None = None, categories: Iterable[str] = ("INVOICE", "CONTACT")
    ) -> WebhookSubscription:
        sub = WebhookSubscription(app.client_id, url, key or new_key(self.rng), frozenset(categories))
        self.webhook_subscriptions[app.client_id] = sub
        return sub

    async def deliver_webhooks(self, http: httpx.AsyncClient) -> list[Delivery]:
        """One delivery attempt per subscription with queued events."""
        sent = [await deliver(self, sub, http) for sub in list(self.webhook_subscriptions.values())]
        return [d for d in sent if d is not None]
