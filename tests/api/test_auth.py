"""Token endpoint, bearer auth, scopes, and tenant isolation through the REST API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.tokens import SigningKeyStore, TokenService
from adapters.config import Settings
from adapters.crypto import KeyRing
from domain.auth import Principal
from tests.conftest import Api, new_tenant, token_for


async def test_token_by_basic_and_by_form(client: AsyncTestClient[Any], engine: AsyncEngine) -> None:
    creds = await new_tenant(engine, "Basic Or Form IT")
    by_basic = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(creds.client_id, creds.client_secret),
    )
    by_form = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    for r in (by_basic, by_form):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0
        assert "admin" in body["scope"].split()
        assert r.headers["cache-control"] == "no-store"


async def test_token_errors_follow_rfc6749(client: AsyncTestClient[Any], engine: AsyncEngine) -> None:
    creds = await new_tenant(engine, "Token Errors IT")
    wrong = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(creds.client_id, "nope")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    unknown = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "arb_nobody", "client_secret": "x"}
    )
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    grant = await client.post(
        "/oauth/token", data={"grant_type": "password"}, auth=httpx.BasicAuth(creds.client_id, creds.client_secret)
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    both = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": creds.client_secret},
        auth=httpx.BasicAuth(creds.client_id, creds.client_secret),
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    scope = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "invoices:read bogus:scope"},
        auth=httpx.BasicAuth(creds.client_id, creds.client_secret),
    )
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


async def test_requests_without_valid_token_are_refused(
    client: AsyncTestClient[Any], settings: Settings, engine: AsyncEngine
) -> None:
    missing = await client.get("/v1/invoices")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "unauthenticated"

    garbage = await client.get("/v1/invoices", headers={"Authorization": "Bearer not.a.jwt"})
    assert garbage.status_code == 401 and garbage.json()["code"] == "invalid_token"

    # Right shape, wrong signer: a key of our own making with the same kid as none of the server's.
    rogue = ECKey.generate_key("P-256", parameters={"kid": "rogue"}, private=True)
    forged = jwt.encode(
        {"alg": "ES256", "kid": "rogue"},
        {"iss": "arbridge", "sub": "arb_x", "tid": str(uuid.uuid4()), "scope": "admin", "exp": int(time.time()) + 600},
        rogue,
    )
    r = await client.get("/v1/invoices", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"

    # Signed by the server's own key but already expired.
    tokens = TokenService(SigningKeyStore(engine, KeyRing(settings.encryption_keys), -60), -60)
    expired = await tokens.issue(Principal(uuid.uuid4(), "arb_x", frozenset({"admin"})))
    r = await client.get("/v1/invoices", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_missing_scope_is_403(client: AsyncTestClient[Any], engine: AsyncEngine, tenant_a: Api) -> None:
    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, scope="invoices:read"))
    r = await reader.post("/v1/clients", json={"name": "Nope"})
    assert r.status_code == 403
    assert r.json()["code"] == "insufficient_scope" and r.json()["required_scope"] == "clients:write"
    assert (await reader.get("/v1/invoices")).status_code == 200
    listing = await tenant_a.get("/v1/clients")
    assert all(c["name"] != "Nope" for c in listing.json()["data"])


async def test_other_tenants_invoice_is_404_like_an_absent_one(tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_a.new_client()
    inv = await tenant_a.new_invoice(c["id"])
    theirs = await tenant_b.get(f"/v1/invoices/{inv['id']}")
    absent = await tenant_b.get(f"/v1/invoices/{uuid.uuid4()}")
    assert theirs.status_code == absent.status_code == 404
    assert {k: v for k, v in theirs.json().items() if k not in ("detail", "instance")} == {
        k: v for k, v in absent.json().items() if k not in ("detail", "instance")
    }
    assert (await tenant_b.post(f"/v1/invoices/{inv['id']}/void")).status_code == 404
    assert (await tenant_b.get(f"/v1/clients/{c['id']}")).status_code == 404
    # and B cannot bill A's client
    r = await tenant_b.post(
        "/v1/invoices",
        json={
            "client_id": c["id"],
            "number": "X-1",
            "currency": "USD",
            "issue_date": "2026-11-01",
            "due_date": "2026-11-30",
            "lines": [{"description": "x", "unit_amount": 100}],
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "client_id"
    assert (await tenant_a.get(f"/v1/invoices/{inv['id']}")).json()["status"] == "open"


async def test_signing_key_rotation_keeps_live_tokens(
    client: AsyncTestClient[Any], settings: Settings, engine: AsyncEngine, tenant_a: Api
) -> None:
    before = tenant_a.headers
    store = SigningKeyStore(engine, KeyRing(settings.encryption_keys), settings.token_ttl_seconds)
    new_kid = await store.rotate()
    assert (await client.get("/v1/invoices", headers=before)).status_code == 200
    # New tokens are signed with the new key once the server reloads its keys; both verify.
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert new_kid in {k["kid"] for k in jwks["keys"]}
    fresh = await token_for(client, tenant_a.creds)
    assert (await client.get("/v1/invoices", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200
