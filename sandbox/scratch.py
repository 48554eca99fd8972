"""Throwaway servers and databases for the test suite and the benchmarks.

`services()` gives the environment's PostgreSQL and Redis (DATABASE_URL, REDIS_URL) or starts embedded
ones in a temp dir; `scratch_database()` creates a migrated database of its own and drops it afterwards.
Either way a run leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from adapters.config import Settings, app_url_from_owner_url
from adapters.crypto import new_key_ring_entry
from adapters.db.migrate import upgrade
from sandbox.embedded import start_postgres, start_redis


@dataclass(frozen=True)
class Services:
    server_url: str  # PostgreSQL as a role that may create databases and roles, maintenance database
    redis_url: str
    embedded: bool


@contextlib.contextmanager
def services(prefix: str = "arbridge-") -> Iterator[Services]:
    db_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    stops: list[Any] = []
    try:
        if not db_url:
            db_url, pg = start_postgres(tmp / "postgres")
            stops.append(pg.cleanup)
        if not redis_url:
            redis_url, r = start_redis(tmp / "redis")
            stops.append(r.shutdown)
        yield Services(db_url, redis_url, embedded=bool(stops))
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(tmp, ignore_errors=True)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch_database(srv: Services, prefix: str, **overrides: Any) -> AsyncIterator[Settings]:
    """Create and migrate a database of its own; yield Settings for it (own key ring, own queue); drop it."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    await _admin(srv.server_url, f'CREATE DATABASE "{name}"')
    owner_url = with_database(srv.server_url, name)
    try:
        await asyncio.to_thread(upgrade, owner_url)
        settings = Settings(
            database_url=owner_url,
            redis_url=srv.redis_url,
            app_database_url=app_url_from_owner_url(owner_url),
            encryption_keys=new_key_ring_entry("scratch1"),
            queue_name=f"arq:{prefix}:{secrets.token_hex(6)}",
            state_dir=Path(tempfile.gettempdir()),
        )
        yield replace(settings, **overrides)
    finally:
        await _admin(srv.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
