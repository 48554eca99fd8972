"""Bulk seeding in SQL as the schema owner: tenants, clients, invoices and their lines, in seconds.

Each tenant is seeded in its own transaction after `set_config('app.tenant_id', ...)`, so the inserts pass the
row-level-security policies even when the owner role is not a superuser. Ids are UUIDv7 built in SQL from the
row's created_at (one distinct millisecond per invoice), so id order is creation order, as the API assumes.
Amounts follow the domain's rules (line amount = quantity x unit amount, totals = sums of lines, status
consistent with amount_paid), so what the API computes from lines equals what the table stores.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import asyncpg

from domain.ids import new_id

BASE_TS = "2025-01-01T00:00:00Z"


def uuid7_sql(ts: str) -> str:
    """A UUIDv7 from the timestamptz expression `ts`: 48-bit unix ms, version 7, variant and random bits."""
    ms = f"substring(int8send((extract(epoch FROM {ts}) * 1000)::bigint) FROM 3)"
    v4 = f"overlay(uuid_send(gen_random_uuid()) PLACING {ms} FROM 1 FOR 6)"  # version 4 (0100) ...
    return f"encode(set_bit(set_bit({v4}, 52, 1), 53, 1), 'hex')::uuid"  # ... with two bits set: 0111, version 7


def _line_unit(b: str, p: str) -> str:
    return f"({b} + 500 * {p})"


def _line_amount(b: str, p: str) -> str:
    return f"(({p} + 1) * {_line_unit(b, p)})"  # quantity = position + 1


def _line_tax(b: str, p: str) -> str:
    return f"({_line_amount(b, p)} / 10)"


_CLIENTS = f"""
INSERT INTO clients (tenant_id, id, name, billing_email, address_line1, address_city, address_state,
                     address_postal_code, address_country, created_at, updated_at)
SELECT $1::uuid, {uuid7_sql("ts")}, 'Client ' || g || ' Dental', 'billing' || g || '@client' || g || '.example',
       g || ' Main Street', 'Springfield', 'CA', lpad(g::text, 5, '0'), 'US', ts, ts
FROM generate_series(1, $2::int) AS g
CROSS JOIN LATERAL (SELECT '{BASE_TS}'::timestamptz + g * interval '1 second' AS ts) AS t
"""

_INVOICES = f"""
WITH c AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM clients WHERE tenant_id = $1::uuid)
INSERT INTO invoices (tenant_id, id, client_id, number, currency, issue_date, due_date, subtotal, tax_total, total,
                      amount_paid, status, memo, created_at, updated_at, voided_at)
SELECT $1::uuid, {uuid7_sql("v.ts")}, c.id, 'INV-' || lpad(g::text, 7, '0'), 'USD', v.ts::date, v.ts::date + 30,
       s.sub, s.tax, s.sub + s.tax,
       CASE g % 10 WHEN 0 THEN s.sub + s.tax WHEN 1 THEN (s.sub + s.tax) / 2 ELSE 0 END,
       CASE g % 10 WHEN 0 THEN 'paid' WHEN 1 THEN 'partially_paid' WHEN 2 THEN 'void' ELSE 'open' END,
       CASE WHEN g % 7 = 0 THEN 'Net 30. Thank you for your business.' END,
       v.ts, v.ts, CASE WHEN g % 10 = 2 THEN v.ts + interval '1 day' END
FROM generate_series(1, $2::int) AS g
CROSS JOIN LATERAL (SELECT '{BASE_TS}'::timestamptz + g * interval '3 minutes' AS ts,
                           1000 + (g * 7919) % 90000 AS b) AS v
CROSS JOIN LATERAL (SELECT sum({_line_amount("v.b", "p")})::bigint AS sub, sum({_line_tax("v.b", "p")})::bigint AS tax
                    FROM generate_series(0, $3::int - 1) AS p) AS s
JOIN c ON c.rn = g % $4::int + 1
"""

_LINES = f"""
INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity, unit_amount, amount, tax_amount)
SELECT i.tenant_id, {uuid7_sql("i.created_at")}, i.id, p, 'Managed services, tier ' || (p + 1), p + 1,
       {_line_unit("v.b", "p")}, {_line_amount("v.b", "p")}, {_line_tax("v.b", "p")}
FROM invoices AS i
CROSS JOIN LATERAL (SELECT 1000 + (substr(i.number, 5)::int * 7919) % 90000 AS b) AS v
CROSS JOIN generate_series(0, $2::int - 1) AS p
WHERE i.tenant_id = $1::uuid
"""


@dataclass(frozen=True)
class Seeded:
    tenant_ids: list[uuid.UUID]
    invoices: int
    lines: int
    clients: int
    seconds: float


async def seed(owner_url: str, tenants: int, invoices: int, clients_per_tenant: int, lines: int) -> Seeded:
    """`invoices` in total, spread evenly over `tenants`; then VACUUM ANALYZE so plans and hint bits are settled."""
    started = time.perf_counter()
    per_tenant = invoices // tenants
    tenant_ids = [new_id() for _ in range(tenants)]
    conn = await asyncpg.connect(owner_url)
    try:
        for n, tid in enumerate(tenant_ids):
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tid))
                await conn.execute(
                    "INSERT INTO tenants (id, name, timezone, created_at) VALUES ($1, $2, 'UTC', now())",
                    tid,
                    f"Bench MSP {n + 1}",
                )
                await conn.execute(_CLIENTS, tid, clients_per_tenant)
                await conn.execute(_INVOICES, tid, per_tenant, lines, clients_per_tenant)
                await conn.execute(_LINES, tid, lines)
        await conn.execute("VACUUM ANALYZE tenants, clients, invoices, invoice_lines")
    finally:
        await conn.close()
    return Seeded(
        tenant_ids,
        per_tenant * tenants,
        per_tenant * tenants * lines,
        clients_per_tenant * tenants,
        time.perf_counter() - started,
    )
