"""Disputes: opened by a test card or bank account (or the `open_dispute` helper), they withdraw the
disputed amount plus Stripe's $15 dispute fee at once (a balance transaction of type adjustment) and record
charge.dispute.created and charge.dispute.funds_withdrawn. ACH disputes are final: they open already lost
(collections.md: "ACH disputes are final (no appeal)").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import charges, fixtures
from sandbox.stripe_sandbox.errors import invalid
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_bool, get_dict
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

DISPUTE_FEE = 1500
_NETWORK_REASON = {"fraudulent": "10.4", "product_not_received": "13.1", "general": "13.7"}


def open_dispute(op: Op, ch: Obj, *, reason: str = "fraudulent", amount: int | None = None) -> Obj:
    if ch["status"] != "succeeded":
        raise invalid(f"Charge {ch['id']} has not succeeded and cannot be disputed.")
    ach = ch["payment_method_details"]["type"] == "us_bank_account"
    amount = amount or ch["amount_captured"] - ch["amount_refunded"]
    dp = fixtures.new("dispute")
    dp.update(
        id=op.new_id("du" if ach else "dp"),
        amount=amount,
        charge=ch["id"],
        created=op.now(),
        currency=ch["currency"],
        payment_intent=ch["payment_intent"],
        reason=reason,
        status="lost" if ach else "needs_response",
        is_charge_refundable=False,
    )
    dp["evidence_details"].update(due_by=(op.now() // 86400 + 8) * 86400 - 1, has_evidence=False, past_due=False)
    if ach:
        dp["payment_method_details"] = {"type": "us_bank_account", "us_bank_account": {}}
    else:
        card = ch["payment_method_details"]["card"]
        dp["payment_method_details"] = {
            "card": {
                "brand": card["brand"],
                "case_type": "chargeback",
                "network_reason_code": _NETWORK_REASON.get(reason, "13.7"),
                "network": card["network"],
            },
            "type": "card",
        }
    bt = charges.add_txn(
        op,
        amount=-amount,
        currency=ch["currency"],
        type_="adjustment",
        category="dispute",
        source=dp["id"],
        fee_details=[charges.fee_line(DISPUTE_FEE, ch["currency"], "stripe_fee", "Dispute fee")],
        description=f"Chargeback withdrawal for {ch['id']}",
    )
    dp["balance_transactions"] = [bt]
    op.store("dispute", dp)
    ch["disputed"] = True
    op.emit("charge.dispute.created", dp)
    op.emit("charge.dispute.funds_withdrawn", dp)
    if ach:
        op.emit("charge.dispute.closed", dp)
    return dp


def close_dispute(op: Op, dp: Obj, *, won: bool) -> Obj:
    """The network's decision. Winning returns the disputed amount (not the fee)."""
    if dp["status"] in ("won", "lost"):
        raise invalid(f"Dispute {dp['id']} is already closed ({dp['status']}).")
    previous = {"status": dp["status"]}
    dp["status"] = "won" if won else "lost"
    if won:
        bt = charges.add_txn(
            op,
            amount=dp["amount"],
            currency=dp["currency"],
            type_="adjustment",
            category="dispute_reversal",
            source=dp["id"],
            description=f"Chargeback reversal for {dp['charge']}",
        )
        dp["balance_transactions"].append(bt)
        op.emit("charge.dispute.funds_reinstated", dp)
    op.emit("charge.dispute.closed", dp, previous)
    return dp


# --- endpoints -------------------------------------------------------------------------------------------


def retrieve(op: Op, params: Params, dispute_id: str) -> Obj:
    return op.part.require("dispute", dispute_id)


def update(op: Op, params: Params, dispute_id: str) -> Obj:
    check_allowed(params, frozenset({"evidence", "metadata", "submit"}))
    dp = op.part.require("dispute", dispute_id)
    if dp["status"] in ("won", "lost"):
        raise invalid("This dispute is already closed.")
    previous: dict[str, Any] = {}
    evidence = get_dict(params, "evidence")
    for key, value in evidence.items():
        if key not in dp["evidence"]:
            raise invalid(f"Received unknown parameter: evidence[{key}]", param=f"evidence[{key}]")
        previous.setdefault("evidence", {})[key] = dp["evidence"][key]
        dp["evidence"][key] = value or None
    if evidence:
        dp["evidence_details"]["has_evidence"] = True
    if (meta := apply_metadata(dp, params)) is not None:
        previous["metadata"] = meta
    if get_bool(params, "submit", default=True) and evidence:
        dp["evidence_details"]["submission_count"] += 1
        previous["status"] = dp["status"]
        dp["status"] = "under_review"
    if previous:
        op.emit("charge.dispute.updated", dp, previous)
    return dp


def close(op: Op, params: Params, dispute_id: str) -> Obj:
    """Accepting the dispute: it closes as lost."""
    check_allowed(params, frozenset())
    return close_dispute(op, op.part.require("dispute", dispute_id), won=False)


def list_disputes(op: Op, params: Params) -> Obj:
    return list_objects(op, "dispute", params, "/v1/disputes", filters=frozenset({"charge", "payment_intent"}))
