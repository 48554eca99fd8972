"""Fixtures shared by the suite. Every test that needs tenants gets two, so isolation is tested everywhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.clients import create_api_client, create_tenant
from adapters.config import Settings
from adapters.db.engine import app_engine, owner_engine
from adapters.vendor_config import QuickBooksSettings, StripeSettings, VendorSettings, XeroSettings
from api.app import create_app
from domain.auth import ALL_SCOPES
from sandbox.quickbooks.app import create_app as quickbooks_app
from sandbox.quickbooks.state import QuickBooksState
from sandbox.router import SandboxRouter
from sandbox.scratch import Services, scratch_database
from sandbox.scratch import services as scratch_services
from sandbox.stripe_sandbox.app import create_app as stripe_app
from sandbox.stripe_sandbox.state import StripeState
from sandbox.xero.app import create_app as xero_app
from sandbox.xero.state import XeroState

QBO_HOST = "qbo.sandbox.test"
XERO_HOST = "xero.sandbox.test"
STRIPE_HOST = "stripe.sandbox.test"
TEST_BASE_URL = "http://testserver.local"  # where the test client reaches the app
STRIPE_WEBHOOK_SECRET = "whsec_arbridge_tests"  # the Connect endpoint's, in the Stripe sandbox and the app


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """The environment's PostgreSQL and Redis (DATABASE_URL, REDIS_URL), or embedded ones."""
    with scratch_services("arbridge-test-") as srv:
        yield srv


@pytest_asyncio.fixture(scope="session")
async def settings(services: Services) -> AsyncIterator[Settings]:
    """One database per run, migrations applied once."""
    async with scratch_database(services, "arbridge_test", db_pool_size=5) as s:
        yield s


@pytest_asyncio.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    eng = app_engine(settings, pool_size=5)
    yield eng
    await eng.dispose()


@pytest_asyncio.fixture(scope="session")
async def owner(settings: Settings) -> AsyncIterator[AsyncEngine]:
    eng = owner_engine(settings)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def vendors() -> SandboxRouter:
    """Where the app's vendor calls go: the sandboxes tests register (see sandbox/router.py)."""
    return SandboxRouter()


@pytest.fixture(scope="session")
def qbo(vendors: SandboxRouter, settings: Settings) -> QuickBooksState:
    """The QuickBooks Online sandbox the app under test is registered with (tests add their own companies)."""
    state = QuickBooksState()
    vendors.register(QBO_HOST, quickbooks_app(state))
    state.register_app(
        [f"{settings.base_url}/v1/connections/quickbooks/callback"],
        client_id="arbridge-test",
        client_secret="qbo-secret",
    )
    return state


@pytest.fixture(scope="session")
def xero(vendors: SandboxRouter, settings: Settings) -> XeroState:
    """The Xero sandbox the app under test is registered with, as a PKCE app (no client secret)."""
    state = XeroState()
    vendors.register(XERO_HOST, xero_app(state))
    state.register_app(
        "arbridge", client_id="arbridge-xero", pkce=True,
        redirect_uris=[f"{settings.base_url}/v1/connections/xero/callback"],
    )  # fmt: skip
    return state


@pytest.fixture(scope="session")
def stripe_sandbox(vendors: SandboxRouter, settings: Settings) -> StripeState:
    """The Stripe sandbox: arbridge is the Connect platform (its secret key and client id come from here)."""
    state = StripeState(seed=11)
    vendors.register(STRIPE_HOST, stripe_app(state))
    state.oauth.redirect_uris.append(f"{settings.base_url}/v1/connections/stripe/callback")
    state.add_webhook_endpoint(f"{TEST_BASE_URL}/v1/webhooks/stripe", secret=STRIPE_WEBHOOK_SECRET, connect=True)
    return state


