"""Count the SQL statements a piece of work sends (the DataLoader and page-cost tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.driver import DriverSelect


@contextmanager
def recorded_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement `engine` runs meanwhile, in order: through SQLAlchemy, and the hot reads that go
    straight to the driver (out of sight of SQLAlchemy's events)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    fetch_on_driver = DriverSelect.fetch

    async def fetch(self: DriverSelect, conn: Any, params: Any) -> list[Any]:
        seen.append(self.sql)
        return await fetch_on_driver(self, conn, params)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        with patch.object(DriverSelect, "fetch", fetch):
            yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
