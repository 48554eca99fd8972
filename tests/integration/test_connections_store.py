"""Connections at rest: tokens and secrets only as ciphertext, bound to their row; one connection per kind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from domain.connections import Connection, ConnectionStatus, Organisation, Provider, TokenSet
from domain.ids import new_id
from tests.conftest import Api

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _connection(tenant_id: uuid.UUID, provider: Provider, access: str, refresh: str) -> Connection:
    return Connection(
        tenant_id=tenant_id,
        id=new_id(),
        provider=provider,
        status=ConnectionStatus.ACTIVE,
        external_id="9130350000000000",
        display_name="Northwind Books",
        scopes=["com.intuit.quickbooks.accounting"],
        created_at=NOW,
        updated_at=NOW,
        tokens=TokenSet(access, NOW + timedelta(hours=1), refresh, NOW + timedelta(days=100)),
        organisations=[Organisation("9130350000000000", "Northwind Books")],
    )


async def test_tokens_are_encrypted_at_rest_and_round_trip(
    engine: AsyncEngine, owner: AsyncEngine, settings: Settings, tenant_a: Api
) -> None:
    ring = KeyRing(settings.encryption_keys)
    c = _connection(tenant_a.tenant_id, Provider.QUICKBOOKS, "access-SECRET-1", "refresh-SECRET-1")
    async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
        await uow.connections.save(c, secrets={"client_secret": "halo-SECRET"})
        await uow.commit()
    async with owner.connect() as conn:
        raw = (await conn.execute(text("SELECT * FROM connections WHERE id = :i"), {"i": c.id})).mappings().one()
    dump = " ".join(str(v) for v in raw.values())
    for secret in ("access-SECRET-1", "refresh-SECRET-1", "halo-SECRET"):
        assert secret not in dump
    assert raw["access_token_encrypted"].startswith("v1.")
    async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
        back = await uow.connections.get(c.id)
        assert await uow.connections.secrets(c.id) == {"client_secret": "halo-SECRET"}
    assert back is not None and back.tokens is not None
    assert back.tokens.access_token == "access-SECRET-1" and back.tokens.refresh_token == "refresh-SECRET-1"
    assert "SECRET" not in repr(back)


async def test_ciphertext_moved_to_another_row_does_not_decrypt(
    engine: AsyncEngine, owner: AsyncEngine, settings: Settings, tenant_a: Api, tenant_b: Api
) -> None:
    ring = KeyRing(settings.encryption_keys)
    a = _connection(tenant_a.tenant_id, Provider.XERO, "a-access", "a-refresh")
    b = _connection(tenant_b.tenant_id, Provider.XERO, "b-access", "b-refresh")
    for tenant, c in ((tenant_a, a), (tenant_b, b)):
        async with SqlUnitOfWork(engine, tenant.tenant_id, ring) as uow:
            await uow.connections.save(c)
            await uow.commit()
    async with owner.begin() as conn:
        await conn.execute(
            text(
                "UPDATE connections SET access_token_encrypted = "
                "(SELECT access_token_encrypted FROM connections WHERE id = :a) WHERE id = :b"
            ),
            {"a": a.id, "b": b.id},
        )
    async with SqlUnitOfWork(engine, tenant_b.tenant_id, ring) as uow:
        with pytest.raises(Exception):  # noqa: B017 - InvalidTag: the ciphertext is bound to row a
            await uow.connections.get(b.id)


async def test_one_connection_per_kind(engine: AsyncEngine, settings: Settings, tenant_a: Api) -> None:
    ring = KeyRing(settings.encryption_keys)
    qbo = _connection(tenant_a.tenant_id, Provider.QUICKBOOKS, "q", "q")
    xero = _connection(tenant_a.tenant_id, Provider.XERO, "x", "x")
    stripe = _connection(tenant_a.tenant_id, Provider.STRIPE, "s", "s")
    async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
        for c in (qbo, stripe, xero):
            await uow.connections.save(c)
        await uow.commit()
    async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
        providers = {c.provider for c in await uow.connections.list_all()}
    assert providers == {Provider.XERO, Provider.STRIPE}  # Xero replaced QuickBooks as the books
