"""Health, readiness, docs, problem types, and idempotency-key expiry."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.idempotency import purge_expired
from tests.conftest import Api, invoice_body


async def test_health_ready_and_docs(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "postgres": "ok", "redis": "ok"}
    assert (await client.get("/schema/openapi.json")).json()["info"]["title"] == "arbridge"
    for page in ("/schema", "/schema/swagger"):
        r = await client.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]


async def test_problem_types_are_documented(client: AsyncTestClient[Any], tenant_a: Api) -> None:
    problem = (await tenant_a.get(f"/v1/invoices/{uuid.uuid4()}")).json()
    doc = await client.get(problem["type"])
    assert doc.status_code == 200 and doc.json()["code"] == problem["code"] == "not_found"
    assert (await client.get("/problems/no_such_thing")).status_code == 404


async def test_unknown_route_and_method_are_problems(tenant_a: Api) -> None:
    r = await tenant_a.get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await tenant_a.client.delete("/v1/invoices", headers=tenant_a.headers)
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


async def test_expired_idempotency_key_is_free_again(tenant_a: Api, owner: AsyncEngine, engine: AsyncEngine) -> None:
    c = await tenant_a.new_client()
    key = {"Idempotency-Key": f"exp-{uuid.uuid4()}"}
    first = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], "E-1"), headers=key)
    assert first.status_code == 201
    async with owner.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :k"),
            {"k": key["Idempotency-Key"]},
        )
    # After expiry the key names a new request: another body is no longer a mismatch.
    second = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], "E-2"), headers=key)
    assert second.status_code == 201 and second.json()["number"] == "E-2"
    async with owner.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :k"),
            {"k": key["Idempotency-Key"]},
        )
    assert await purge_expired(engine) >= 1
    async with owner.connect() as conn:
        left = (
            await conn.execute(
                text("SELECT count(*) FROM idempotency_keys WHERE key = :k"), {"k": key["Idempotency-Key"]}
            )
        ).scalar_one()
    assert left == 0
