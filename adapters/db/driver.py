"""Hot reads on the driver: a select compiled once by SQLAlchemy, run by asyncpg on the unit of work's connection.

For a page of rows, SQLAlchemy's execution and result layers (greenlet hops, a Row per row) cost more CPU than
the query's own round trip. These reads skip them and unpack asyncpg's records by position. They run inside
the transaction SQLAlchemy began, after its first statement (the tenant's set_config, see uow.py), so they
see the same tenant scope and row-level security; asyncpg's statement cache prepares each one once per
connection. Only for selects whose columns need no SQLAlchemy result processing (UUID, text, numeric, dates).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class DriverSelect:
    """`rows = await DriverSelect(stmt).fetch(conn, {"name": value, ...})`: a list of asyncpg records."""

    def __init__(self, stmt: Select[Any]) -> None:
        compiled = stmt.compile(dialect=_DIALECT)
        self.sql = str(compiled)  # the same SQL text SQLAlchemy would send: "$1::UUID" placeholders
        self.names = tuple(compiled.positiontup or ())  # bind parameter names in placeholder order

    async def fetch(self, conn: AsyncConnection, params: Mapping[str, Any]) -> list[Any]:
        # The transaction is already open: SQLAlchemy began it for the unit of work's set_config.
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        rows: list[Any] = await driver.fetch(self.sql, *[params[n] for n in self.names])
        return rows


async def driver(conn: AsyncConnection) -> Any:
    """asyncpg's connection under the unit of work's, inside its transaction (the tenant already set)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


_PLACEHOLDER = re.compile(r"\$([a-z_][a-z0-9_]*)")


class Statement:
    """Raw SQL written with named placeholders (`$tenant`, `$ids`, ...), numbered once for asyncpg (`$1`, ...).

    Long statements (several CTEs, a dozen arrays) read and compose better by name than by position; the text is
    fixed at import, so asyncpg prepares it once per connection. `$tenant` is always `$1` (see TenantRows)."""

    def __init__(self, sql: str) -> None:
        names = ["tenant"]

        def number(m: re.Match[str]) -> str:
            if m[1] not in names:
                names.append(m[1])
            return f"${names.index(m[1]) + 1}"

        self.sql = _PLACEHOLDER.sub(number, sql)
        self.names = tuple(names[1:])  # the parameters after the tenant, in placeholder order

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[n] for n in self.names]


class TenantRows:
    """Base of repositories that write raw SQL on the driver: every statement's `$1` is the tenant's id, so
    no query can forget its tenant filter (row-level security checks it again below)."""

    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._asyncpg: Any = None

    async def _driver(self) -> Any:
        """asyncpg's connection, looked up once (each lookup is a greenlet hop in SQLAlchemy)."""
        found = getattr(self, "_asyncpg", None)  # (a subclass may have its own __init__)
        if found is None:
            found = self._asyncpg = await driver(self.conn)
        return found

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await (await self._driver()).fetch(sql, self.tenant_id, *args))

    async def _execute(self, sql: str, *args: Any) -> None:
        await (await self._driver()).execute(sql, self.tenant_id, *args)

    async def _fetchrow(self, stmt: Statement, values: Mapping[str, Any]) -> Any:
        return await (await self._driver()).fetchrow(stmt.sql, self.tenant_id, *stmt.args(values))
