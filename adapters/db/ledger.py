"""The ledger on PostgreSQL: one round trip per posting; the database keeps balances and refuses edits.

`SqlLedger` lives inside one tenant's unit of work (the connection's transaction has `app.tenant_id` set).
What it writes is checked again by the database (migrations/versions/0004_ledger.py): balanced per currency at
commit, append-only, stored balances maintained by a trigger under row locks.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Select, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables_money import ledger_accounts, ledger_entries, ledger_transactions
from domain.ids import new_id
from domain.ledger import CHART, Balances, Entry, KeyReused, Kind, LedgerTransaction, Reference
from domain.pagination import Page, PageRequest, page_of

# The transaction, the accounts it needs (created from the chart on first use), and its entries, in one
# statement. Entries join the accounts as this statement's snapshot sees them plus those it creates; an account
# another transaction created after that snapshot is missing from the join, and `_post_missing` catches up.
_RECORD = text("""
WITH t AS (
    INSERT INTO ledger_transactions (tenant_id, id, kind, idempotency_key, reference_type, reference_id,
                                     external_id, reverses_id, occurred_at)
    VALUES (CAST(:tenant AS uuid), CAST(:id AS uuid), CAST(:kind AS text), CAST(:key AS text),
            CAST(:ref_type AS text), CAST(:ref_id AS uuid), CAST(:external_id AS text), CAST(:reverses AS uuid),
            CAST(:occurred_at AS timestamptz))
    -- Any conflict: the same key (an event recorded again), or the same transaction recorded twice at once.
    ON CONFLICT DO NOTHING
    RETURNING id
), wanted AS (
    SELECT * FROM unnest(CAST(:acc_ids AS uuid[]), CAST(:acc_codes AS text[]), CAST(:acc_names AS text[]),
                         CAST(:acc_types AS text[]), CAST(:acc_currencies AS char(3)[]))
                  AS w(id, code, name, type, currency)
), existing AS (
    SELECT a.id, a.code, a.currency FROM ledger_accounts a JOIN wanted w USING (code, currency)
    WHERE a.tenant_id = CAST(:tenant AS uuid)
), created AS (
    INSERT INTO ledger_accounts (tenant_id, id, code, name, type, currency)
    SELECT CAST(:tenant AS uuid), w.id, w.code, w.name, w.type, w.currency FROM wanted w
    WHERE EXISTS (SELECT FROM t)
      AND NOT EXISTS (SELECT FROM existing x WHERE (x.code, x.currency) = (w.code, w.currency))
    ON CONFLICT (tenant_id, code, currency) DO NOTHING
    RETURNING id, code, currency
), posted AS (
    INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount, invoice_id)
    SELECT CAST(:tenant AS uuid), e.id, CAST(:id AS uuid), acc.id, e.currency, e.amount, e.invoice_id
    FROM unnest(CAST(:e_ids AS uuid[]), CAST(:e_codes AS text[]), CAST(:e_currencies AS char(3)[]),
                CAST(:e_amounts AS bigint[]), CAST(:e_invoices AS uuid[])) AS e(id, code, currency, amount, invoice_id)
    JOIN (SELECT * FROM existing UNION ALL SELECT * FROM created) acc USING (code, currency)
    WHERE EXISTS (SELECT FROM t)
    RETURNING 1
)
SELECT (SELECT count(*) FROM t) AS recorded, (SELECT count(*) FROM posted) AS posted
""")

_POST_MISSING = text("""
INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount, invoice_id)
SELECT CAST(:tenant AS uuid), e.id, CAST(:id AS uuid), a.id, e.currency, e.amount, e.invoice_id
FROM unnest(CAST(:e_ids AS uuid[]), CAST(:e_codes AS text[]), CAST(:e_currencies AS char(3)[]),
            CAST(:e_amounts AS bigint[]), CAST(:e_invoices AS uuid[])) AS e(id, code, currency, amount, invoice_id)
