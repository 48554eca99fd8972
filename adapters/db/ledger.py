"""The ledger on PostgreSQL: one round trip per posting (or per batch); the database keeps balances and refuses edits.

`SqlLedger` lives inside one tenant's unit of work (the connection's transaction has `app.tenant_id` set).
What it writes is checked again by the database (migrations/versions/0004_ledger.py): balanced per currency at
commit, append-only, stored balances maintained by a trigger under row locks.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.driver import Statement, driver
from adapters.db.tables_money import ledger_accounts, ledger_entries, ledger_transactions
from domain.ids import new_id
from domain.ledger import CHART, Balances, Entry, KeyReused, Kind, LedgerTransaction, Reference
from domain.pagination import Page, PageRequest, page_of

# Transactions, the accounts they need (created from the chart on first use), and their entries, as CTEs that
# another statement can carry too: a payment's settlement writes its postings in its own single statement
# (adapters/db/attempts.py). Entries join the accounts as the statement's snapshot sees them plus those it
# creates; an account another transaction created after that snapshot is missing from the join, and
# `_POST_MISSING` catches up. A transaction whose key was recorded before is skipped with its entries.
RECORD_CTES = """
lt AS (
    INSERT INTO ledger_transactions (tenant_id, id, kind, idempotency_key, reference_type, reference_id,
                                     external_id, reverses_id, occurred_at)
    SELECT $tenant::uuid, t.* FROM unnest($lt_ids::uuid[], $lt_kinds::text[], $lt_keys::text[],
        $lt_ref_types::text[], $lt_ref_ids::uuid[], $lt_external_ids::text[], $lt_reverses::uuid[],
        $lt_occurred::timestamptz[]) AS t
    -- Any conflict: the same key (an event recorded again), or the same transaction recorded twice at once.
    ON CONFLICT DO NOTHING
    RETURNING id
), la_wanted AS (
    SELECT * FROM unnest($la_ids::uuid[], $la_codes::text[], $la_names::text[], $la_types::text[],
                         $la_currencies::char(3)[]) AS w(id, code, name, type, currency)
), la_existing AS (
    SELECT a.id, a.code, a.currency FROM ledger_accounts a JOIN la_wanted w USING (code, currency)
    WHERE a.tenant_id = $tenant::uuid
), la_created AS (
    INSERT INTO ledger_accounts (tenant_id, id, code, name, type, currency)
    SELECT $tenant::uuid, w.id, w.code, w.name, w.type, w.currency FROM la_wanted w
    WHERE EXISTS (SELECT FROM lt)
      AND NOT EXISTS (SELECT FROM la_existing x WHERE (x.code, x.currency) = (w.code, w.currency))
    ON CONFLICT (tenant_id, code, currency) DO NOTHING
    RETURNING id, code, currency
), le AS (
    INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount, invoice_id)
    SELECT $tenant::uuid, e.id, e.transaction_id, acc.id, e.currency, e.amount, e.invoice_id
    FROM unnest($le_ids::uuid[], $le_transactions::uuid[], $le_codes::text[], $le_currencies::char(3)[],
                $le_amounts::bigint[], $le_invoices::uuid[])
         AS e(id, transaction_id, code, currency, amount, invoice_id)
    JOIN (SELECT * FROM la_existing UNION ALL SELECT * FROM la_created) acc USING (code, currency)
    WHERE e.transaction_id IN (SELECT id FROM lt)
    RETURNING transaction_id
)"""
# What the CTEs did: the transactions recorded, and one element per entry posted (its transaction's id).
RECORD_RESULT = "ARRAY(SELECT id FROM lt) AS ledger_recorded, ARRAY(SELECT transaction_id FROM le) AS ledger_posted"
_RECORD = Statement(f"WITH {RECORD_CTES} SELECT {RECORD_RESULT}")

_POST_MISSING = Statement("""
INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount, invoice_id)
SELECT $tenant::uuid, e.id, e.transaction_id, a.id, e.currency, e.amount, e.invoice_id
FROM unnest($le_ids::uuid[], $le_transactions::uuid[], $le_codes::text[], $le_currencies::char(3)[],
            $le_amounts::bigint[], $le_invoices::uuid[]) AS e(id, transaction_id, code, currency, amount, invoice_id)
JOIN ledger_accounts a ON a.tenant_id = $tenant::uuid AND a.code = e.code AND a.currency = e.currency
ON CONFLICT (tenant_id, id) DO NOTHING
""")


def record_values(txs: Sequence[LedgerTransaction]) -> dict[str, Any]:
    """The RECORD_CTES parameters for these transactions (the tenant apart)."""
    wanted = sorted({(e.account, e.currency) for tx in txs for e in tx.entries})
    entries = [(tx.id, e) for tx in txs for e in tx.entries]
    return {
        "lt_ids": [tx.id for tx in txs],
        "lt_kinds": [tx.kind.value for tx in txs],
        "lt_keys": [tx.key for tx in txs],
        "lt_ref_types": [tx.reference.type for tx in txs],
        "lt_ref_ids": [tx.reference.id for tx in txs],
        "lt_external_ids": [tx.reference.external_id for tx in txs],
        "lt_reverses": [tx.reverses for tx in txs],
        "lt_occurred": [tx.occurred_at for tx in txs],
        "la_ids": [new_id() for _ in wanted],
        "la_codes": [code for code, _ in wanted],
        "la_names": [CHART[code].name for code, _ in wanted],
        "la_types": [CHART[code].type.value for code, _ in wanted],
        "la_currencies": [cur for _, cur in wanted],
        "le_ids": [new_id() for _ in entries],  # time-ordered: entry order is kept
        "le_transactions": [tx_id for tx_id, _ in entries],
        "le_codes": [e.account for _, e in entries],
        "le_currencies": [e.currency for _, e in entries],
        "le_amounts": [e.amount for _, e in entries],
        "le_invoices": [e.invoice_id for _, e in entries],
    }


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
    """One tenant's ledger on the unit of work's connection (see domain.ports.Ledger)."""

    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    async def record(self, tx: LedgerTransaction) -> bool:
        """Record the transaction; False when its key was recorded before (with the same entries: a redelivered
        event), KeyReused when with different ones. Balanced-ness is checked again by the database at commit."""
        return (await self.record_all([tx]))[0]

    async def record_all(self, txs: Sequence[LedgerTransaction]) -> list[bool]:
        """`record` for several transactions in one statement (one trigger run locks and updates their accounts)."""
        values = record_values(txs)
        raw = await driver(self.conn)
        row = await raw.fetchrow(_RECORD.sql, self.tenant_id, *_RECORD.args(values))
        return await self.recorded(txs, values, row["ledger_recorded"], row["ledger_posted"])

    async def recorded(
        self, txs: Sequence[LedgerTransaction], values: dict[str, Any], recorded: list[uuid.UUID],
        posted: list[uuid.UUID],
    ) -> list[bool]:  # fmt: skip
        """After RECORD_CTES ran (here or in another statement): check the transactions it skipped (their key was
        recorded before) and post the entries an account created concurrently kept out of its join."""
        done, counts = set(recorded), Counter(posted)
        for tx in txs:
            if tx.id not in done:
                await self._same_as_recorded(tx)
        if any(counts[tx.id] != len(tx.entries) for tx in txs if tx.id in done):
            raw = await driver(self.conn)
            await raw.execute(_POST_MISSING.sql, self.tenant_id, *_POST_MISSING.args(values))
        return [tx.id in done for tx in txs]

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
