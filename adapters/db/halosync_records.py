"""Batch reads and writes of synced Halo records: one statement per page and table, on the driver.

Pages arrive 100 records at a time, tens of thousands per full sync, so each write is a single
`INSERT ... SELECT FROM unnest(...) ON CONFLICT (tenant_id, source, external_id) DO UPDATE` with one array
per column, run by asyncpg inside the unit of work's transaction (after its set_config: same tenant scope,
same row-level security). Rows the engine found unchanged are never sent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from adapters.db.driver import TenantRows, driver
from domain.events import DomainEvent
from domain.halopsa import HaloResource
from domain.halosync.ports import PAYMENT_SEEN, InvoiceWrite, StoredInvoice, StoredRef
from domain.halosync.records import HaloAgreement, HaloClient, HaloLine, HaloPayment
from domain.ids import new_id

_REF_TABLES = {
    HaloResource.CLIENTS: "clients",
    HaloResource.AGREEMENTS: "agreements",
    HaloResource.INVOICES: "invoices",
    HaloResource.PAYMENTS: "recorded_payments",
}


class RecordWrites(TenantRows):
    async def refs(self, resource: HaloResource, external_ids: Sequence[str]) -> dict[str, StoredRef]:
        if not external_ids:
            return {}
        table = _REF_TABLES[resource]
        subtype = "subtype" if resource is HaloResource.AGREEMENTS else "NULL::text"
        rows = await self._fetch(
            f"SELECT external_id, id, coalesce(content_hash, ''), {subtype} FROM {table} "
            "WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = ANY($2::text[])",
            list(set(external_ids)),
        )
        return {r[0]: StoredRef(r[1], r[2], r[3]) for r in rows}

    async def stored_invoices(self, external_ids: Sequence[str]) -> dict[str, StoredInvoice]:
        if not external_ids:
            return {}
        rows = await self._fetch(
            "SELECT external_id, id, coalesce(content_hash, ''), number, status, total, amount_paid, due_date, "
            "external_modified_at FROM invoices "
            "WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = ANY($2::text[])",
            list(external_ids),
        )
        return {r[0]: StoredInvoice(*r[1:]) for r in rows}

    async def taken_numbers(self, numbers: Sequence[str], except_external_ids: Sequence[str]) -> set[str]:
        if not numbers:
            return set()
        rows = await self._fetch(
            "SELECT DISTINCT number FROM invoices WHERE tenant_id = $1 AND number = ANY($2::text[]) "
            "AND (source <> 'halopsa' OR NOT external_id = ANY($3::text[]))",
            list(numbers),
            list(except_external_ids),
        )
        return {r[0] for r in rows}

    async def flag_duplicates(self, numbers: Sequence[str]) -> list[str]:
        if not numbers:
            return []
        rows = await self._fetch(
            "UPDATE invoices SET number_issue = 'duplicate' WHERE tenant_id = $1 AND source = 'halopsa' "
            "AND number = ANY($2::text[]) AND number_issue IS NULL RETURNING external_id",
            list(numbers),
        )
        return sorted(r[0] for r in rows)

    async def write_clients(self, rows: Sequence[tuple[uuid.UUID, HaloClient, str]], now: datetime) -> None:
        if not rows:
            return
        await self._execute(
            """
            INSERT INTO clients (tenant_id, id, name, billing_email, inactive, source, external_id, content_hash,
                                 created_at, updated_at)
            SELECT $1, u.id, u.name, u.email, u.inactive, 'halopsa', u.ext, u.hash, $7, $7
            FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], $8::text[])
                AS u(id, name, email, inactive, ext, hash)
            ON CONFLICT (tenant_id, source, external_id) DO UPDATE SET
                name = EXCLUDED.name, billing_email = EXCLUDED.billing_email, inactive = EXCLUDED.inactive,
                content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at
            """,
            [r[0] for r in rows],
            [r[1].name for r in rows],
            [r[1].billing_email for r in rows],
            [r[1].inactive for r in rows],
            [r[1].external_id for r in rows],
            now,
            [r[2] for r in rows],
        )

    async def write_agreements(
        self, rows: Sequence[tuple[uuid.UUID, uuid.UUID, HaloAgreement, str]], now: datetime
    ) -> None:
        if not rows:
            return
        a = [r[2] for r in rows]
        await self._execute(
            """
            INSERT INTO agreements (tenant_id, id, client_id, external_id, reference, type_name, subtype, start_date,
                                    end_date, active, billing_period, period_charge, content_hash, created_at,
                                    updated_at)
            SELECT $1, u.id, u.client_id, u.ext, u.ref, u.type_name, u.subtype, u.start_date, u.end_date, u.active,
                   u.period, u.charge, u.hash, $14, $14
            FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::date[],
                        $9::date[], $10::bool[], $11::int[], $12::bigint[], $13::text[])
                AS u(id, client_id, ext, ref, type_name, subtype, start_date, end_date, active, period, charge, hash)
            ON CONFLICT (tenant_id, source, external_id) DO UPDATE SET
                client_id = EXCLUDED.client_id, reference = EXCLUDED.reference, type_name = EXCLUDED.type_name,
                subtype = EXCLUDED.subtype, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
                active = EXCLUDED.active, billing_period = EXCLUDED.billing_period,
                period_charge = EXCLUDED.period_charge, content_hash = EXCLUDED.content_hash,
                updated_at = EXCLUDED.updated_at
            """,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [x.external_id for x in a],
            [x.reference for x in a],
            [x.type_name for x in a],
            [x.subtype for x in a],
            [x.start_date for x in a],
            [x.end_date for x in a],
            [x.active for x in a],
            [x.billing_period for x in a],
            [x.period_charge for x in a],
            [r[3] for r in rows],
            now,
        )

    async def write_invoices(self, rows: Sequence[InvoiceWrite], now: datetime) -> set[uuid.UUID]:
        if not rows:
            return set()
        # Numbers moving between invoices of this page (A takes B's, B takes A's) would collide row by row in
        # the unique index; flagged for the moment, they are out of it until the upsert sets them right.
        renumbered = [w.id for w in rows if not w.is_new]
        if renumbered:
            await self._execute(
                "UPDATE invoices i SET number_issue = 'duplicate' "
                "FROM unnest($2::uuid[], $3::text[]) AS u(id, number) "
                "WHERE i.tenant_id = $1 AND i.id = u.id AND i.number <> u.number AND i.number_issue IS NULL",
                renumbered,
                [w.number for w in rows if not w.is_new],
            )
        i = [w.record for w in rows]
        written = await self._fetch(
            """
            INSERT INTO invoices (tenant_id, id, client_id, number, currency, issue_date, due_date, subtotal,
                                  tax_total, total, amount_paid, status, voided_at, source, external_id,
                                  content_hash, number_issue, agreement_external_ids, external_modified_at,
                                  created_at, updated_at)
            SELECT $1, u.id, u.client_id, u.number, u.currency, u.issue_date, u.due_date, u.subtotal, u.tax_total,
                   u.subtotal + u.tax_total, u.paid, u.status, u.voided_at, 'halopsa', u.ext, u.hash, u.issue,
                   string_to_array(u.agreements, ' '), u.modified, $18, $18
            FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::date[], $7::date[], $8::bigint[],
                        $9::bigint[], $10::bigint[], $11::text[], $12::timestamptz[], $13::text[], $14::text[],
                        $15::text[], $16::text[], $17::timestamptz[])
                AS u(id, client_id, number, currency, issue_date, due_date, subtotal, tax_total, paid, status,
                     voided_at, ext, hash, issue, agreements, modified)
            ON CONFLICT (tenant_id, source, external_id) DO UPDATE SET
                client_id = EXCLUDED.client_id, number = EXCLUDED.number, currency = EXCLUDED.currency,
                issue_date = EXCLUDED.issue_date, due_date = EXCLUDED.due_date, subtotal = EXCLUDED.subtotal,
                tax_total = EXCLUDED.tax_total, total = EXCLUDED.total, amount_paid = EXCLUDED.amount_paid,
                status = EXCLUDED.status, voided_at = EXCLUDED.voided_at, content_hash = EXCLUDED.content_hash,
                number_issue = EXCLUDED.number_issue, agreement_external_ids = EXCLUDED.agreement_external_ids,
                external_modified_at = EXCLUDED.external_modified_at, updated_at = EXCLUDED.updated_at
            WHERE invoices.content_hash IS DISTINCT FROM EXCLUDED.content_hash
              AND (invoices.external_modified_at IS NULL
                   OR invoices.external_modified_at <= EXCLUDED.external_modified_at)
            RETURNING id, external_id
            """,
            [w.id for w in rows],
            [w.client_id for w in rows],
            [w.number for w in rows],
            [x.currency for x in i],
            [x.issue_date for x in i],
            [x.due_date for x in i],
            [x.subtotal for x in i],
            [x.tax_total for x in i],
            [x.amount_paid for x in i],
            [w.status for w in rows],
            [w.voided_at for w in rows],
            [x.external_id for x in i],
            [w.content_hash for w in rows],
            [w.number_issue for w in rows],
            [" ".join(x.agreement_external_ids) for x in i],
            [x.modified_at for x in i],
            now,
        )
        by_external = {w.record.external_id: w for w in rows}
        # (invoice id, its lines, whether it had lines before). An id not the one we gave a new invoice: another
        # transaction created it first and ours updated it; its lines are replaced too, and the caller emits
        # nothing for it (its creator did).
        targets = [
            (row_id, by_external[ext].record.lines, row_id != by_external[ext].id or not by_external[ext].is_new)
            for row_id, ext in written
        ]
        await self._write_lines(targets)
        return {row_id for row_id, _ in written}

    async def _write_lines(self, targets: Sequence[tuple[uuid.UUID, Sequence[HaloLine], bool]]) -> None:
        """Lines are replaced whole: Halo's line ids are not stable across edits of an invoice."""
        replaced = [invoice_id for invoice_id, _, existed in targets if existed]
        if replaced:
            await self._execute(
                "DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = ANY($2::uuid[])", replaced
            )
        lines = [(invoice_id, ln) for invoice_id, record_lines, _ in targets for ln in record_lines]
        if not lines:
            return
        await self._execute(
            """
            INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity, unit_amount,
                                       amount, tax_amount)
            SELECT $1, u.* FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::numeric[], $7::bigint[],
                                      $8::bigint[], $9::bigint[])
                AS u(id, invoice_id, position, description, quantity, unit_amount, amount, tax_amount)
            """,
            [new_id() for _ in lines],
            [inv for inv, _ in lines],
            [ln.position for _, ln in lines],
            [ln.description for _, ln in lines],
            [ln.quantity for _, ln in lines],
            [ln.unit_amount for _, ln in lines],
            [ln.amount for _, ln in lines],
            [ln.tax_amount for _, ln in lines],
        )

    async def write_payments(
        self, rows: Sequence[tuple[uuid.UUID, uuid.UUID, HaloPayment, str]], now: datetime
    ) -> None:
        if not rows:
            return
        p = [r[2] for r in rows]
        await self._execute(
            """
            INSERT INTO recorded_payments (tenant_id, id, invoice_id, external_id, amount, paid_on, method,
                                           content_hash, created_at, updated_at)
            SELECT $1, u.id, u.invoice_id, u.ext, u.amount, u.paid_on, u.method, u.hash, $9, $9
            FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::date[], $7::text[], $8::text[])
                AS u(id, invoice_id, ext, amount, paid_on, method, hash)
            ON CONFLICT (tenant_id, source, external_id) DO UPDATE SET
                invoice_id = EXCLUDED.invoice_id, amount = EXCLUDED.amount, paid_on = EXCLUDED.paid_on,
                method = EXCLUDED.method, content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at
            """,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [x.external_id for x in p],
            [x.amount for x in p],
            [x.paid_on for x in p],
            [x.method for x in p],
            [r[3] for r in rows],
            now,
        )

    async def remove_invoice(self, external_id: str, now: datetime) -> StoredInvoice | None:
        rows = await self._fetch(
            "UPDATE invoices SET status = 'void', voided_at = coalesce(voided_at, $3), updated_at = $3, "
            "content_hash = 'deleted', external_modified_at = 'infinity' "
            "WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = $2 "
            "AND content_hash IS DISTINCT FROM 'deleted' "
            "RETURNING id, content_hash, number, status, total, amount_paid, due_date, external_modified_at",
            external_id,
            now,
        )
        return StoredInvoice(*rows[0]) if rows else None

    async def mark_seen(self, run_id: uuid.UUID, external_ids: Sequence[str]) -> None:
        if external_ids:
            await self._execute(
                "INSERT INTO sync_seen (tenant_id, run_id, external_id) SELECT $1, $2, u FROM unnest($3::text[]) u "
                "ON CONFLICT DO NOTHING",
                run_id,
                list(external_ids),
            )

    async def unseen_invoices(self, run_id: uuid.UUID, *, unpaid_only: bool, limit: int) -> list[str]:
        """Live Halo invoices this run has not read (of those still owing, with `unpaid_only`). A set
        difference, which PostgreSQL hashes whatever its statistics of the freshly filled seen table say."""
        unpaid = "AND status IN ('open', 'partially_paid') " if unpaid_only else ""
        rows = await self._fetch(
            "SELECT external_id FROM (SELECT external_id FROM invoices WHERE tenant_id = $1 "
            f"AND source = 'halopsa' AND content_hash IS DISTINCT FROM 'deleted' {unpaid}"
            "EXCEPT SELECT external_id FROM sync_seen WHERE tenant_id = $1 AND run_id = $2) unseen "
            "ORDER BY external_id LIMIT $3",
            run_id,
            limit,
        )
        return [r[0] for r in rows]

    async def drop_unseen_payments(self, run_id: uuid.UUID) -> None:
        await self._execute(
            "DELETE FROM recorded_payments r WHERE r.tenant_id = $1 AND r.source = 'halopsa' AND r.external_id IN ("
            "SELECT external_id FROM recorded_payments WHERE tenant_id = $1 AND source = 'halopsa' "
            "EXCEPT SELECT substr(external_id, length($3) + 1) FROM sync_seen "
            "WHERE tenant_id = $1 AND run_id = $2 AND starts_with(external_id, $3))",
            run_id,
            PAYMENT_SEEN,
        )

    async def forget_seen(self, run_id: uuid.UUID) -> None:
        await self._execute("DELETE FROM sync_seen WHERE tenant_id = $1 AND run_id = $2", run_id)

    async def analyze(self) -> None:
        await (await driver(self.conn)).execute("SELECT analyze_synced_tables()")

    async def settle_duplicates(self, now: datetime) -> list[str]:
        """Invoices flagged duplicate whose number no other invoice holds any more: clean again."""
        rows = await self._fetch(
            """
            UPDATE invoices i SET number_issue = NULL, content_hash = NULL, updated_at = $2
            WHERE i.tenant_id = $1 AND i.number_issue = 'duplicate' AND NOT EXISTS (
                SELECT 1 FROM invoices o WHERE o.tenant_id = i.tenant_id AND o.number = i.number AND o.id <> i.id)
            RETURNING external_id
            """,
            now,
        )
        return [r[0] for r in rows]

    async def refresh_contract_billing(self, subtypes: Sequence[str], only: Sequence[str] | None = None) -> None:
        await self._execute(
            """
            UPDATE invoices i SET contract_billed = x.billed
            FROM (
                SELECT v.id, EXISTS (
                    SELECT 1 FROM agreements a WHERE a.tenant_id = v.tenant_id AND a.source = 'halopsa'
                    AND a.external_id = ANY(v.agreement_external_ids) AND a.subtype = ANY($2::text[])
                ) AS billed
                FROM invoices v WHERE v.tenant_id = $1 AND v.source = 'halopsa'
                  AND ($3::text[] IS NULL OR v.external_id = ANY($3::text[]))
            ) x
            WHERE i.tenant_id = $1 AND i.id = x.id AND i.contract_billed IS DISTINCT FROM x.billed
            """,
            list(subtypes),
            None if only is None else list(only),
        )

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
            [e.id for e in events],
            [e.type for e in events],
            [e.subject_id for e in events],
            [json.dumps(e.data) for e in events],
            [e.occurred_at for e in events],
        )
