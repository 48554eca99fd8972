"""HaloPSA sandbox: token endpoint, token expiry, scopes, rate limit, faults and the request log."""

from __future__ import annotations

import base64

import httpx
import pytest

from sandbox.common import Fault
from sandbox.halopsa import HaloLimits, HaloState, asgi_client, bearer_client


def _form(app_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": app_id, "client_secret": secret, **extra}


@pytest.fixture
def state() -> HaloState:
    s = HaloState(tenant="acme")
    s.create_client("Acme Corp")
    return s


async def _token(http: httpx.AsyncClient, state: HaloState, scope: str = "all") -> str:
    app = state.add_application(scope)
    r = await http.post("/token?tenant=acme", data=_form(app.client_id, app.client_secret, scope=scope))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.mark.parametrize(
    ("path", "tenant_in"), [("/auth/token", "form"), ("/token", "query"), ("/auth/token", "query")]
)
async def test_token_issued_on_both_paths_with_tenant_in_query_or_form(
    state: HaloState, path: str, tenant_in: str
) -> None:
    app = state.add_application("read:invoices edit:invoices")
    form = _form(app.client_id, app.client_secret, scope="read:invoices")
    if tenant_in == "form":
        form["tenant"] = "acme"
    else:
        path += "?tenant=acme"
    async with asgi_client(state) as http:
        r = await http.post(path, data=form)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "read:invoices"
    assert r.headers["cache-control"] == "no-store"


async def test_no_scope_requested_grants_all_the_application_has(state: HaloState) -> None:
    app = state.add_application("read:customers read:invoices")
    async with asgi_client(state) as http:
        r = await http.post("/auth/token", data=_form(app.client_id, app.client_secret, tenant="acme"))
    assert r.json()["scope"] == "read:customers read:invoices"


async def test_basic_client_authentication_is_accepted(state: HaloState) -> None:
    app = state.add_application()
    basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    async with asgi_client(state) as http:
        r = await http.post(
            "/token?tenant=acme", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"client_id": ""}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"scope": "edit:invoices"}, 400, "invalid_scope"),  # the app only has read:invoices
        ({"scope": "read:everything"}, 400, "invalid_scope"),
        ({"tenant": "other"}, 400, "invalid_request"),
        ({"tenant": ""}, 400, "invalid_request"),
    ],
)
async def test_token_errors_are_oauth_json(state: HaloState, change: dict[str, str], status: int, error: str) -> None:
    app = state.add_application("read:invoices")
    form = {**_form(app.client_id, app.client_secret, tenant="acme"), **change}
    async with asgi_client(state) as http:
        r = await http.post("/auth/token", data=form)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json" and r.json()["error"] == error


async def test_token_request_must_be_form_encoded(state: HaloState) -> None:
    app = state.add_application()
    async with asgi_client(state) as http:
        r = await http.post("/auth/token", json=_form(app.client_id, app.client_secret, tenant="acme"))
        get = await http.get("/auth/token")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert get.status_code == 405


async def test_tenant_optional_when_not_required() -> None:
    state = HaloState(limits=HaloLimits(require_tenant=False))
    app = state.add_application()
    async with asgi_client(state) as http:
        r = await http.post("/auth/token", data=_form(app.client_id, app.client_secret))
    assert r.status_code == 200


async def test_missing_unknown_and_expired_tokens_get_401(state: HaloState) -> None:
    async with asgi_client(state) as http:
        token = await _token(http, state)
        ok = await http.get("/api/Client", headers={"Authorization": f"Bearer {token}"})
        missing = await http.get("/api/Client")
        unknown = await http.get("/api/Client", headers={"Authorization": "Bearer nope"})
        state.controls.clock.advance(3599)
        still = await http.get("/api/Client", headers={"Authorization": f"Bearer {token}"})
        state.controls.clock.advance(1)
        expired = await http.get("/api/Client", headers={"Authorization": f"Bearer {token}"})
        fresh = await http.get("/api/Client", headers={"Authorization": f"Bearer {await _token(http, state)}"})
    assert ok.status_code == still.status_code == fresh.status_code == 200
    assert missing.status_code == unknown.status_code == expired.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
    assert "The token expired at" in expired.headers["www-authenticate"] and expired.content == b""


