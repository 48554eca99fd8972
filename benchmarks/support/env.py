"""The services a benchmark runs against: the environment's PostgreSQL and Redis, or embedded ones.

A benchmark gets a fresh database (migrated, owned by the server URL's role) and a Settings for it; on exit the
database is dropped and any embedded server stopped, so a run leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from adapters.config import Settings, app_url_from_owner_url
from adapters.crypto import new_key_ring_entry
from adapters.db.migrate import upgrade


@dataclass(frozen=True)
class Servers:
    server_url: str  # owner role, maintenance database
    redis_url: str
    embedded: bool


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """DATABASE_URL / REDIS_URL when set; otherwise embedded servers in a temp dir, removed afterwards."""
    from sandbox.embedded import start_postgres, start_redis

    db_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    tmp = Path(tempfile.mkdtemp(prefix="arbridge-bench-"))
    stops: list[Any] = []
    try:
        if not db_url:
            db_url, pg = start_postgres(tmp / "postgres")
            stops.append(pg.cleanup)
        if not redis_url:
            redis_url, r = start_redis(tmp / "redis")
            stops.append(r.shutdown)
        yield Servers(db_url, redis_url, embedded=bool(stops))
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(tmp, ignore_errors=True)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@contextlib.asynccontextmanager
async def fresh_database(srv: Servers, prefix: str) -> AsyncIterator[Settings]:
    """Create, migrate, yield Settings for, and finally drop a database of its own."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(srv.server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    owner_url = with_database(srv.server_url, name)
    try:
        await asyncio.to_thread(upgrade, owner_url)
        yield Settings(
            database_url=owner_url,
            redis_url=srv.redis_url,
            app_database_url=app_url_from_owner_url(owner_url),
            encryption_keys=new_key_ring_entry("bench1"),
            queue_name=f"arq:bench:{secrets.token_hex(6)}",
            state_dir=Path(tempfile.gettempdir()),
        )
    finally:
        conn = await asyncpg.connect(srv.server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def app_env(settings: Settings) -> dict[str, str]:
    """The environment `api.app:create_app` (Settings.from_env) needs to serve this database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        APP_DATABASE_URL=settings.app_database_url,
        ARBRIDGE_ENCRYPTION_KEYS=settings.encryption_keys,
        ARBRIDGE_QUEUE=settings.queue_name,
        ARBRIDGE_DB_POOL_SIZE=str(settings.db_pool_size),
        ARBRIDGE_STATE_DIR=str(settings.state_dir),
    )
    return env
