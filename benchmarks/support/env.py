"""The services a benchmark runs against: the environment's PostgreSQL and Redis, or embedded ones.

A benchmark gets a fresh database (migrated, owned by the server URL's role) and a Settings for it; on exit the
database is dropped and any embedded server stopped, so a run leaves nothing behind (see sandbox/scratch.py).
"""

from __future__ import annotations

import functools
import os

from adapters.config import Settings
from sandbox.scratch import Services, scratch_database, services

# Throwaway servers and databases are shared with the test suite (sandbox/scratch.py).
Servers = Services
servers = functools.partial(services, "arbridge-bench-")
fresh_database = scratch_database


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
