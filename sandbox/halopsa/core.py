"""Everything one HaloPSA sandbox instance knows: configuration, API applications, tokens, records, webhooks.

There is no module-level mutable state: two states are two independent Halo tenants. Time always comes
from `controls.clock`, so tests expire tokens and roll rate windows by advancing it.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

from sandbox.common import SandboxControls
from sandbox.halopsa.fields import format_datetime
from sandbox.halopsa.store import Store
from sandbox.halopsa.webhooks import WebhookHub

# Scopes an API application can be granted (HaloAPI PowerShell module, HaloAuth.psm1 [S]); the sandbox
# enforces only those its four resources need, but accepts the rest at the token endpoint.
KNOWN_SCOPES = frozenset(
    {"all", "all:standard", "admin", "editMine:timesheets", "access:chat", "access:adpasswordreset"}
    | {
        f"{verb}:{area}"
        for verb in ("read", "edit")
        for area in (
            "tickets calendar customers crm timesheets contracts suppliers items projects sales quotes sos pos "
            "invoices reporting software softwarelicensing kb assets"
        ).split()
    }
)


@dataclass
class HaloLimits:
    """Knobs a test or benchmark may turn. Defaults follow what public clients assume where Halo is silent."""

    token_ttl_seconds: int = 3600  # H-PY assumes 3600 when `expires_in` is absent
    default_page_size: int = 50  # H-PY's default when paginating [U for the server's own default]
    max_page_size: int = 100  # larger requests are clamped and the envelope says so [U]
    # A third party reports 450 requests per 5 minutes [S, unverified]; off unless a test asks for it,
    # so benchmarks paging 50,000 invoices are not throttled.
    rate_limit: int | None = None
    rate_window_seconds: float = 300.0
    send_retry_after: bool = True  # whether Halo sends Retry-After on 429 is not documented [U]
    require_tenant: bool = True  # hosted Halo identifies the tenant on the token request
    naive_datetimes: bool = False  # True: send "2024-01-31T00:00:00" without an offset (see fields.py)


@dataclass
class ApiApplication:
    """An API application of type "Client ID and Secret (Services)" (Configuration > Integrations > Halo API)."""

    client_id: str
    client_secret: str
    scopes: frozenset[str]
    name: str = "arbridge"
    active: bool = True


@dataclass
class IssuedToken:
    token: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # clock timestamp


@dataclass(eq=False)
class HaloCore:
    """The data half of `HaloState` (state.py adds what an MSP does in Halo's UI); write paths take this."""

    tenant: str = "sandbox"
    limits: HaloLimits = field(default_factory=HaloLimits)
    controls: SandboxControls = field(default_factory=SandboxControls)

    def __post_init__(self) -> None:
        self.applications: dict[str, ApiApplication] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.clients = Store("Client")
        self.contracts = Store("ClientContract")
        self.invoices = Store("Invoice")
        self.payments = Store("InvoicePayment")
        self.payments_by_invoice: dict[int, list[int]] = {}  # keeps invoice totals O(payments of one invoice)
        self.next_line_id = 1
        self.rate_hits: deque[float] = deque()
        self.webhooks = WebhookHub(self.controls.clock, naive=self.limits.naive_datetimes)

    # -- time -------------------------------------------------------------------------------------------

    def now_text(self) -> str:
        """`last_modified` and friends: millisecond resolution so edits in one second still order."""
        return format_datetime(self.controls.clock.now(), naive=self.limits.naive_datetimes, millis=True)

    def new_line_id(self) -> int:
        self.next_line_id += 1
        return self.next_line_id - 1

    # -- API applications and tokens -------------------------------------------------------------------

    def add_application(
        self,
        scopes: str | set[str] | frozenset[str] = "all",
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> ApiApplication:
        granted = frozenset(scopes.split()) if isinstance(scopes, str) else frozenset(scopes)
        app = ApiApplication(
            client_id=client_id or secrets.token_hex(16),
            client_secret=client_secret or secrets.token_urlsafe(32),
            scopes=granted,
        )
        self.applications[app.client_id] = app
        return app

    def issue_token(self, app: ApiApplication, scopes: frozenset[str] | None = None) -> IssuedToken:
        """What the token endpoint does once credentials check out; tests may call it directly."""
        issued = IssuedToken(
            token=secrets.token_urlsafe(48),
            client_id=app.client_id,
            scopes=app.scopes if scopes is None else scopes,
            expires_at=self.controls.clock.timestamp() + self.limits.token_ttl_seconds,
        )
        self.tokens[issued.token] = issued
        return issued

    def revoke_tokens(self) -> None:
        self.tokens.clear()
