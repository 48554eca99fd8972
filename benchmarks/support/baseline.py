"""The raw floor for list_invoices: bare Litestar routes running our SQL through a plain asyncpg pool.

Serve with `uvicorn benchmarks.support.baseline:create_app --factory`. It connects as the application role
(BENCH_APP_DATABASE_URL), and each request does what our unit of work does, round trip for round trip:
acquire a connection, BEGIN, `SELECT set_config('app.tenant_id', $1::VARCHAR, true)`, the repository's selects
(byte-for-byte the SQL SQLAlchemy compiles for them), ROLLBACK, release. What it leaves out is the point:
no SQLAlchemy, no domain entities, no DI, no GraphQL engine; rows go straight to dicts and msgspec JSON.

Auth is a dict lookup of the bearer token (BENCH_TOKEN -> BENCH_TENANT_ID), as cheap as our verified-token
cache hit. The pool is as big as ours (BENCH_POOL_SIZE, max twice that, like pool_size + max_overflow) and
skips asyncpg's reset-on-release round trip: the tenant setting is transaction-local, nothing else to reset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Request, Response, get, post

SET_TENANT = "SELECT set_config('app.tenant_id', $1::VARCHAR, true)"
INVOICES = (
    "SELECT invoices.tenant_id, invoices.id, invoices.client_id, invoices.number, invoices.currency, "
    "invoices.issue_date, invoices.due_date, invoices.subtotal, invoices.tax_total, invoices.total, "
    "invoices.amount_paid, invoices.status, invoices.memo, invoices.created_at, invoices.updated_at, "
    "invoices.voided_at, invoices.source, invoices.external_id, invoices.number_issue, invoices.contract_billed "
    "\nFROM invoices \nWHERE invoices.tenant_id = $1::UUID ORDER BY invoices.id DESC \n"
    " LIMIT $2::INTEGER"
)
_LINES = (
    "SELECT invoice_lines.tenant_id, invoice_lines.id, invoice_lines.invoice_id, invoice_lines.position, "
    "invoice_lines.description, invoice_lines.quantity, invoice_lines.unit_amount, invoice_lines.amount, "
    "invoice_lines.tax_amount \nFROM invoice_lines \nWHERE invoice_lines.tenant_id = $1::UUID AND "
    "invoice_lines.invoice_id IN ({}) ORDER BY invoice_lines.invoice_id, invoice_lines.position"
)
_CLIENTS = (
    "SELECT clients.tenant_id, clients.id, clients.name, clients.billing_email, clients.address_line1, "
    "clients.address_line2, clients.address_city, clients.address_state, clients.address_postal_code, "
    "clients.address_country, clients.created_at, clients.updated_at \nFROM clients \n"
    "WHERE clients.tenant_id = $1::UUID AND clients.id IN ({})"
)


def _in_list(n: int) -> str:
    return ", ".join(f"${i}::UUID" for i in range(2, n + 2))


def lines_sql(n: int) -> str:
    return _LINES.format(_in_list(n))


def clients_sql(n: int) -> str:
    return _CLIENTS.format(_in_list(n))


_ONE = Decimal(1)


def _quantity(q: Decimal) -> Decimal:
    """The API's presentation of a numeric(14,4) quantity: 25.0000 -> 25, 1.5000 -> 1.5."""
    return q.quantize(_ONE) if q == q.to_integral_value() else q.normalize()


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


class Db:
    pool: asyncpg.Pool
    tokens: dict[str, uuid.UUID]


DB = Db()


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    size = int(os.environ.get("BENCH_POOL_SIZE", "10"))
    DB.pool = await asyncpg.create_pool(
        os.environ["BENCH_APP_DATABASE_URL"],
        min_size=size,
        max_size=2 * size,
        reset=_no_reset,
        server_settings={"application_name": "arbridge-baseline"},
    )
    DB.tokens = {"Bearer " + os.environ["BENCH_TOKEN"]: uuid.UUID(os.environ["BENCH_TENANT_ID"])}
    try:
        yield
    finally:
        await DB.pool.close()


