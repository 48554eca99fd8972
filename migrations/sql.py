"""Shared by the migration scripts: run a multi-statement SQL script as one unit."""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def run_script(script: str) -> None:
    """Through asyncpg's simple-query protocol: one round trip, no prepared statement (which would refuse
    several commands), inside the migration's transaction."""
    raw = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(raw.execute(script))
