"""The ledger on PostgreSQL: recording, idempotency, append-only, balanced at commit, stored balances, isolation."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.db.uow import SqlUnitOfWork, set_tenant
from domain import ledger as L
from domain.ledger import KeyReused, Kind, Reference
from domain.pagination import PageRequest
from tests.conftest import new_tenant
from tests.ledger.support import AT, read, record


async def _tenant(engine: AsyncEngine, name: str = "Ledger MSP") -> uuid.UUID:
    return (await new_tenant(engine, name)).tenant_id


def _sale(
    invoice: uuid.UUID, payment: uuid.UUID, amount: int = 10_000, surcharge: int = 300
) -> list[L.LedgerTransaction]:
    return [
        L.invoice_issued(invoice, amount=amount, currency="USD", occurred_at=AT),
        L.payment_succeeded(
            payment, allocations={invoice: amount}, surcharge=surcharge, amount=amount + surcharge, currency="USD",
            occurred_at=AT, external_id="pi_1",
        ),
        L.processing_fee(payment, fee=329, currency="USD", occurred_at=AT, balance_transaction=f"txn_{payment}"),
    ]  # fmt: skip


async def test_postings_move_balances_and_match_the_recomputation(engine: AsyncEngine) -> None:
    tenant = await _tenant(engine)
    inv, pay = uuid.uuid4(), uuid.uuid4()
    payout = L.payout(uuid.uuid4(), amount=9_000, currency="USD", occurred_at=AT)
    assert await record(engine, tenant, *_sale(inv, pay), payout) == [True] * 4
    balances = await read(engine, tenant, lambda lg: lg.balances())
    assert balances[("accounts_receivable", "USD")] == 0
    assert balances[("revenue", "USD")] == -10_000
    assert balances[("surcharge_income", "USD")] == -300
    assert balances[("processing_fees", "USD")] == 329
    assert balances[("stripe_clearing", "USD")] == 10_300 - 329 - 9_000
    assert balances[("bank", "USD")] == 9_000
    assert balances == await read(engine, tenant, lambda lg: lg.recomputed_balances())
    assert await read(engine, tenant, lambda lg: lg.unbalanced_transactions()) == []


async def test_reads_entries_transactions_and_pages(engine: AsyncEngine) -> None:
    tenant = await _tenant(engine)
    inv, pay = uuid.uuid4(), uuid.uuid4()
    txs = _sale(inv, pay)
    await record(engine, tenant, *txs)

    entries = await read(engine, tenant, lambda lg: lg.entries_of(Reference("payment", pay)))
    assert entries == [*txs[1].entries, *txs[2].entries]  # payment then fee, in posting order
    got = await read(engine, tenant, lambda lg: lg.get(txs[1].id))
    assert got == txs[1]
    assert await read(engine, tenant, lambda lg: lg.find(f"payment_succeeded:{pay}")) == txs[1]
    assert await read(engine, tenant, lambda lg: lg.find("payment_succeeded:nope")) is None

    first = await read(engine, tenant, lambda lg: lg.list_page(PageRequest(limit=2)))
    assert [t.id for t in first.items] == [txs[2].id, txs[1].id] and first.has_more
    second = await read(engine, tenant, lambda lg: lg.list_page(PageRequest.build(2, first.next_cursor)))
    assert [t.id for t in second.items] == [txs[0].id] and not second.has_more
    fees = await read(engine, tenant, lambda lg: lg.list_page(PageRequest(), kind=Kind.PROCESSING_FEE))
    assert [t.id for t in fees.items] == [txs[2].id]
    about = await read(engine, tenant, lambda lg: lg.list_page(PageRequest(), reference=Reference("invoice", inv)))
    assert [t.id for t in about.items] == [txs[0].id]


async def test_recording_the_same_event_twice_is_a_no_op(engine: AsyncEngine) -> None:
    tenant = await _tenant(engine)
    inv, pay = uuid.uuid4(), uuid.uuid4()
    await record(engine, tenant, *_sale(inv, pay))
    before = await read(engine, tenant, lambda lg: lg.balances())
    # the webhook again: a new transaction object (new id) for the same event; and twice in one unit of work
    assert await record(engine, tenant, *_sale(inv, pay), *_sale(inv, pay)) == [False] * 6
    assert await read(engine, tenant, lambda lg: lg.balances()) == before
    page = await read(engine, tenant, lambda lg: lg.list_page(PageRequest()))
    assert len(page.items) == 3
    # the same key saying something else is a bug upstream, not a duplicate
    with pytest.raises(KeyReused):
        await record(engine, tenant, L.invoice_issued(inv, amount=10_001, currency="USD", occurred_at=AT))


async def test_concurrent_duplicates_record_once(engine: AsyncEngine) -> None:
    tenant = await _tenant(engine)
    inv, pay = uuid.uuid4(), uuid.uuid4()
    await record(engine, tenant, L.invoice_issued(inv, amount=500, currency="USD", occurred_at=AT))
    pay_tx = _sale(inv, pay, amount=500, surcharge=0)[1]
    results = await asyncio.gather(*(record(engine, tenant, pay_tx) for _ in range(4)))
    assert sorted(r[0] for r in results) == [False, False, False, True]
    balances = await read(engine, tenant, lambda lg: lg.balances())
    assert balances[("stripe_clearing", "USD")] == 500
    assert balances == await read(engine, tenant, lambda lg: lg.recomputed_balances())


async def test_concurrent_postings_to_shared_accounts_neither_deadlock_nor_lose_updates(engine: AsyncEngine) -> None:
    """Payments (clearing, AR) and refunds (AR, clearing) lock the same accounts: they queue, in id order."""
    tenant = await _tenant(engine)
    invoices = [uuid.uuid4() for _ in range(12)]
    await record(engine, tenant, *(L.invoice_issued(i, amount=1_000, currency="USD", occurred_at=AT) for i in invoices))
    pays = [uuid.uuid4() for _ in invoices]
    await asyncio.gather(
        *(record(engine, tenant, _sale(i, p, 1_000, 0)[1]) for i, p in zip(invoices, pays, strict=True))
    )

    def refund(i: uuid.UUID, p: uuid.UUID) -> L.LedgerTransaction:
        return L.refund(
            uuid.uuid4(), payment_id=p, allocations={i: 400}, currency="USD", reopen_invoices=True, occurred_at=AT
        )

    work = [
        record(engine, tenant, refund(i, p), L.processing_fee(p, fee=30, currency="USD", occurred_at=AT))
        for i, p in zip(invoices, pays, strict=True)
    ]
    work += [
        record(engine, tenant, L.payout(uuid.uuid4(), amount=100, currency="USD", occurred_at=AT)) for _ in range(6)
    ]
    await asyncio.wait_for(asyncio.gather(*work), 30)
    balances = await read(engine, tenant, lambda lg: lg.balances())
    assert balances == await read(engine, tenant, lambda lg: lg.recomputed_balances())
    assert balances[("accounts_receivable", "USD")] == 12 * 400
    assert balances[("stripe_clearing", "USD")] == 12 * (1_000 - 400 - 30) - 600


async def test_accounts_are_per_currency(engine: AsyncEngine) -> None:
    tenant = await _tenant(engine)
    await record(
        engine, tenant,
        L.invoice_issued(uuid.uuid4(), amount=100, currency="USD", occurred_at=AT),
        L.invoice_issued(uuid.uuid4(), amount=200, currency="EUR", occurred_at=AT),
    )  # fmt: skip
    balances = await read(engine, tenant, lambda lg: lg.balances())
    assert balances == {
        ("accounts_receivable", "USD"): 100, ("revenue", "USD"): -100,
        ("accounts_receivable", "EUR"): 200, ("revenue", "EUR"): -200,
    }  # fmt: skip


# --- what the database refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET kind = 'refund'",
        "DELETE FROM ledger_transactions",
        "TRUNCATE ledger_entries CASCADE",
        "UPDATE ledger_accounts SET balance = 0",
        "DELETE FROM ledger_accounts",
        "UPDATE ledger_accounts SET currency = 'EUR'",
    ],
)
async def test_entries_transactions_and_balances_cannot_be_edited_even_by_the_owner(
    engine: AsyncEngine, owner: AsyncEngine, statement: str
) -> None:
    tenant = await _tenant(engine)
    await record(engine, tenant, *_sale(uuid.uuid4(), uuid.uuid4()))
    for eng, with_tenant in ((owner, False), (owner, True), (engine, True)):
        with pytest.raises(DBAPIError) as err:
            async with eng.begin() as conn:
                if with_tenant:
                    await set_tenant(conn, tenant)
                await conn.execute(text(statement))
        message = str(err.value)
        assert any(m in message for m in ("append-only", "maintained from entries", "identity", "permission denied")), (
            message
        )
        if eng is owner:
            assert "permission denied" not in message  # the owner is stopped by the triggers, not by grants
    balances = await read(engine, tenant, lambda lg: lg.balances())
    assert balances[("stripe_clearing", "USD")] == 10_300 - 329
    assert balances == await read(engine, tenant, lambda lg: lg.recomputed_balances())


async def _raw_unbalanced(c: AsyncConnection, tenant: uuid.UUID, amounts: list[int], tx_id: uuid.UUID) -> None:
    """Bypass the domain: a transaction row and entries straight into the tables."""
    await c.execute(
        text("""INSERT INTO ledger_transactions (tenant_id, id, kind, idempotency_key, reference_type, reference_id, occurred_at)
                VALUES (:t, :id, 'reversal', :key, 'payment', :id, now())"""),
        {"t": tenant, "id": tx_id, "key": f"raw:{tx_id}"},
    )
    for amount in amounts:
        await c.execute(
            text("""INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount)
                    SELECT :t, gen_random_uuid(), :id, id, currency, :amount FROM ledger_accounts
                    WHERE tenant_id = :t AND code = 'bank' AND currency = 'USD'"""),
            {"t": tenant, "id": tx_id, "amount": amount},
        )


@pytest.mark.parametrize("amounts", [[500, -499], [], [700]])
async def test_an_unbalanced_or_empty_transaction_is_refused_at_commit(engine: AsyncEngine, amounts: list[int]) -> None:
    tenant = await _tenant(engine)
    await record(engine, tenant, L.payout(uuid.uuid4(), amount=1, currency="USD", occurred_at=AT))  # creates 'bank'
    tx_id = uuid.uuid4()
    with pytest.raises(DBAPIError, match=r"unbalanced|no entries"):
        async with SqlUnitOfWork(engine, tenant) as uow:
            await _raw_unbalanced(uow.conn, tenant, amounts, tx_id)  # accepted statement by statement...
            await uow.commit()  # ...refused as a whole
    assert await read(engine, tenant, lambda lg: lg.get(tx_id)) is None
    assert await read(engine, tenant, lambda lg: lg.balances()) == {("bank", "USD"): 1, ("stripe_clearing", "USD"): -1}


async def test_switching_tenant_before_commit_does_not_hide_an_unbalanced_transaction(engine: AsyncEngine) -> None:
    tenant, other = await _tenant(engine), await _tenant(engine, "Other MSP")
    await record(engine, tenant, L.payout(uuid.uuid4(), amount=1, currency="USD", occurred_at=AT))
    with pytest.raises(DBAPIError, match="unbalanced"):
        async with SqlUnitOfWork(engine, tenant) as uow:
            await _raw_unbalanced(uow.conn, tenant, [5], uuid.uuid4())
            await set_tenant(uow.conn, other)
            await uow.commit()


async def test_an_entry_in_another_currency_than_its_account_is_refused(engine: AsyncEngine) -> None:
    tenant = await _tenant(engine)
    await record(engine, tenant, L.payout(uuid.uuid4(), amount=1, currency="USD", occurred_at=AT))
    with pytest.raises(DBAPIError, match="foreign key"):
        async with SqlUnitOfWork(engine, tenant) as uow:
            await uow.conn.execute(
                text("""INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount)
                        SELECT tenant_id, gen_random_uuid(), (SELECT id FROM ledger_transactions LIMIT 1), id, 'EUR', 1
                        FROM ledger_accounts WHERE code = 'bank'""")
            )


async def test_another_tenant_sees_none_of_the_ledger(engine: AsyncEngine) -> None:
    a, b = await _tenant(engine, "Tenant A"), await _tenant(engine, "Tenant B")
    inv, pay = uuid.uuid4(), uuid.uuid4()
    txs = _sale(inv, pay)
    await record(engine, a, *txs)
    assert await read(engine, b, lambda lg: lg.balances()) == {}
    assert await read(engine, b, lambda lg: lg.recomputed_balances()) == {}
    assert await read(engine, b, lambda lg: lg.entries_of(Reference("payment", pay))) == []
    assert await read(engine, b, lambda lg: lg.get(txs[0].id)) is None
    assert await read(engine, b, lambda lg: lg.find(txs[0].key)) is None
    assert (await read(engine, b, lambda lg: lg.list_page(PageRequest()))).items == []
    async with SqlUnitOfWork(engine, b) as uow:
        for table in ("ledger_accounts", "ledger_transactions", "ledger_entries"):
            assert (await uow.conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0
    # keys are unique per tenant: B records the "same" event for itself, and A's ledger is untouched
    assert await record(engine, b, txs[0]) == [True]
    assert await read(engine, a, lambda lg: lg.balances()) == await read(engine, a, lambda lg: lg.recomputed_balances())
    assert (await read(engine, b, lambda lg: lg.balances()))[("accounts_receivable", "USD")] == 10_000
    # and B cannot post against A's accounts (the entry's tenant must be B's, so must the account's)
    with pytest.raises(DBAPIError):
        async with SqlUnitOfWork(engine, b) as uow:
            await uow.conn.execute(
                text("""INSERT INTO ledger_entries (tenant_id, id, transaction_id, account_id, currency, amount)
                        VALUES (:a, gen_random_uuid(), :tx, gen_random_uuid(), 'USD', 1)"""),
                {"a": a, "tx": txs[0].id},
            )


async def test_first_postings_racing_to_create_the_same_accounts(engine: AsyncEngine) -> None:
    """A new tenant's first postings arrive together: each account is created once and every entry lands."""
    for _ in range(3):
        tenant = await _tenant(engine)
        invoices = [L.invoice_issued(uuid.uuid4(), amount=100, currency="USD", occurred_at=AT) for _ in range(5)]
        assert await asyncio.gather(*(record(engine, tenant, tx) for tx in invoices)) == [[True]] * 5
        balances = await read(engine, tenant, lambda lg: lg.balances())
        assert balances == {("accounts_receivable", "USD"): 500, ("revenue", "USD"): -500}
        assert balances == await read(engine, tenant, lambda lg: lg.recomputed_balances())
