"""QuickBooks sandbox: consent page, token endpoint, refresh rotation, revocation, API authentication."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.quickbooks import Limits, QuickBooksState
from sandbox.quickbooks.testing import REDIRECT_URI, Connected, client_for, connected

SCOPE = "com.intuit.quickbooks.accounting"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def authorize_params(q: Connected, **extra: str) -> dict[str, str]:
    return {"client_id": q.app.client_id, "response_type": "code", "scope": SCOPE,
            "redirect_uri": REDIRECT_URI, "state": "xyz", **extra}  # fmt: skip


def redirect_params(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def exchange(http: httpx.AsyncClient, q: Connected, code: str, redirect_uri: str = REDIRECT_URI):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return await http.post("/oauth2/v1/tokens/bearer", data=data, headers=basic(q.app.client_id, q.app.client_secret))


async def refresh(http: httpx.AsyncClient, q: Connected, token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return await http.post("/oauth2/v1/tokens/bearer", data=data, headers=basic(q.app.client_id, q.app.client_secret))


@pytest.fixture
def q() -> Connected:
    return connected()


async def test_consent_page_lists_companies_and_allow_redirects_with_code_state_realm(q: Connected) -> None:
    other = q.state.add_company("Second Co")
    async with client_for(q.state) as http:
        page = await http.get("/connect/oauth2", params=authorize_params(q))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert q.realm in page.text and "Second Co" in page.text and 'value="allow"' in page.text
        form = {**authorize_params(q), "realmId": other.realm_id, "decision": "allow"}
        allowed = await http.post("/connect/oauth2", data=form)
        assert allowed.status_code == 302
        params = redirect_params(allowed)
        assert params["state"] == "xyz" and params["realmId"] == other.realm_id and params["code"]
        tokens = await exchange(http, q, params["code"])
    body = tokens.json()
    assert tokens.status_code == 200 and body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 100 * 86400 and body["refresh_token"] and body["access_token"]
    assert tokens.headers["cache-control"] == "no-store"


async def test_denial_and_auto_flags(q: Connected) -> None:
    async with client_for(q.state) as http:
        denied = await http.post("/connect/oauth2", data={**authorize_params(q), "decision": "deny"})
        assert redirect_params(denied) == {"error": "access_denied", "state": "xyz"}
        auto_deny = await http.get("/connect/oauth2", params=authorize_params(q, sandbox_auto_deny="1"))
        assert redirect_params(auto_deny)["error"] == "access_denied"
        auto = await http.get("/connect/oauth2", params=authorize_params(q, sandbox_auto_approve=q.realm))
        assert auto.status_code == 302 and redirect_params(auto)["realmId"] == q.realm
        bad_scope = await http.get("/connect/oauth2", params=authorize_params(q, scope="com.example.nope"))
        assert redirect_params(bad_scope)["error"] == "invalid_scope"
        stateless = {k: v for k, v in authorize_params(q, sandbox_auto_approve=q.realm).items() if k != "state"}
        assert "state" not in redirect_params(await http.get("/connect/oauth2", params=stateless))
        bad_type = await http.get("/connect/oauth2", params=authorize_params(q, response_type="token"))
        assert redirect_params(bad_type)["error"] == "unsupported_response_type"


@pytest.mark.parametrize(
    "override",
    [{"client_id": "unknown"}, {"redirect_uri": "https://evil.test/cb"}, {"redirect_uri": REDIRECT_URI + "/x"}],
)
async def test_unknown_client_or_redirect_gets_an_error_page_never_a_redirect(q: Connected, override) -> None:
    async with client_for(q.state) as http:
        page = await http.get("/connect/oauth2", params={**authorize_params(q), **override})
        posted = await http.post("/connect/oauth2", data={**authorize_params(q), **override, "decision": "allow"})
    for response in (page, posted):
        assert response.status_code == 400 and "location" not in response.headers
        assert "text/html" in response.headers["content-type"]


async def test_codes_are_single_use_bound_to_redirect_and_client_and_expire(q: Connected) -> None:
    other_app = q.state.register_app([REDIRECT_URI])
    code = lambda: redirect_params_from(q.state.approve(q.app.client_id, REDIRECT_URI, q.realm, "s"))["code"]  # noqa: E731
    async with client_for(q.state) as http:
        first = code()
        assert (await exchange(http, q, first)).status_code == 200
        again = await exchange(http, q, first)
        assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
        assert (await exchange(http, q, code(), "https://arbridge.test/other")).json()["error"] == "invalid_grant"
        stolen = code()
        data = {"grant_type": "authorization_code", "code": stolen, "redirect_uri": REDIRECT_URI}
        wrong_client = await http.post("/oauth2/v1/tokens/bearer", data=data,
                                       headers=basic(other_app.client_id, other_app.client_secret))  # fmt: skip
        assert wrong_client.json() == {"error": "invalid_grant"}
        late = code()
        q.state.controls.clock.advance(301)
        assert (await exchange(http, q, late)).json() == {"error": "invalid_grant"}


def redirect_params_from(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_token_endpoint_requires_client_authentication(q: Connected) -> None:
    data = {"grant_type": "refresh_token", "refresh_token": q.tokens.refresh_token}
    async with client_for(q.state) as http:
        none = await http.post("/oauth2/v1/tokens/bearer", data=data)
        wrong = await http.post("/oauth2/v1/tokens/bearer", data=data, headers=basic(q.app.client_id, "nope"))
        posted = await http.post("/oauth2/v1/tokens/bearer",
                                 data={**data, "client_id": q.app.client_id, "client_secret": q.app.client_secret})  # fmt: skip
        q.state.limits.token_auth_methods = ("client_secret_basic",)
        posted_again = await http.post("/oauth2/v1/tokens/bearer",
                                       data={**data, "refresh_token": posted.json()["refresh_token"],
                                             "client_id": q.app.client_id, "client_secret": q.app.client_secret})  # fmt: skip
        bad_grant = await http.post("/oauth2/v1/tokens/bearer", data={"grant_type": "password"},
                                    headers=basic(q.app.client_id, q.app.client_secret))  # fmt: skip
    assert none.status_code == wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    assert posted.status_code == 200  # client_secret_post is in Intuit's discovery document
    assert posted_again.status_code == 401
    assert bad_grant.status_code == 400 and bad_grant.json() == {"error": "unsupported_grant_type"}


async def test_refresh_rotates_and_the_old_token_stops_working(q: Connected) -> None:
    async with client_for(q.state) as http:
        first = await refresh(http, q, q.tokens.refresh_token)
        rotated = first.json()["refresh_token"]
        assert first.status_code == 200 and rotated != q.tokens.refresh_token
        old = await refresh(http, q, q.tokens.refresh_token)
        assert old.status_code == 400 and old.json() == {"error": "invalid_grant"}
        assert (await refresh(http, q, rotated)).status_code == 200


async def test_refresh_grace_and_daily_rotation_are_configurable() -> None:
    q = connected(limits=Limits(refresh_grace_seconds=60, refresh_rotate_after_seconds=86400))
    async with client_for(q.state) as http:
        same = (await refresh(http, q, q.tokens.refresh_token)).json()["refresh_token"]
        assert same == q.tokens.refresh_token  # within a day the value does not change
        q.state.controls.clock.advance(86401)
        rotated = (await refresh(http, q, same)).json()["refresh_token"]
        assert rotated != same
        q.state.controls.clock.advance(30)
        assert (await refresh(http, q, same)).status_code == 200  # still inside the grace period
        q.state.controls.clock.advance(31)
        assert (await refresh(http, q, same)).status_code == 400


async def test_refresh_token_expires_after_100_days_unused(q: Connected) -> None:
    q.state.controls.clock.advance(days=100, seconds=1)
    async with client_for(q.state) as http:
        assert (await refresh(http, q, q.tokens.refresh_token)).json() == {"error": "invalid_grant"}


async def test_expired_access_token_gets_the_gateway_401(q: Connected) -> None:
    async with q.client() as http:
        assert (await http.get(q.path("companyinfo/" + q.realm))).status_code == 200
        q.state.controls.clock.advance(3600)
        expired = await http.get(q.path("companyinfo/" + q.realm))
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"].startswith('Bearer realm="Intuit"')
    error = expired.json()["fault"]["error"][0]
    assert error["code"] == "3200" and error["detail"].startswith("Token expired")
    assert expired.json()["fault"]["type"] == "AUTHENTICATION"


async def test_missing_or_garbage_token_is_401(q: Connected) -> None:
    async with q.client(auth=False) as http:
        missing = await http.get(q.path("invoice/1"))
    async with q.client(token="garbage") as http:
        garbage = await http.get(q.path("invoice/1"))
    assert missing.status_code == garbage.status_code == 401


async def test_revoke_kills_refresh_and_access_tokens(q: Connected) -> None:
    async with client_for(q.state) as http:
        bad_auth = await http.post("/v2/oauth2/tokens/revoke", json={"token": q.tokens.refresh_token})
        assert bad_auth.status_code == 401
        revoked = await http.post("/v2/oauth2/tokens/revoke", json={"token": q.tokens.refresh_token},
                                  headers=basic(q.app.client_id, q.app.client_secret))  # fmt: skip
        assert revoked.status_code == 200
        assert (await refresh(http, q, q.tokens.refresh_token)).json() == {"error": "invalid_grant"}
    async with q.client() as http:
        assert (await http.get(q.path("invoice/1"))).status_code == 401


async def test_token_for_another_company_or_without_accounting_scope_is_403(q: Connected) -> None:
    other = q.state.add_company()
    no_accounting = q.state.connect(q.app.client_id, q.realm, scopes=("openid",))
    async with q.client() as http:
        cross = await http.get(f"/v3/company/{other.realm_id}/companyinfo/{other.realm_id}?minorversion=75")
    async with q.client(token=no_accounting.access_token) as http:
        scoped = await http.get(q.path("companyinfo/" + q.realm))
    assert cross.status_code == scoped.status_code == 403
    assert cross.json()["Fault"]["type"] == "AuthorizationFault"


async def test_discovery_points_at_the_sandbox() -> None:
    state = QuickBooksState()
    async with client_for(state) as http:
        doc = (await http.get("/.well-known/openid_sandbox_configuration")).json()
    assert doc["token_endpoint"] == "https://qbo.sandbox.test/oauth2/v1/tokens/bearer"
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