async def _page(conn: asyncpg.Connection, tenant: uuid.UUID, limit: int) -> tuple[list[Any], dict[Any, list[Any]]]:
    rows = await conn.fetch(INVOICES, tenant, limit + 1)
    ids = [r["id"] for r in rows[:limit]]
    by_invoice: dict[Any, list[Any]] = {i: [] for i in ids}
    if ids:
        for ln in await conn.fetch(lines_sql(len(ids)), tenant, *ids):
            by_invoice[ln["invoice_id"]].append(ln)
    return rows, by_invoice


def _invoice(r: Any, lines: list[Any]) -> dict[str, Any]:
    return {
        "id": r["id"], "number": r["number"], "client_id": r["client_id"], "currency": r["currency"],
        "status": r["status"], "issue_date": r["issue_date"], "due_date": r["due_date"],
        "subtotal": r["subtotal"], "tax_total": r["tax_total"], "total": r["total"],
        "amount_paid": r["amount_paid"],
        "balance": 0 if r["status"] == "void" else r["total"] - r["amount_paid"],
        "memo": r["memo"],
        "lines": [
            {"id": ln["id"], "description": ln["description"], "quantity": _quantity(ln["quantity"]),
             "unit_amount": ln["unit_amount"], "amount": ln["amount"], "tax_amount": ln["tax_amount"]}
            for ln in lines
        ],
        "created_at": r["created_at"], "updated_at": r["updated_at"], "voided_at": r["voided_at"],
        "origin": None if r["source"] == "arbridge" else {
            "source": r["source"], "external_id": r["external_id"], "number_issue": r["number_issue"],
            "contract_billed": r["contract_billed"]},
        "object": "invoice",
    }  # fmt: skip


def _cursor(last_id: uuid.UUID) -> str:
    import base64

    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


@get("/health", sync_to_thread=False)
def health() -> Response[bytes]:
    return _json({"status": "ok"})


@get("/v1/invoices")
async def list_invoices(request: Request[Any, Any, Any]) -> Response[bytes]:
    tenant = DB.tokens.get(request.headers.get("authorization", ""))
    if tenant is None:
        return _json({"status": 401}, 401)
    limit = int(request.query_params.get("limit", 50))
    async with DB.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.fetchval(SET_TENANT, str(tenant))
            rows, lines = await _page(conn, tenant, limit)
        finally:
            await tx.rollback()
    has_more = len(rows) > limit
    data = [_invoice(r, lines[r["id"]]) for r in rows[:limit]]
    next_cursor = _cursor(rows[limit - 1]["id"]) if has_more else None
    return _json({"data": data, "has_more": has_more, "next_cursor": next_cursor, "object": "list"})


@post("/graphql", status_code=200)
async def graphql(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Answers the benchmark's one query shape (the body is decoded, not interpreted): invoices with clients."""
    tenant = DB.tokens.get(request.headers.get("authorization", ""))
    if tenant is None:
        return _json({"status": 401}, 401)
    first = int(msgspec.json.decode(await request.body()).get("variables", {}).get("first", 50))
    async with DB.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.fetchval(SET_TENANT, str(tenant))
            rows, _ = await _page(conn, tenant, first)
            client_ids = list({r["client_id"] for r in rows[:first]})
            found = await conn.fetch(clients_sql(len(client_ids)), tenant, *client_ids) if client_ids else []
        finally:
            await tx.rollback()
    names = {c["id"]: c["name"] for c in found}
    edges = [
        {"node": {"id": str(r["id"]), "number": r["number"],
                  "total": {"amount": r["total"], "currency": r["currency"]},
                  "client": {"id": str(r["client_id"]), "name": names[r["client_id"]]}}}
        for r in rows[:first]
    ]  # fmt: skip
    return _json({"data": {"invoices": {"edges": edges}}})


def create_app() -> Litestar:
    return Litestar(
        route_handlers=[health, list_invoices, graphql], lifespan=[lifespan], openapi_config=None, debug=False
    )
