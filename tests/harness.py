"""Test infrastructure: real PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set),
one fresh database per run with migrations applied once, and helpers for tenants and tokens."""

from __future__ import annotations

import secrets
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from adapters.config import Settings, app_url_from_owner_url
from adapters.crypto import new_key_ring_entry


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def create_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def test_settings(owner_url: str, redis_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": owner_url,
        "redis_url": redis_url,
        "app_database_url": app_url_from_owner_url(owner_url),
        "encryption_keys": new_key_ring_entry("test1"),
        "queue_name": f"arq:test:{secrets.token_hex(6)}",
        "db_pool_size": 5,
        "state_dir": Path(tempfile.gettempdir()),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class TenantCreds:
    tenant_id: uuid.UUID
    client_id: str
    client_secret: str
