"""REST: /v1/payouts (Stripe payouts with the payments and fees each carries: the basis of bank deposits),
/v1/disputes (chargebacks and ACH returns), and /v1/ledger (balances and transactions). All read-only: they
are filled by Stripe's webhooks (domain/usecases/payouts.py, domain/usecases/disputes.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from api.rest.clients import Cursor, Limit
from domain.auth import Principal
from domain.ledger import Kind, LedgerTransaction
from domain.pagination import PageRequest
from domain.usecases import disputes as disputes_uc
from domain.usecases import payouts as uc
from domain.usecases.disputes import Dispute
from domain.usecases.payouts import LedgerBalances, Payout, PayoutLine

# -- bodies -------------------------------------------------------------------------------------------


class PayoutLineOut(msgspec.Struct):
    balance_transaction_id: str
    type: str  # Stripe's: charge, payment (ACH), refund, adjustment (a dispute), ...
    payment_id: uuid.UUID | None  # ours, when the line is one of our payments (or its refund or dispute)
    gross: int
    fee: int
    net: int

    @staticmethod
    def of(x: PayoutLine) -> PayoutLineOut:
        return PayoutLineOut(x.balance_transaction_id, x.kind, x.payment_id, x.gross, x.fee, x.net)


class PayoutOut(msgspec.Struct):
    id: uuid.UUID
    stripe_payout_id: str
    status: str  # pending, in_transit, paid, failed, canceled
    currency: str
    amount: int  # what reaches the bank
    gross: int  # the lines' gross amounts (payments in, refunds and disputes out)
    fees: int  # Stripe's fees on the lines
    net: int  # gross - fees: equals `amount` once the lines are known (a paid automatic payout)
    arrival_date: date | None
    created_at: datetime
    updated_at: datetime
    lines: list[PayoutLineOut] | None = None  # on GET /v1/payouts/{id} only
    object: str = "payout"

    @staticmethod
    def of(p: Payout, with_lines: bool = False) -> PayoutOut:
        return PayoutOut(
            id=p.id, stripe_payout_id=p.stripe_payout_id, status=p.status, currency=p.currency, amount=p.amount,
            gross=p.gross, fees=p.fees, net=p.gross - p.fees, arrival_date=p.arrival_date, created_at=p.created_at,
            updated_at=p.updated_at, lines=[PayoutLineOut.of(x) for x in p.lines] if with_lines else None,
        )  # fmt: skip


class PayoutList(msgspec.Struct):
    data: list[PayoutOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class DisputeOut(msgspec.Struct):
    id: uuid.UUID
    payment_id: uuid.UUID
    stripe_dispute_id: str  # dp_... (a card chargeback) or du_... (an ACH return)
    status: str  # Stripe's: needs_response, under_review, won, lost, ...
    currency: str
    amount: int
    fee: int
    reason: str | None
    created_at: datetime
    updated_at: datetime
    object: str = "dispute"

    @staticmethod
    def of(d: Dispute) -> DisputeOut:
        return DisputeOut(
            d.id, d.payment_id, d.stripe_dispute_id, d.status, d.currency, d.amount, d.fee, d.reason, d.created_at,
            d.updated_at,
        )  # fmt: skip


class DisputeList(msgspec.Struct):
    data: list[DisputeOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class BalanceOut(msgspec.Struct):
    account: str  # the chart's code: accounts_receivable, stripe_clearing, bank, disputes, ...
    name: str
    type: str  # asset, liability, equity, income, expense
    currency: str
    balance: int  # positive on the account's normal side
    debit_balance: int  # debits minus credits


class BalancesOut(msgspec.Struct):
    data: list[BalanceOut]
    matches_entries: bool  # the stored balances equal the sums of the entries
    object: str = "ledger_balances"

    @staticmethod
    def of(b: LedgerBalances) -> BalancesOut:
        rows = [BalanceOut(x.account, x.name, x.type, x.currency, x.balance, x.debit_balance) for x in b.balances]
        return BalancesOut(rows, b.matches_entries)


class EntryOut(msgspec.Struct):
    account: str
    side: str  # debit | credit
    amount: int  # positive
    currency: str
    invoice_id: uuid.UUID | None


class ReferenceOut(msgspec.Struct):
    type: str  # invoice | payment | payout | refund
    id: uuid.UUID
    external_id: str | None  # the provider's id


class LedgerTransactionOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    key: str  # the idempotency key: `<kind>:<source id>`
    reference: ReferenceOut
    occurred_at: datetime
    reverses: uuid.UUID | None
    entries: list[EntryOut]
    object: str = "ledger_transaction"

    @staticmethod
    def of(t: LedgerTransaction) -> LedgerTransactionOut:
        ref = ReferenceOut(t.reference.type, t.reference.id, t.reference.external_id)
        entries = [EntryOut(e.account, e.side, abs(e.amount), e.currency, e.invoice_id) for e in t.entries]
        return LedgerTransactionOut(t.id, t.kind.value, t.key, ref, t.occurred_at, t.reverses, entries)


class LedgerTransactionList(msgspec.Struct):
    data: list[LedgerTransactionOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


# -- endpoints ----------------------------------------------------------------------------------------

KindFilter = Annotated[
    str | None, Parameter(description=f"Only transactions of this kind: {', '.join(k.value for k in Kind)}.")
]


class PayoutController(Controller):
    path = "/v1/payouts"
    tags = ["payouts"]

    @get("/", summary="List payouts", description="Newest first, with their totals. Scope `invoices:read`.")
    async def list_all(
        self, principal: Principal, uow: SqlUnitOfWork, limit: Limit = None, cursor: Cursor = None
    ) -> PayoutList:
        page = await uc.list_payouts(uow, principal, PageRequest.build(limit, cursor))
        return PayoutList([PayoutOut.of(p) for p in page.items], page.has_more, page.next_cursor)

    @get(
        "/{payout_id:uuid}",
        summary="Get a payout with its lines",
        description="Scope `invoices:read`. Each line is a Stripe balance transaction the payout carries (a "
        "payment at gross with Stripe's fee, a refund, a dispute) with our `payment_id` when it is ours; the "
        "lines' `net` adds up to `amount`, the bank deposit.",
    )
    async def get_one(self, payout_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork) -> PayoutOut:
        return PayoutOut.of(await uc.get_payout(uow, principal, payout_id), with_lines=True)


class DisputeController(Controller):
    path = "/v1/disputes"
    tags = ["payouts"]

    @get(
        "/",
        summary="List disputes",
        description="Card chargebacks and ACH debits returned after they settled, newest first, optionally one "
        "payment's. Scope `invoices:read`.",
    )
    async def list_all(
        self,
        principal: Principal,
        uow: SqlUnitOfWork,
        limit: Limit = None,
        cursor: Cursor = None,
        payment_id: uuid.UUID | None = None,
    ) -> DisputeList:
        page = await disputes_uc.list_disputes(uow, principal, PageRequest.build(limit, cursor), payment_id)
        return DisputeList([DisputeOut.of(d) for d in page.items], page.has_more, page.next_cursor)


class LedgerController(Controller):
    path = "/v1/ledger"
    tags = ["ledger"]

    @get(
        "/balances",
        summary="Ledger balances",
        description="Stored balances per account and currency, and whether they equal the sums of the entries "
        "(`matches_entries`). Scope `invoices:read`.",
    )
    async def balances(self, principal: Principal, uow: SqlUnitOfWork) -> BalancesOut:
        return BalancesOut.of(await uc.ledger_balances(uow, principal))

    @get(
        "/transactions",
        summary="Ledger transactions",
        description="Newest first, each with its entries (amounts positive, with their side). Scope `invoices:read`.",
    )
    async def transactions(
        self,
        principal: Principal,
        uow: SqlUnitOfWork,
        limit: Limit = None,
        cursor: Cursor = None,
        kind: KindFilter = None,
    ) -> LedgerTransactionList:
        page = await uc.ledger_transactions(uow, principal, PageRequest.build(limit, cursor), kind)
        return LedgerTransactionList([LedgerTransactionOut.of(t) for t in page.items], page.has_more, page.next_cursor)
