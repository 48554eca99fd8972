"""Xero sandbox: consent page, PKCE, token exchange and rotation, revocation, connections."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sandbox.xero import XeroState
from sandbox.xero.testing import client_for

CALLBACK = "https://app.example.com/xero/callback"
VERIFIER = "v" * 20 + "-._~" + "A1" * 12  # 48 chars of the RFC 7636 alphabet
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
SCOPES = "openid profile email offline_access accounting.transactions accounting.contacts"


def _basic(app) -> dict[str, str]:
    raw = f"{app.client_id}:{app.client_secret}".encode()
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


def _authorize_params(app, **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": app.client_id, "redirect_uri": CALLBACK, "scope": SCOPES}
    return {**params, "state": "st-123", **extra}


def _query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture
def env():
    state = XeroState(seed=3)
    acme, other = state.add_organisation("Acme MSP"), state.add_organisation("Other MSP")
    return state, acme, other, client_for(state)


async def _consent(http: httpx.AsyncClient, params: dict[str, str], tenants: list[str]) -> httpx.Response:
    page = await http.get("/identity/connect/authorize", params=params)
    assert page.status_code == 200, page.text
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)
    form = urlencode([("consent_id", consent_id), ("decision", "allow"), *[("tenant", t) for t in tenants]])
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await http.post("/identity/connect/authorize", content=form, headers=headers)


async def test_consent_page_lists_orgs_and_allow_redirects_with_code_and_state(env) -> None:
    state, acme, other, http = env
    app = state.register_app("arbridge", redirect_uris=[CALLBACK])
    page = await http.get("/identity/connect/authorize", params=_authorize_params(app))
    assert page.headers["content-type"].startswith("text/html")
    assert set(re.findall(r'name="tenant" value="([^"]+)"', page.text)) == {str(acme.tenant_id), str(other.tenant_id)}
    assert "Acme MSP" in page.text and "Allow access" in page.text
    answer = await _consent(http, _authorize_params(app), [str(acme.tenant_id)])
    assert answer.status_code == 302 and answer.headers["location"].startswith(CALLBACK + "?")
    back = _query(answer)
    assert back["state"] == "st-123" and back["code"]
    tokens = await http.post(
        "/connect/token", headers=_basic(app),
        data={"grant_type": "authorization_code", "code": back["code"], "redirect_uri": CALLBACK},
    )  # fmt: skip
    body = tokens.json()
    assert tokens.status_code == 200 and body["expires_in"] == 1800 and body["token_type"] == "Bearer"
    assert {"access_token", "refresh_token", "id_token"} <= set(body)
    conns = await http.get("/connections", headers={"authorization": f"Bearer {body['access_token']}"})
    assert [c["tenantId"] for c in conns.json()] == [str(acme.tenant_id)]
    assert conns.json()[0]["tenantType"] == "ORGANISATION" and conns.json()[0]["tenantName"] == "Acme MSP"


async def test_bad_client_or_redirect_uri_never_redirects(env) -> None:
    state, _acme, _other, http = env
    app = state.register_app(redirect_uris=[CALLBACK])
    for params in (
        _authorize_params(app, redirect_uri="https://evil.example.com/cb"),
        _authorize_params(app, client_id="nobody"),
    ):
        answer = await http.get("/identity/connect/authorize", params=params)
        assert answer.status_code == 400 and "location" not in answer.headers


async def test_deny_and_bad_requests_redirect_with_errors(env) -> None:
    state, _acme, _other, http = env
    app = state.register_app(redirect_uris=[CALLBACK])
    page = await http.get("/identity/connect/authorize", params=_authorize_params(app))
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)
    denied = await http.post("/identity/connect/authorize", data={"consent_id": consent_id, "decision": "deny"})
    assert _query(denied) == {"error": "access_denied", "state": "st-123"}
    replay = await http.post("/identity/connect/authorize", data={"consent_id": consent_id, "decision": "allow"})
    assert replay.status_code == 400  # the consent page is single use
    bad_scope = await http.get("/identity/connect/authorize", params=_authorize_params(app, scope="openid nope"))
    assert _query(bad_scope)["error"] == "invalid_scope"
    bad_type = await http.get("/identity/connect/authorize", params=_authorize_params(app, response_type="token"))
    assert _query(bad_type)["error"] == "unsupported_response_type"


async def test_pkce_app_needs_s256_and_the_right_verifier(env) -> None:
    state, acme, _other, http = env
    app = state.register_app("desktop", pkce=True, redirect_uris=[CALLBACK])
    assert app.client_secret is None
    missing = await http.get("/identity/connect/authorize", params=_authorize_params(app))
    assert _query(missing)["error"] == "invalid_request"
    plain = _authorize_params(app, code_challenge=CHALLENGE, code_challenge_method="plain")
    assert _query(await http.get("/identity/connect/authorize", params=plain))["error"] == "invalid_request"
    state.auto_consent(tenants=[acme])
    params = _authorize_params(app, code_challenge=CHALLENGE, code_challenge_method="S256")
    code = _query(await http.get("/identity/connect/authorize", params=params))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": app.client_id}
    wrong = await http.post("/connect/token", data={**form, "code_verifier": "w" * 43})
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_grant"}
    code = _query(await http.get("/identity/connect/authorize", params=params))["code"]
    good = await http.post("/connect/token", data={**form, "code": code, "code_verifier": VERIFIER})
    assert good.status_code == 200 and "refresh_token" in good.json()
    again = await http.post("/connect/token", data={**form, "code": code, "code_verifier": VERIFIER})
    assert again.json() == {"error": "invalid_grant"}  # codes are single use


async def test_confidential_app_code_is_bound_to_client_auth_redirect_and_time(env) -> None:
    state, acme, _other, http = env
    app = state.register_app(redirect_uris=[CALLBACK, CALLBACK + "2"])
    state.auto_consent(tenants=[acme])

    async def code() -> str:
        return _query(await http.get("/identity/connect/authorize", params=_authorize_params(app)))["code"]

    form = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    no_secret = await http.post("/connect/token", data={**form, "code": await code(), "client_id": app.client_id})
    assert no_secret.status_code == 400 and no_secret.json() == {"error": "invalid_client"}
    other_uri = await http.post("/connect/token", headers=_basic(app),
                                data={**form, "code": await code(), "redirect_uri": CALLBACK + "2"})  # fmt: skip
    assert other_uri.json() == {"error": "invalid_grant"}
    stale = await code()
    state.controls.clock.advance(minutes=5)
    late = await http.post("/connect/token", headers=_basic(app), data={**form, "code": stale})
    assert late.json() == {"error": "invalid_grant"}
    posted = await http.post("/connect/token", data={**form, "code": await code(), "client_id": app.client_id,
                                                     "client_secret": app.client_secret})  # fmt: skip
    assert posted.status_code == 200  # client_secret_post works as well as Basic


async def test_access_token_lives_1800_seconds(env) -> None:
    state, acme, _other, http = env
    app = state.register_app()
    tokens = state.connect(app, [acme])
    headers = {"authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": str(acme.tenant_id),
               "accept": "application/json"}  # fmt: skip
    state.controls.clock.advance(1799)
    assert (await http.get("/api.xro/2.0/Accounts", headers=headers)).status_code == 200
    state.controls.clock.advance(1)
    expired = await http.get("/api.xro/2.0/Accounts", headers=headers)
    assert expired.status_code == 401 and expired.json()["Detail"].startswith("TokenExpired: token expired at ")
    assert expired.json()["Title"] == "Unauthorized"


async def test_refresh_rotates_with_a_30_minute_grace_for_the_previous_token(env) -> None:
    state, acme, _other, http = env
    app = state.register_app()
    first = state.connect(app, [acme])["refresh_token"]

    async def refresh(token: str) -> httpx.Response:
        return await http.post("/connect/token", headers=_basic(app),
                               data={"grant_type": "refresh_token", "refresh_token": token})  # fmt: skip

    rotated = (await refresh(first)).json()
    second = rotated["refresh_token"]
    assert second != first and rotated["expires_in"] == 1800
    state.controls.clock.advance(minutes=29)
    retry = await refresh(first)  # the answer was "lost": the old token still works, same successor
    assert retry.status_code == 200 and retry.json()["refresh_token"] == second
    assert retry.json()["access_token"] != rotated["access_token"]
    state.controls.clock.advance(minutes=1)
    assert (await refresh(first)).json() == {"error": "invalid_grant"}
    third = await refresh(second)
    assert third.status_code == 200 and third.json()["refresh_token"] not in (first, second)


async def test_unused_refresh_token_expires_after_60_days(env) -> None:
    state, acme, _other, http = env
    app = state.register_app()
    young, old = state.connect(app, [acme])["refresh_token"], state.connect(app, [acme])["refresh_token"]
    state.controls.clock.advance(days=59, hours=23)
    ok = await http.post("/connect/token", headers=_basic(app), data={"grant_type": "refresh_token",
                                                                      "refresh_token": young})  # fmt: skip
    assert ok.status_code == 200
    state.controls.clock.advance(hours=1)
    late = await http.post("/connect/token", headers=_basic(app), data={"grant_type": "refresh_token",
                                                                        "refresh_token": old})  # fmt: skip
    assert late.json() == {"error": "invalid_grant"}


async def test_revocation_ends_the_grant_and_its_connections(env) -> None:
    state, acme, _other, http = env
    app = state.register_app()
    tokens = state.connect(app, [acme])
    bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    bad = await http.post("/connect/revocation", data={"token": tokens["refresh_token"], "client_id": app.client_id})
    assert bad.json() == {"error": "invalid_client"}
    done = await http.post("/connect/revocation", headers=_basic(app), data={"token": tokens["refresh_token"]})
    assert done.status_code == 200 and done.content == b""
    assert (await http.get("/connections", headers=bearer)).json() == []
    after = await http.post("/connect/token", headers=_basic(app),
                            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})  # fmt: skip
    assert after.json() == {"error": "invalid_grant"}


async def test_connections_filter_delete_and_tenant_access(env) -> None:
    state, acme, other, http = env
    app = state.register_app()
    first = state.connect(app, [acme])
    second = state.connect(app, [other])
    bearer = {"authorization": f"Bearer {second['access_token']}"}
    listed = (await http.get("/connections", headers=bearer)).json()
    assert {c["tenantId"] for c in listed} == {str(acme.tenant_id), str(other.tenant_id)}
    claims = second["access_token"].split(".")[1]
    event = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    only = await http.get("/connections", headers=bearer, params={"authEventId": event["authentication_event_id"]})
    assert [c["tenantId"] for c in only.json()] == [str(other.tenant_id)]
    api = {**bearer, "xero-tenant-id": str(acme.tenant_id), "accept": "application/json"}
    assert (await http.get("/api.xro/2.0/Accounts", headers=api)).status_code == 200
    acme_conn = next(c["id"] for c in listed if c["tenantId"] == str(acme.tenant_id))
    assert (await http.delete(f"/connections/{acme_conn}", headers=bearer)).status_code == 204
    assert (await http.delete(f"/connections/{acme_conn}", headers=bearer)).status_code == 404
    forbidden = await http.get(
        "/api.xro/2.0/Accounts", headers={**api, "authorization": f"Bearer {first['access_token']}"}
    )
    assert forbidden.status_code == 403 and forbidden.json()["Detail"] == "AuthenticationUnsuccessful"
    assert (await http.get("/connections", headers={"authorization": "Bearer nope"})).status_code == 401
