"""GraphQL for payouts, disputes and the ledger: the same read use cases as /v1/payouts, /v1/disputes and
/v1/ledger (domain/usecases/payouts.py, domain/usecases/disputes.py)."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from api.graphql.context import Info
from api.graphql.inputs import lookup_id, parse_id
from api.graphql.resolving import page_request, read
from api.graphql.scalars import MinorUnits
from api.graphql.types import Connection, Money, connection_of
from domain import errors
from domain.ledger import LedgerTransaction as LedgerTransactionEntity
from domain.usecases import disputes as disputes_uc
from domain.usecases import payouts as uc
from domain.usecases.disputes import Dispute as DisputeEntity
from domain.usecases.payouts import Payout as PayoutEntity


@strawberry.enum(description="What a ledger transaction records (domain.ledger.Kind).")
class LedgerTransactionKind(Enum):
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_RETURNED = "payment_returned"
    PROCESSING_FEE = "processing_fee"
    REFUND = "refund"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    PAYOUT = "payout"
    PAYOUT_FAILED = "payout_failed"
    REVERSAL = "reversal"


def _money(amount: int, currency: str) -> Money:
    return Money(amount=MinorUnits(amount), currency=currency)


@strawberry.type(description="A Stripe balance transaction a payout carries.")
class PayoutLine:
    balance_transaction_id: str
    type: str = strawberry.field(description="Stripe's: charge, payment (ACH), refund, adjustment (a dispute), ...")
    payment_id: strawberry.ID | None = strawberry.field(description="Ours, when the line is one of our payments.")
    gross: Money
    fee: Money
    net: Money


@strawberry.type(description="A Stripe payout: one bank deposit in the books.")
class Payout:
    id: strawberry.ID
    stripe_payout_id: str
    status: str = strawberry.field(description="pending, in_transit, paid, failed or canceled.")
    amount: Money = strawberry.field(description="What reaches the bank.")
    gross: Money
    fees: Money
    net: Money = strawberry.field(description="Gross minus fees: equals `amount` once the lines are known.")
    arrival_date: dt.date | None
    lines: list[PayoutLine] | None = strawberry.field(description="Read on `payout(id)` only.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(p: PayoutEntity, with_lines: bool = False) -> Payout:
        c = p.currency
        lines = [
            PayoutLine(
                balance_transaction_id=x.balance_transaction_id, type=x.kind,
                payment_id=strawberry.ID(str(x.payment_id)) if x.payment_id else None,
                gross=_money(x.gross, c), fee=_money(x.fee, c), net=_money(x.net, c),
            )
            for x in p.lines
        ]  # fmt: skip
        return Payout(
            id=strawberry.ID(str(p.id)), stripe_payout_id=p.stripe_payout_id, status=p.status,
            amount=_money(p.amount, c), gross=_money(p.gross, c), fees=_money(p.fees, c),
            net=_money(p.gross - p.fees, c), arrival_date=p.arrival_date, lines=lines if with_lines else None,
            created_at=p.created_at, updated_at=p.updated_at,
        )  # fmt: skip


@strawberry.type(description="A card chargeback, or an ACH debit returned after it settled.")
class Dispute:
    id: strawberry.ID
    payment_id: strawberry.ID
    stripe_dispute_id: str
    status: str = strawberry.field(description="Stripe's: needs_response, under_review, won, lost, ...")
    amount: Money
    fee: Money
    reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(d: DisputeEntity) -> Dispute:
        return Dispute(
            id=strawberry.ID(str(d.id)), payment_id=strawberry.ID(str(d.payment_id)),
            stripe_dispute_id=d.stripe_dispute_id, status=d.status, amount=_money(d.amount, d.currency),
            fee=_money(d.fee, d.currency), reason=d.reason, created_at=d.created_at, updated_at=d.updated_at,
        )  # fmt: skip


@strawberry.type
class LedgerBalance:
    account: str = strawberry.field(description="The chart's code: accounts_receivable, stripe_clearing, bank, ...")
    name: str
    type: str
    balance: Money = strawberry.field(description="Positive on the account's normal side.")
    debit_balance: Money = strawberry.field(description="Debits minus credits.")


@strawberry.type
class LedgerBalances:
    balances: list[LedgerBalance]
    matches_entries: bool = strawberry.field(description="The stored balances equal the sums of the entries.")


@strawberry.type
class LedgerEntry:
    account: str
    side: str = strawberry.field(description="debit or credit")
    amount: Money = strawberry.field(description="Positive.")
    invoice_id: strawberry.ID | None


@strawberry.type
class LedgerTransaction:
    id: strawberry.ID
    kind: LedgerTransactionKind
    key: str = strawberry.field(description="The idempotency key: `<kind>:<source id>`.")
    reference_type: str = strawberry.field(description="invoice, payment, payout or refund.")
    reference_id: strawberry.ID
    external_id: str | None = strawberry.field(description="The provider's id.")
    occurred_at: dt.datetime
    reverses: strawberry.ID | None
    entries: list[LedgerEntry]

    @staticmethod
    def of(t: LedgerTransactionEntity) -> LedgerTransaction:
        entries = [
            LedgerEntry(account=e.account, side=e.side, amount=_money(abs(e.amount), e.currency),
                        invoice_id=strawberry.ID(str(e.invoice_id)) if e.invoice_id else None)
            for e in t.entries
        ]  # fmt: skip
        return LedgerTransaction(
            id=strawberry.ID(str(t.id)), kind=LedgerTransactionKind(t.kind.value), key=t.key,
            reference_type=t.reference.type, reference_id=strawberry.ID(str(t.reference.id)),
            external_id=t.reference.external_id, occurred_at=t.occurred_at,
            reverses=strawberry.ID(str(t.reverses)) if t.reverses else None, entries=entries,
        )  # fmt: skip


@strawberry.type
class PayoutQuery:
    @strawberry.field(description="Stripe payouts, newest first, with their totals. Scope invoices:read.")
    async def payouts(self, info: Info, first: int = 50, after: str | None = None) -> Connection[Payout]:
        async def run() -> Connection[Payout]:
            async with info.context.uow() as uow:
                page = await uc.list_payouts(uow, info.context.principal, page_request(first, after))
            return connection_of(page, Payout.of)

        return await read(run)

    @strawberry.field(description="One payout with its lines, or null. Scope invoices:read.")
    async def payout(self, info: Info, id: strawberry.ID) -> Payout | None:
        async def run() -> Payout | None:
            try:
                async with info.context.uow() as uow:
                    found = await uc.get_payout(uow, info.context.principal, lookup_id(id))
            except errors.NotFound:
                return None
            return Payout.of(found, with_lines=True)

        return await read(run)

    @strawberry.field(description="Disputes and ACH returns, newest first, optionally one payment's. Scope "
                      "invoices:read.")  # fmt: skip
    async def disputes(
        self, info: Info, payment_id: strawberry.ID | None = None, first: int = 50, after: str | None = None
    ) -> Connection[Dispute]:
        async def run() -> Connection[Dispute]:
            payment = parse_id(payment_id, "paymentId") if payment_id else None
            async with info.context.uow() as uow:
                page = await disputes_uc.list_disputes(uow, info.context.principal, page_request(first, after), payment)
            return connection_of(page, Dispute.of)

        return await read(run)

    @strawberry.field(description="Ledger balances by account and currency. Scope invoices:read.")
    async def ledger_balances(self, info: Info) -> LedgerBalances:
        async def run() -> LedgerBalances:
            async with info.context.uow() as uow:
                found = await uc.ledger_balances(uow, info.context.principal)
            rows = [
                LedgerBalance(account=b.account, name=b.name, type=b.type, balance=_money(b.balance, b.currency),
                              debit_balance=_money(b.debit_balance, b.currency))
                for b in found.balances
            ]  # fmt: skip
            return LedgerBalances(balances=rows, matches_entries=found.matches_entries)

        return await read(run)

    @strawberry.field(description="Ledger transactions, newest first, with their entries. Scope invoices:read.")
    async def ledger_transactions(
        self, info: Info, first: int = 50, after: str | None = None,
        kind: LedgerTransactionKind | None = None,
    ) -> Connection[LedgerTransaction]:  # fmt: skip
        async def run() -> Connection[LedgerTransaction]:
            wanted = kind.value if kind is not None else None
            async with info.context.uow() as uow:
                page = await uc.ledger_transactions(uow, info.context.principal, page_request(first, after), wanted)
            return connection_of(page, LedgerTransaction.of)

        return await read(run)
