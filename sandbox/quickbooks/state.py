"""Everything one QuickBooks Online sandbox instance knows, and the handles tests hold.

    state = QuickBooksState()
    app = state.register_app(redirect_uris=["https://app.test/callback"])
    company = state.add_company()                 # chart of accounts, terms, an item
    acme = company.add_customer("Acme Ltd", "ap@acme.test")
    company.add_invoice(acme["Id"], 250, doc_number="INV-1")
    tokens = state.connect(app.client_id, company.realm_id)   # skip the browser
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url="https://qbo.test")

No module-level mutable state: two instances never share anything. Time always comes from
`state.controls.clock`; limits are on `state.limits` and may be changed at any point.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx

from sandbox.common import Fault, SandboxControls
from sandbox.quickbooks import errors, seed, webhooks
from sandbox.quickbooks.store import ChangeEvent, Company
from sandbox.quickbooks.throttle import Throttle
from sandbox.quickbooks.tokens import ACCOUNTING_SCOPE, OAuthApp, TokenSet, TokenStore


@dataclass
class Limits:
    """Knobs, with Intuit's numbers as defaults; [U] marks a choice the docs do not settle."""

    per_minute: int | None = 500  # requests per realm per sliding minute (Q-LIM)
    concurrent: int | None = 10  # requests in flight per realm (2016 blog)
    per_second: int | None = None  # Q-LIM also cites 10/s per realm+app; off unless a test wants it
    processing_delay: float = 0.0  # seconds each API request holds its slot (makes concurrency testable)
    throttle_body: str = "xml"  # 429 body: "xml" as observed in the wild even for JSON clients [S], or "json"
    max_results: int = 1000
    default_max_results: int = 100
    cdc_lookback_days: int = 30
    cdc_max_objects: int = 1000
    min_minorversion: int = 75
    minorversion_policy: str = "reject"  # "reject" below the minimum [U]; "ignore" = Intuit since 2025-08
    require_minorversion: bool = True  # Intuit defaults a missing one; the sandbox insists by default [U]
    requestid_max_length: int = 50
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 100 * 86400
    refresh_token_max_age: int = 5 * 365 * 86400
    code_ttl: int = 300  # [U]
    refresh_grace_seconds: int = 0  # how long a rotated-out refresh token keeps working [U]
    refresh_rotate_after_seconds: int = 0  # 0: a new refresh token on every refresh [U]
    token_auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")  # Q-DISC


class QuickBooksState:
    def __init__(
        self,
        controls: SandboxControls | None = None,
        limits: Limits | None = None,
        verifier_token: str | None = None,
        timezone: str = "America/Los_Angeles",
    ) -> None:
        self.controls = controls or SandboxControls()
        self.limits = limits or Limits()
        self.webhook_verifier_token = verifier_token or secrets.token_hex(16)
        self.timezone = ZoneInfo(timezone)
        self.companies: dict[str, Company] = {}
        self.tokens = TokenStore(self.limits)
        self.throttle = Throttle(self.limits)
        # (realm, requestid) -> (status, content type, body, headers) of the first answer
        self.replays: dict[tuple[str, str], tuple[int, str, bytes, dict[str, str]]] = {}
        self._realm_numbers = itertools.count(9341450000000001)

    # -- registrations and companies --------------------------------------------------------------------

    def register_app(
        self, redirect_uris: list[str], client_id: str | None = None, client_secret: str | None = None
    ) -> OAuthApp:
        app = OAuthApp(
            client_id or "AB" + secrets.token_hex(20), client_secret or secrets.token_hex(20), list(redirect_uris)
        )
        self.tokens.apps[app.client_id] = app
        return app

    def add_company(self, name: str | None = None, realm_id: str | None = None, seed_chart: bool = True) -> Company:
        realm = realm_id or str(next(self._realm_numbers))
        company = Company(realm, name or f"Sandbox Company_US_{len(self.companies) + 1}", self.timezone,
                          self.controls.clock)  # fmt: skip
        self.companies[realm] = company
        if seed_chart:
            seed.chart_of_accounts(company)
        return company

    def company(self, realm_id: str) -> Company:
        return self.companies[realm_id]

    # -- OAuth without a browser ------------------------------------------------------------------------

    def approve(self, client_id: str, redirect_uri: str, realm_id: str, state: str = "", scope: str = "") -> str:
        """What the consent page's Allow button does: the redirect URL carrying code, state and realmId."""
        from sandbox.quickbooks.oauth import approval_redirect

        app = self.tokens.apps[client_id]
        scopes = tuple(scope.split()) or (ACCOUNTING_SCOPE,)
        return approval_redirect(self, app, redirect_uri, realm_id, scopes, state)

    def connect(self, client_id: str, realm_id: str, scopes: tuple[str, ...] = (ACCOUNTING_SCOPE,)) -> TokenSet:
        """Tokens for a company as if the user had consented and the code had been exchanged."""
        if client_id not in self.tokens.apps or realm_id not in self.companies:
            raise KeyError("register the app and add the company first")
        return self.tokens.grant_directly(client_id, realm_id, scopes, self.controls.clock.now())

    # -- faults that only make sense for QuickBooks ------------------------------------------------------

    def fault_with_200(
        self, code: str = "6000", message: str = "A business validation error has occurred while processing your "
        "request", detail: str = "Business Validation Error: injected", path_prefix: str = "/v3/",
        method: str | None = None, times: int | None = 1,
    ) -> Fault:  # fmt: skip
        """Answer HTTP 200 with a Fault body, as Intuit sometimes does."""
        body = {**errors.fault_body(code, message, detail), "time": self.controls.clock.now().isoformat()}
        return self.controls.inject(Fault("status", status=200, body=body, path_prefix=path_prefix, method=method,
                                          times=times))  # fmt: skip

    # -- webhooks --------------------------------------------------------------------------------------

    def pending_events(self, realm_id: str | None = None) -> list[ChangeEvent]:
        companies = [self.companies[realm_id]] if realm_id else list(self.companies.values())
        return [event for company in companies for event in company.events]

    def webhook_requests(
        self, shape: str = "legacy", realm_ids: list[str] | None = None, client_id: str = "sandbox"
    ) -> list[tuple[bytes, dict[str, str]]]:
        """The signed deliveries that `deliver_webhooks` would send now, without sending or dequeuing."""
        built = webhooks.build(self._targets(realm_ids), shape, self.webhook_verifier_token,
                               webhooks.source_for(client_id))  # fmt: skip
        return [(body, headers) for body, headers, _ in built]

    async def deliver_webhooks(
        self,
        url: str,
        shape: str = "legacy",
        realm_ids: list[str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        client_id: str = "sandbox",
    ) -> list[httpx.Response]:
        """POST the queued events to `url`, signed with `webhook_verifier_token`; pass an httpx transport
        (e.g. `httpx.ASGITransport(app=our_api)`) to deliver in-process."""
        return await webhooks.deliver(self._targets(realm_ids), url, shape, self.webhook_verifier_token,
                                      webhooks.source_for(client_id), transport)  # fmt: skip

    def _targets(self, realm_ids: list[str] | None) -> list[Company]:
        return [self.companies[r] for r in realm_ids] if realm_ids else list(self.companies.values())
