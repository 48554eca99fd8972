"""Batch reads and writes of synced Halo records: one statement per page and table, on the driver.

Pages arrive 100 records at a time, tens of thousands per full sync, so each write is a single
`INSERT ... SELECT FROM unnest(...) ON CONFLICT (tenant_id, source, external_id) DO UPDATE` with one array
per column, run by asyncpg inside the unit of work's transaction (after its set_config: same tenant scope,
same row-level security). Rows the engine found unchanged are never sent. Invoices: halosync_invoices.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.db.halosync_invoices import InvoiceRows
from domain.halopsa import HaloResource
from domain.halosync.ports import PAYMENT_SEEN, StoredInvoice, StoredRef
from domain.halosync.records import HaloAgreement, HaloClient, HaloPayment

_REF_TABLES = {
    HaloResource.CLIENTS: "clients",
    HaloResource.AGREEMENTS: "agreements",
    HaloResource.INVOICES: "invoices",
    HaloResource.PAYMENTS: "recorded_payments",
}


class RecordWrites(InvoiceRows):
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

    async def refs_of(self, wanted: dict[HaloResource, Sequence[str]]) -> dict[HaloResource, dict[str, StoredRef]]:
        """`refs` of several resources in one statement (a UNION ALL, one branch per resource)."""
        found: dict[HaloResource, dict[str, StoredRef]] = {resource: {} for resource in wanted}
        asked = [(resource, list(set(ids))) for resource, ids in wanted.items() if ids]
        if not asked:
            return found
        branches = [
            f"SELECT {n}, external_id, id, coalesce(content_hash, ''), "
            f"{'subtype' if resource is HaloResource.AGREEMENTS else 'NULL::text'} FROM {_REF_TABLES[resource]} "
            f"WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = ANY(${n + 2}::text[])"
            for n, (resource, _) in enumerate(asked)
        ]
        for r in await self._fetch(" UNION ALL ".join(branches), *[ids for _, ids in asked]):
            found[asked[r[0]][0]][r[1]] = StoredRef(r[2], r[3], r[4])
        return found

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

    async def write_payments(
        self,
        rows: Sequence[tuple[uuid.UUID, uuid.UUID, HaloPayment, str]],
        now: datetime,
        seen: Sequence[str] = (),
        seen_run: uuid.UUID | None = None,
    ) -> None:
        if not rows and not (seen and seen_run):
            return
        p = [r[2] for r in rows]
        await self._execute(
            """
            WITH seen AS (
                INSERT INTO sync_seen (tenant_id, run_id, external_id)
                SELECT $1, $10, s FROM unnest($11::text[]) s WHERE $10::uuid IS NOT NULL
                ON CONFLICT DO NOTHING
            )
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
            seen_run,
            list(seen) if seen_run else [],
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
        # The set difference as one array, computed once: as `IN (... EXCEPT ...)`, or joined, the planner ran
        # it again per payment when its statistics had not seen the tenant's rows yet (quadratic).
        await self._execute(
            "DELETE FROM recorded_payments WHERE tenant_id = $1 AND source = 'halopsa' AND external_id = ANY(ARRAY("
            "SELECT external_id FROM recorded_payments WHERE tenant_id = $1 AND source = 'halopsa' "
            "EXCEPT SELECT substr(external_id, length($3) + 1) FROM sync_seen "
            "WHERE tenant_id = $1 AND run_id = $2 AND starts_with(external_id, $3)))",
            run_id,
            PAYMENT_SEEN,
        )

    async def forget_seen(self, run_id: uuid.UUID) -> None:
        await self._execute("DELETE FROM sync_seen WHERE tenant_id = $1 AND run_id = $2", run_id)

    async def replan(self, resource: HaloResource, known_below: int) -> None:
        # Cached plans: asyncpg's prepared statements' and the foreign-key checks', this connection's only.
        # pg_class.reltuples: what the last ANALYZE counted (-1: never analysed); the planner scales it by
        # the table's current size, so only a table the statistics saw nearly empty needs analysing again.
        raw = await self._driver()
        await raw.execute("DISCARD PLANS")
        await raw.execute(
            "SELECT analyze_synced_tables() FROM pg_class WHERE oid = $1::text::regclass AND reltuples < $2",
            _REF_TABLES[resource],
            known_below,
        )

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
        """Only rows whose flag is wrong are written. Each invoice is checked against the contract-billed
        agreements' ids hashed once (a subplan per invoice probing the agreements' index cost a whole second
        at the end of a 50,000-invoice sync); with no subtype chosen, no agreement is looked at at all. `only`
        makes its own statement, so that a plan made without the values (generic) still uses the index."""
        args: list[Any] = [] if only is None else [list(only)]
        which = "" if only is None else "AND external_id = ANY($2::text[])"
        if not subtypes:
            await self._execute(
                "UPDATE invoices SET contract_billed = false "
                f"WHERE tenant_id = $1 AND source = 'halopsa' AND contract_billed {which}",
                *args,
            )
            return
        await self._execute(
            f"""
            UPDATE invoices SET contract_billed = NOT contract_billed
            WHERE tenant_id = $1 AND source = 'halopsa' {which}
              AND contract_billed <> EXISTS (
                  SELECT 1 FROM unnest(agreement_external_ids) AS x(ext)
                  WHERE x.ext IN (SELECT a.external_id FROM agreements a WHERE a.tenant_id = $1
                                  AND a.source = 'halopsa' AND a.subtype = ANY(${len(args) + 2}::text[])))
            """,
            *args,
            list(subtypes),
        )