JOIN ledger_accounts a ON a.tenant_id = CAST(:tenant AS uuid) AND a.code = e.code AND a.currency = e.currency
ON CONFLICT (tenant_id, id) DO NOTHING
""")

_RECOMPUTED = text("SELECT code, currency, recomputed FROM ledger_recomputed_balances()")

_UNBALANCED = text("""
SELECT transaction_id FROM ledger_entries WHERE tenant_id = CAST(:tenant AS uuid)
GROUP BY transaction_id, currency HAVING sum(amount) <> 0
""")

_ENTRY_COLUMNS = (
    ledger_entries.c.transaction_id,
    ledger_accounts.c.code,
    ledger_entries.c.amount,
    ledger_entries.c.currency,
    ledger_entries.c.invoice_id,
)
_ENTRIES_JOIN = ledger_entries.join(
    ledger_accounts,
    (ledger_accounts.c.tenant_id == ledger_entries.c.tenant_id) & (ledger_accounts.c.id == ledger_entries.c.account_id),
)
_UUIDS = ARRAY(UUID(as_uuid=True))


class SqlLedger:
    """One tenant's ledger on the unit of work's connection (see domain.ledger.Ledger)."""

    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    async def record(self, tx: LedgerTransaction) -> bool:
        """Record the transaction; False when its key was recorded before (with the same entries: a redelivered
        event), KeyReused when with different ones. Balanced-ness is checked again by the database at commit."""
        params = self._record_params(tx)
        counts = (await self.conn.execute(_RECORD, params)).one()
        if counts.recorded == 0:
            await self._same_as_recorded(tx)
            return False
        if counts.posted != len(tx.entries):  # an account created concurrently, after our snapshot
            await self.conn.execute(_POST_MISSING, params)
        return True

    def _record_params(self, tx: LedgerTransaction) -> dict[str, Any]:
        wanted = sorted({(e.account, e.currency) for e in tx.entries})
        return {
            "tenant": self.tenant_id,
            "id": tx.id,
            "kind": tx.kind.value,
            "key": tx.key,
            "ref_type": tx.reference.type,
            "ref_id": tx.reference.id,
            "external_id": tx.reference.external_id,
            "reverses": tx.reverses,
            "occurred_at": tx.occurred_at,
            "acc_ids": [new_id() for _ in wanted],
            "acc_codes": [code for code, _ in wanted],
            "acc_names": [CHART[code].name for code, _ in wanted],
            "acc_types": [CHART[code].type.value for code, _ in wanted],
            "acc_currencies": [cur for _, cur in wanted],
            "e_ids": [new_id() for _ in tx.entries],  # time-ordered: entry order is kept
            "e_codes": [e.account for e in tx.entries],
            "e_currencies": [e.currency for e in tx.entries],
            "e_amounts": [e.amount for e in tx.entries],
            "e_invoices": [e.invoice_id for e in tx.entries],
        }

    async def _same_as_recorded(self, tx: LedgerTransaction) -> None:
        before = await self.find(tx.key)
        if before is None:  # cannot happen: the key conflicted, and the row is never deleted
            raise RuntimeError(f"ledger key {tx.key} conflicted but is not visible")
        if before.kind != tx.kind or Counter(before.entries) != Counter(tx.entries):
            raise KeyReused(f"{tx.key} was recorded before with different entries")

    async def balances(self) -> Balances:
        """Stored balances, debit-positive, per (account code, currency)."""
        q = select(ledger_accounts.c.code, ledger_accounts.c.currency, ledger_accounts.c.balance).where(
            ledger_accounts.c.tenant_id == self.tenant_id
        )
        return {(r.code, r.currency): r.balance for r in await self.conn.execute(q)}

    async def recomputed_balances(self) -> Balances:
        """The same balances summed from the entries (the check of the stored ones)."""
        return {(r.code, r.currency): r.recomputed for r in await self.conn.execute(_RECOMPUTED)}

    async def unbalanced_transactions(self) -> list[uuid.UUID]:
        """Ids of committed transactions whose entries do not sum to zero per currency (always none)."""
        return [r[0] for r in await self.conn.execute(_UNBALANCED, {"tenant": self.tenant_id})]

    async def entries_of(self, reference: Reference) -> list[Entry]:
        """Every entry posted about this invoice, payment or payout, in posting order."""
        q = (
            select(*_ENTRY_COLUMNS)
            .select_from(
                _ENTRIES_JOIN.join(
                    ledger_transactions,
                    (ledger_transactions.c.tenant_id == ledger_entries.c.tenant_id)
                    & (ledger_transactions.c.id == ledger_entries.c.transaction_id),
                )
            )
            .where(
                ledger_entries.c.tenant_id == self.tenant_id,
                ledger_transactions.c.reference_type == reference.type,
                ledger_transactions.c.reference_id == reference.id,
            )
            .order_by(ledger_entries.c.id)
        )
        return [_entry(r) for r in await self.conn.execute(q)]

    async def get(self, tx_id: uuid.UUID) -> LedgerTransaction | None:
        found = await self._load(self._txs().where(ledger_transactions.c.id == tx_id))
        return found[0] if found else None

    async def find(self, key: str) -> LedgerTransaction | None:
        """The transaction recorded under an idempotency key, e.g. `payment_succeeded:<payment id>`."""
        found = await self._load(self._txs().where(ledger_transactions.c.idempotency_key == key))
        return found[0] if found else None

    async def list_page(
        self, page: PageRequest, *, kind: Kind | None = None, reference: Reference | None = None
    ) -> Page[LedgerTransaction]:
        """Newest first; the cursor is the last transaction id seen."""
        q = self._txs()
        if kind is not None:
            q = q.where(ledger_transactions.c.kind == kind.value)
        if reference is not None:
            q = q.where(
                ledger_transactions.c.reference_type == reference.type,
                ledger_transactions.c.reference_id == reference.id,
            )
        if page.after is not None:
            q = q.where(ledger_transactions.c.id < page.after)
        rows = await self._load(q.order_by(ledger_transactions.c.id.desc()).limit(page.limit + 1))
        return page_of(rows, page.limit)

    def _txs(self) -> Select[Any]:
        return select(ledger_transactions).where(ledger_transactions.c.tenant_id == self.tenant_id)

    async def _load(self, q: Select[Any]) -> list[LedgerTransaction]:
        """Transactions and, in a second query, all their entries."""
        rows = (await self.conn.execute(q)).all()
        if not rows:
            return []
        eq = (
            select(*_ENTRY_COLUMNS)
            .select_from(_ENTRIES_JOIN)
            .where(
                ledger_entries.c.tenant_id == self.tenant_id,
                ledger_entries.c.transaction_id == any_(bindparam("ids", type_=_UUIDS)),
            )
            .order_by(ledger_entries.c.id)
        )
        entries: defaultdict[uuid.UUID, list[Entry]] = defaultdict(list)
        for r in await self.conn.execute(eq, {"ids": [row.id for row in rows]}):
            entries[r.transaction_id].append(_entry(r))
        return [_transaction(row, entries[row.id]) for row in rows]


def _entry(r: Any) -> Entry:
    return Entry(r.code, r.amount, r.currency, r.invoice_id)


def _transaction(r: Any, entries: list[Entry]) -> LedgerTransaction:
    return LedgerTransaction(
        kind=Kind(r.kind),
        key=r.idempotency_key,
        reference=Reference(r.reference_type, r.reference_id, r.external_id),
        occurred_at=r.occurred_at,
        entries=tuple(entries),
        id=r.id,
        reverses=r.reverses_id,
    )
