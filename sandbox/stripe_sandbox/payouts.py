"""Payouts, the balance, and balance transactions.

An automatic payout (the `run_payouts` helper, standing in for Stripe's daily schedule) sweeps every
available, not-yet-paid-out balance transaction of a currency into one payout: charges, refunds, disputes
and fees net to `payout.amount`, and `GET /v1/balance_transactions?payout=po_...` lists exactly those plus
the payout's own transaction, which is what deposit posting (collections.md section 3) reconciles against.
The payout arrives the next day: payout.paid, then payout.reconciliation_completed.

A manual payout (`POST /v1/payouts`) draws an amount from the available balance; as in Stripe, its
transactions cannot be listed by payout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import accounts, charges, fixtures
from sandbox.stripe_sandbox.errors import invalid
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_int, get_str
from sandbox.stripe_sandbox.listing import as_list, list_objects
from sandbox.stripe_sandbox.store import page_of

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

DAY = 86400


def _new_payout(op: Op, amount: int, currency: str, *, automatic: bool) -> Obj:
    po = fixtures.new("payout")
    po.update(
        id=op.new_id("po"),
        amount=amount,
        currency=currency,
        created=op.now(),
        arrival_date=(op.now() // DAY + 1) * DAY,
        automatic=automatic,
        destination=accounts.payout_destination(op.part.require("account", op.part.account_id)),
        method="standard",
        status="pending",
        reconciliation_status="in_progress" if automatic else "not_applicable",
        source_type="card",
        type="bank_account",
        description="STRIPE PAYOUT",
    )
    bt = charges.add_txn(
        op,
        amount=-amount,
        currency=currency,
        type_="payout",
        category="payout",
        source=po["id"],
        description="STRIPE PAYOUT",
        payable=False,
    )
    po["balance_transaction"] = bt["id"]
    op.store("payout", po)
    op.st.schedule(po["arrival_date"], op.part.account_id, "payout_paid", po["id"])
    op.emit("payout.created", po)
    return po


def run_automatic(op: Op) -> list[Obj]:
    """One automatic payout per currency whose swept transactions net to a positive amount."""
    made = []
    for currency, txn_ids in list(op.part.unpaid_available.items()):
        total = sum(op.part.require("balance_transaction", t)["net"] for t in txn_ids)
        if total <= 0:
            continue  # a negative balance waits for more charges, as Stripe's does
        po = _new_payout(op, total, currency, automatic=True)
        op.part.payout_txns[po["id"]] = [*txn_ids, po["balance_transaction"]]
        op.part.unpaid_available[currency] = []
        made.append(po)
    return made


def mark_paid(op: Op, payout_id: str) -> None:
    po = op.part.get("payout", payout_id)
    if po is None or po["status"] not in ("pending", "in_transit"):
        return
    previous = {"status": po["status"]}
    po["status"] = "paid"
    if po["automatic"]:
        po["reconciliation_status"] = "completed"
    op.emit("payout.paid", po, previous)
    if po["automatic"]:
        op.emit("payout.reconciliation_completed", po)


# --- endpoints -------------------------------------------------------------------------------------------


def create(op: Op, params: Params) -> Obj:
    check_allowed(
        params,
        frozenset({"amount", "currency", "description", "metadata", "method", "statement_descriptor", "destination"}),
    )
    amount = get_int(params, "amount", need=True) or 0
    currency = (get_str(params, "currency", need=True) or "").lower()
    available = op.part.balance.get(("available", currency, "card"), 0)
    if amount <= 0:
        raise invalid("Invalid positive integer", param="amount")
    if amount > available:
        raise invalid(
            "You have insufficient funds in your Stripe account for this transfer. Your card balance is too low. "
            "You can use the /v1/balance endpoint to view your Stripe balance (for more details, see "
            "stripe.com/docs/api#balance).",
            code="balance_insufficient",
        )
    po = _new_payout(op, amount, currency, automatic=False)
    if description := get_str(params, "description"):
        po["description"] = description
    po["statement_descriptor"] = get_str(params, "statement_descriptor")
    apply_metadata(po, params)
    return po


def retrieve(op: Op, params: Params, payout_id: str) -> Obj:
    return op.part.require("payout", payout_id)


def update(op: Op, params: Params, payout_id: str) -> Obj:
    check_allowed(params, frozenset({"metadata"}))
    po = op.part.require("payout", payout_id)
    if (meta := apply_metadata(po, params)) is not None:
        op.emit("payout.updated", po, {"metadata": meta})
    return po


def list_payouts(op: Op, params: Params) -> Obj:
    return list_objects(op, "payout", params, "/v1/payouts", filters=frozenset({"status", "destination"}))


def retrieve_balance(op: Op, params: Params) -> Obj:
    bal = fixtures.new("balance")
    currencies = sorted({c for (_, c, _) in op.part.balance} | {"usd"})

    def bucket(name: str) -> list[Obj]:
        rows = []
        for cur in currencies:
            amount = op.part.balance.get((name, cur, "card"), 0)
            rows.append({"amount": amount, "currency": cur, "source_types": {"card": amount}})
        return rows

    bal.update(available=bucket("available"), pending=bucket("pending"))
    bal["connect_reserved"] = [{"amount": 0, "currency": cur} for cur in currencies]
    return bal


def retrieve_txn(op: Op, params: Params, txn_id: str) -> Obj:
    return op.part.require("balance_transaction", txn_id)


def list_txns(op: Op, params: Params) -> Obj:
    payout_id = get_str(params, "payout")
    if payout_id is None:
        return list_objects(
            op,
            "balance_transaction",
            params,
            "/v1/balance_transactions",
            filters=frozenset({"type", "source", "currency"}),
        )
    check_allowed(params, frozenset({"payout", "limit", "starting_after", "ending_before", "type"}))
    po = op.part.require("payout", payout_id, param="payout")
    if not po["automatic"]:
        raise invalid(
            "Balance transaction history can only be filtered on automatic transfers, not manual.", param="payout"
        )
    wanted = get_str(params, "type")
    txns: list[Any] = [
        op.part.require("balance_transaction", t) for t in reversed(op.part.payout_txns.get(payout_id, []))
    ]
    txns = [t for t in txns if wanted is None or t["type"] == wanted]
    pg = page_of(
        txns,
        limit=get_int(params, "limit") or 10,
        starting_after=get_str(params, "starting_after"),
        ending_before=get_str(params, "ending_before"),
    )
    return as_list(pg, "/v1/balance_transactions")
