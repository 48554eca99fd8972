"""A page of Halo invoices in two statements, one read and one write (domain/halosync/invoice_pages.py), plus
the rare ones for numbers that move or collide.

A full sync writes hundreds of pages, and on a busy two-core machine each round trip to PostgreSQL costs
about as much as a small statement's work, so a page's reads are one UNION ALL and its writes one statement
of data-modifying CTEs: the invoices' upsert, their lines (replaced whole), their events, the run's seen
list and the issues now resolved. The lines and the events join the upsert's RETURNING, so a row the upsert
skips (a newer copy is stored) takes neither with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from adapters.db.driver import TenantRows
from domain.events import DomainEvent
from domain.halosync.ids import new_ids
from domain.halosync.ports import InvoiceLookup, InvoicePageWrite, InvoiceWrite, StoredInvoice

_encode = msgspec.json.Encoder()

_LOOKUP = """
SELECT 0, external_id, id, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::date,
       NULL::timestamptz
FROM clients WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = ANY($2::text[])
UNION ALL
SELECT 1, external_id, id, coalesce(content_hash, ''), number, status, total, amount_paid, due_date,
       external_modified_at
FROM invoices WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = ANY($3::text[])
UNION ALL
SELECT 2, external_id, NULL, source, number, NULL, NULL, NULL, NULL, NULL
FROM invoices WHERE tenant_id = $1 AND number = ANY($4::text[])
"""

# Numbers moving between invoices of a page (A takes B's, B takes A's) would collide row by row in the unique
# index; flagged for the moment, they are out of it until the upsert sets them right. Its own statement: a
# row may not be changed twice in one.
_RENUMBER = """
UPDATE invoices i SET number_issue = 'duplicate'
FROM unnest($2::uuid[], $3::text[]) AS u(id, number)
WHERE i.tenant_id = $1 AND i.id = u.id AND i.number <> u.number AND i.number_issue IS NULL
"""

# The rows travel as JSON arrays of arrays, one per kind ($2 invoices, $4 lines, $5 events), read back with
# jsonb_array_elements and `->>` by position: PostgreSQL does about the same work as for a binary array per
# column, while encoding them is one msgspec call instead of asyncpg's per-element checks and codecs (which
# were a fifth of a full sync's CPU).
_WRITE = """
WITH u AS MATERIALIZED (
    SELECT (r->>0)::uuid AS id, (r->>1)::uuid AS client_id, r->>2 AS number, r->>3 AS currency,
           (r->>4)::date AS issue_date, (r->>5)::date AS due_date, (r->>6)::bigint AS subtotal,
           (r->>7)::bigint AS tax_total, (r->>8)::bigint AS paid, r->>9 AS status,
           (r->>10)::timestamptz AS voided_at, r->>11 AS ext, r->>12 AS hash, r->>13 AS issue,
           string_to_array(r->>14, ' ') AS agreements, (r->>15)::timestamptz AS modified, (r->>16)::bool AS is_new
    FROM jsonb_array_elements($2::jsonb) AS r
), written AS (
    INSERT INTO invoices (tenant_id, id, client_id, number, currency, issue_date, due_date, subtotal, tax_total,
                          total, amount_paid, status, voided_at, source, external_id, content_hash, number_issue,
                          agreement_external_ids, external_modified_at, created_at, updated_at)
    SELECT $1, u.id, u.client_id, u.number, u.currency, u.issue_date, u.due_date, u.subtotal, u.tax_total,
           u.subtotal + u.tax_total, u.paid, u.status, u.voided_at, 'halopsa', u.ext, u.hash, u.issue,
           u.agreements, u.modified, $3, $3
    FROM u
    ON CONFLICT (tenant_id, source, external_id) DO UPDATE SET
        client_id = EXCLUDED.client_id, number = EXCLUDED.number, currency = EXCLUDED.currency,
        issue_date = EXCLUDED.issue_date, due_date = EXCLUDED.due_date, subtotal = EXCLUDED.subtotal,
        tax_total = EXCLUDED.tax_total, total = EXCLUDED.total, amount_paid = EXCLUDED.amount_paid,
        status = EXCLUDED.status, voided_at = EXCLUDED.voided_at, content_hash = EXCLUDED.content_hash,
        number_issue = EXCLUDED.number_issue, agreement_external_ids = EXCLUDED.agreement_external_ids,
        external_modified_at = EXCLUDED.external_modified_at, updated_at = EXCLUDED.updated_at
    WHERE invoices.content_hash IS DISTINCT FROM EXCLUDED.content_hash
      AND (invoices.external_modified_at IS NULL OR invoices.external_modified_at <= EXCLUDED.external_modified_at)
    RETURNING id, external_id
), replaced AS (
    -- Lines are replaced whole (Halo's line ids are not stable across edits): those of an invoice that existed,
    -- ours or one another transaction created first (its id is not the one we gave). The ids as one array:
    -- probed in the lines' (tenant, invoice, position) index whatever the planner believes of the tables.
    DELETE FROM invoice_lines
    WHERE tenant_id = $1 AND invoice_id = ANY(ARRAY(
        SELECT w.id FROM written w JOIN u ON u.ext = w.external_id WHERE w.id <> u.id OR NOT u.is_new))
    RETURNING 1
), lines AS (
    INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity, unit_amount, amount,
                               tax_amount)
    SELECT $1, (r->>0)::uuid, w.id, (r->>2)::int, r->>3, (r->>4)::numeric, (r->>5)::bigint, (r->>6)::bigint,
           (r->>7)::bigint
    FROM jsonb_array_elements($4::jsonb) AS r JOIN written w ON w.external_id = r->>1
    -- Sub-statements run in no set order; this makes the old lines go first ((invoice, position) is unique).
    WHERE (SELECT count(*) FROM replaced) >= 0
), events AS (
    INSERT INTO outbox (tenant_id, id, event_type, subject_id, payload, occurred_at)
    SELECT $1, (r->>0)::uuid, r->>1, (r->>2)::uuid, r->3, (r->>4)::timestamptz
    FROM jsonb_array_elements($5::jsonb) AS r
    WHERE (r->>2)::uuid IN (SELECT id FROM written)
), seen AS (
    INSERT INTO sync_seen (tenant_id, run_id, external_id)
    SELECT $1, $6, s FROM jsonb_array_elements_text($7::jsonb) AS s WHERE $6::uuid IS NOT NULL
    ON CONFLICT DO NOTHING
), resolved AS (
    UPDATE sync_issues SET resolved_at = $3
    WHERE tenant_id = $1 AND resource = 'Invoice' AND resolved_at IS NULL
      AND external_id IN (SELECT jsonb_array_elements_text($8::jsonb))
)
SELECT id FROM written
"""


class InvoiceRows(TenantRows):
    """The invoice statements of the sync's transactions (the driver connection is looked up once per
    transaction, by TenantRows)."""

    async def invoice_lookup(
        self, client_ids: Sequence[str], external_ids: Sequence[str], numbers: Sequence[str]
    ) -> InvoiceLookup:
        clients: dict[str, uuid.UUID] = {}
        stored: dict[str, StoredInvoice] = {}
        holders: list[tuple[str, str, str | None]] = []
        if not (client_ids or external_ids or numbers):
            return InvoiceLookup(clients, stored, holders)
        for r in await self._fetch(_LOOKUP, list(client_ids), list(external_ids), list(numbers)):
            if r[0] == 0:
                clients[r[1]] = r[2]
            elif r[0] == 1:
                stored[r[1]] = StoredInvoice(r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
            else:
                holders.append((r[4], r[3], r[1]))
        return InvoiceLookup(clients, stored, holders)

    async def flag_duplicates(self, numbers: Sequence[str]) -> list[str]:
        if not numbers:
            return []
        rows = await self._fetch(
            "UPDATE invoices SET number_issue = 'duplicate' WHERE tenant_id = $1 AND source = 'halopsa' "
            "AND number = ANY($2::text[]) AND number_issue IS NULL RETURNING external_id",
            list(numbers),
        )
        return sorted(r[0] for r in rows)

    async def write_invoice_page(self, page: InvoicePageWrite, now: datetime) -> set[uuid.UUID]:
        rows = page.rows
        if not (rows or page.seen or page.clean):
            return set()
        renumbered = [w for w in rows if w.renumbered]
        if renumbered:
            await self._execute(_RENUMBER, [w.id for w in renumbered], [w.number for w in renumbered])
        written = await self._fetch(
            _WRITE,
            _json([_invoice_row(w) for w in rows]),
            now,
            _json(_line_rows(rows)),
            _json([[e.id, e.type, e.subject_id, e.data, e.occurred_at] for e in page.events]),
            page.seen_run,
            _json(list(page.seen) if page.seen_run else []),
            _json(list(page.clean)),
        )
        return {r[0] for r in written}

    async def add_events(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        await self._execute(
            """
            INSERT INTO outbox (tenant_id, id, event_type, subject_id, payload, occurred_at)
            SELECT $1, u.id, u.kind, u.subject, u.payload::jsonb, u.at
            FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::timestamptz[])
                AS u(id, kind, subject, payload, at)
            """,
            *_event_columns(events),
        )


def _json(value: Any) -> str:
    return _encode.encode(value).decode()


def _invoice_row(w: InvoiceWrite) -> list[Any]:
    x = w.record
    return [
        w.id, w.client_id, w.number, x.currency, x.issue_date, x.due_date, x.subtotal, x.tax_total, x.amount_paid,
        w.status, w.voided_at, x.external_id, w.content_hash, w.number_issue, " ".join(x.agreement_external_ids),
        x.modified_at, w.is_new,
    ]  # fmt: skip


def _line_rows(rows: Sequence[InvoiceWrite]) -> list[list[Any]]:
    lines = [(w.record.external_id, ln) for w in rows for ln in w.record.lines]
    return [
        [line_id, ext, ln.position, ln.description, ln.quantity, ln.unit_amount, ln.amount, ln.tax_amount]
        for line_id, (ext, ln) in zip(new_ids(len(lines)), lines, strict=True)
    ]


def _event_columns(events: Sequence[DomainEvent]) -> list[list[Any]]:
    return [
        [e.id for e in events],
        [e.type for e in events],
        [e.subject_id for e in events],
        [_json(e.data) for e in events],
        [e.occurred_at for e in events],
    ]