async def test_token_lifetime_is_configurable() -> None:
    state = HaloState(tenant="acme", limits=HaloLimits(token_ttl_seconds=60))
    async with asgi_client(state) as http:
        token = await _token(http, state)
        state.controls.clock.advance(61)
        r = await http.get("/api/Invoice", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        ("read:customers", "GET", "/api/Invoice", 403),
        ("read:customers", "GET", "/api/Client", 200),
        ("read:customers", "GET", "/api/ClientContract", 403),
        ("read:contracts", "GET", "/api/ClientContract", 200),
        ("read:invoices", "GET", "/api/Invoice", 200),
        ("read:invoices", "GET", "/api/InvoicePayment", 200),
        ("read:invoices", "POST", "/api/Invoice", 403),  # reading does not imply editing [U]
        ("edit:invoices", "GET", "/api/Invoice", 403),  # nor the reverse [U]
        ("edit:invoices", "POST", "/api/Invoice", 200),
        ("read:customers", "DELETE", "/api/Client/1", 403),
        ("all", "GET", "/api/ClientContract", 200),
        ("all:standard", "GET", "/api/Invoice", 200),
    ],
)
async def test_scopes_are_enforced_per_operation(
    state: HaloState, scopes: str, method: str, path: str, status: int
) -> None:
    body = [{"client_id": 1, "lines": [{"qty_order": 1, "unit_price": 10}]}] if method == "POST" else None
    async with bearer_client(state, scopes) as http:
        r = await http.request(method, path, json=body)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.content == b""


async def test_rate_limit_429_with_retry_after_then_window_rolls() -> None:
    state = HaloState(limits=HaloLimits(rate_limit=3, rate_window_seconds=300))
    async with bearer_client(state) as http:
        statuses = [(await http.get("/api/Client")).status_code for _ in range(3)]
        limited = await http.get("/api/Client")
        state.controls.clock.advance(120)
        still = await http.get("/api/Client")
        state.controls.clock.advance(181)
        after = await http.get("/api/Client")
    assert statuses == [200, 200, 200]
    assert limited.status_code == still.status_code == 429
    assert 295 <= int(limited.headers["retry-after"]) <= 300
    assert int(still.headers["retry-after"]) <= 180
    assert after.status_code == 200


async def test_retry_after_can_be_switched_off() -> None:
    state = HaloState(limits=HaloLimits(rate_limit=1, send_retry_after=False))
    async with bearer_client(state) as http:
        await http.get("/api/Client")
        r = await http.get("/api/Client")
    assert r.status_code == 429 and "retry-after" not in r.headers


async def test_faults_and_request_log_sit_in_front_of_the_routes(state: HaloState) -> None:
    state.controls.inject(Fault("status", status=429, headers={"Retry-After": "7"}, path_prefix="/api/Invoice"))
    state.controls.inject(Fault("html", path_prefix="/api/Client"))
    state.controls.inject(Fault("status", status=503, path_prefix="/auth/token"))
    async with bearer_client(state) as http:
        throttled = await http.get("/api/Invoice", params={"pageinate": "true"})
        html = await http.get("/api/Client")
        token = await http.post("/auth/token", data={})
        normal = await http.get("/api/Invoice")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
    assert html.status_code == 200 and html.text.startswith("<!DOCTYPE html>")
    assert token.status_code == 503 and normal.status_code == 200
    logged = state.controls.requests("GET", "/api/Invoice")
    assert [e.status for e in logged] == [429, 200] and logged[0].query == "pageinate=true"
    assert logged[0].headers["authorization"].startswith("Bearer ")


async def test_unknown_routes_and_methods(state: HaloState) -> None:
    async with bearer_client(state) as http:
        assert (await http.get("/api/Tickets")).status_code == 404
        assert (await http.put("/api/Invoice")).status_code == 405
        assert (await http.get("/api/Invoice/abc")).status_code == 404
        assert (await http.get("/elsewhere")).status_code == 404
        assert (await http.get("/API/client")).status_code == 200  # ASP.NET routes ignore case


async def test_two_states_are_independent() -> None:
    a, b = HaloState(tenant="a"), HaloState(tenant="b")
    app = a.add_application()
    a.create_client("Only in A")
    async with asgi_client(b) as http:
        r = await http.post("/token?tenant=b", data=_form(app.client_id, app.client_secret))
    assert r.status_code == 401 and len(b.clients) == 0
