"""Engines: one for the application role, one for the schema owner (migrations, operator tasks)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.config import Settings, sqlalchemy_url


def app_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(settings.app_database_url),
        # A fixed pool: overflow connections are closed on return, so bursts would open fresh backends
        # (and re-prepare statements) over and over.
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        # asyncpg's own statement cache plus SQLAlchemy's compiled cache keep hot queries cheap.
        connect_args={"server_settings": {"application_name": "arbridge"}},
    )


def owner_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(sqlalchemy_url(settings.database_url), pool_size=2, max_overflow=0)