def app_settings(settings: Settings, stripe: StripeState | None = None) -> Settings:
    """The app's settings in tests: vendors are the sandboxes behind the `vendors` router."""
    xbase = f"http://{XERO_HOST}"
    xero_settings = XeroSettings(
        "arbridge-xero",
        None,
        authorize_url=f"{xbase}/identity/connect/authorize",
        token_url=f"{xbase}/connect/token",
        revoke_url=f"{xbase}/connect/revocation",
        connections_url=f"{xbase}/connections",
        api_url=f"{xbase}/api.xro/2.0",
    )
    base = f"http://{QBO_HOST}"
    qbo_settings = QuickBooksSettings(
        "arbridge-test",
        "qbo-secret",
        authorize_url=f"{base}/connect/oauth2",
        token_url=f"{base}/oauth2/v1/tokens/bearer",
        revoke_url=f"{base}/v2/oauth2/tokens/revoke",
        api_url=f"{base}/v3",
    )
    stripe_settings = None
    if stripe is not None:
        sbase = f"http://{STRIPE_HOST}"
        stripe_settings = StripeSettings(
            stripe.secret_key,
            stripe.connect_client_id,
            api_url=sbase,
            connect_url=sbase,
            webhook_secret=STRIPE_WEBHOOK_SECRET,
        )
    vendors = VendorSettings(quickbooks=qbo_settings, xero=xero_settings, stripe=stripe_settings)
    return replace(settings, allow_http_vendor_urls=True, vendors=vendors)


@pytest_asyncio.fixture(scope="session")
async def client(
    settings: Settings, vendors: SandboxRouter, qbo: QuickBooksState, xero: XeroState, stripe_sandbox: StripeState
) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(app_settings(settings, stripe_sandbox), vendor_transport=vendors)
    async with AsyncTestClient(app=app, base_url=TEST_BASE_URL) as c:
        yield c


@dataclass
class TenantCreds:
    tenant_id: uuid.UUID
    client_id: str
    client_secret: str


async def new_tenant(engine: AsyncEngine, name: str, scopes: frozenset[str] = ALL_SCOPES) -> TenantCreds:
    tid = await create_tenant(engine, name)
    creds = await create_api_client(engine, tid, f"{name} integration", scopes)
    return TenantCreds(tid, creds.client_id, creds.client_secret)


async def token_for(client: AsyncTestClient[Any], creds: TenantCreds, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    r = await client.post("/oauth/token", data=form, auth=httpx.BasicAuth(creds.client_id, creds.client_secret))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


class Api:
    """One tenant's authenticated view of the REST and GraphQL APIs."""

    def __init__(self, client: AsyncTestClient[Any], creds: TenantCreds, token: str) -> None:
        self.client = client
        self.creds = creds
        self.tenant_id = creds.tenant_id
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.post(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.post("/graphql", json={"query": query, "variables": variables or {}})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def new_client(self, name: str = "Acme Dental", state: str = "CA") -> dict[str, Any]:
        r = await self.post(
            "/v1/clients",
            json={"name": name, "billing_email": "ap@acme.example", "address": {"state": state, "country": "US"}},
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def new_invoice(self, client_id: str, number: str | None = None, **fields: Any) -> dict[str, Any]:
        body = invoice_body(client_id, number, **fields)
        r = await self.post("/v1/invoices", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def invoice_body(client_id: str, number: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": client_id,
        "number": number or f"INV-{uuid.uuid4().hex[:8]}",
        "currency": "USD",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "lines": [
            {"description": "Managed services, November", "quantity": "10", "unit_amount": 12_500},
            {"description": "Backup storage", "quantity": "1.5", "unit_amount": 1_999, "tax_amount": 250},
        ],
    }
    body.update(fields)
    return body


@pytest_asyncio.fixture
async def tenant_a(engine: AsyncEngine, client: AsyncTestClient[Any]) -> Api:
    creds = await new_tenant(engine, "Northwind IT")
    return Api(client, creds, await token_for(client, creds))


@pytest_asyncio.fixture
async def tenant_b(engine: AsyncEngine, client: AsyncTestClient[Any]) -> Api:
    creds = await new_tenant(engine, "Contoso Managed Services")
    return Api(client, creds, await token_for(client, creds))


@pytest.fixture
def tenant_id() -> uuid.UUID:
    return uuid.uuid4()
