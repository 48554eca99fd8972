"""Refunds, full or partial. Each one debits the balance at once (a negative balance transaction, no fee
returned, as Stripe does), updates the charge's amount_refunded, and records refund.created plus
charge.refunded. A card refund succeeds at once; an ACH refund stays pending for the ACH period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import charges, fixtures
from sandbox.stripe_sandbox.errors import invalid
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_bool, get_int, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

_CREATE = frozenset(
    {"amount", "charge", "payment_intent", "metadata", "reason", "refund_application_fee", "instructions_email"}
)
_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _charge_for(op: Op, params: Params) -> Obj:
    if charge_id := get_str(params, "charge"):
        return op.part.require("charge", charge_id, param="charge")
    if pi_id := get_str(params, "payment_intent"):
        pi = op.part.require("payment_intent", pi_id, param="payment_intent")
        if not pi["latest_charge"] or pi["status"] not in ("succeeded", "processing"):
            raise invalid(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                param="payment_intent",
                code="charge_not_refundable",
            )
        return op.part.require("charge", pi["latest_charge"])
    raise invalid("One of the following params should be provided for this request: payment_intent or charge.")


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _CREATE)
    ch = _charge_for(op, params)
    if ch["status"] != "succeeded" or not ch["captured"]:
        raise invalid(f"Charge {ch['id']} has not succeeded and cannot be refunded.", code="charge_not_refundable")
    remaining = ch["amount_captured"] - ch["amount_refunded"]
    if remaining <= 0:
        raise invalid(f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded")
    amount = get_int(params, "amount") or remaining
    if amount > remaining:
        raise invalid(
            f"Refund amount ({_dollars(amount)}) is greater than unrefunded amount on charge ({_dollars(remaining)})",
            param="amount",
        )
    reason = get_str(params, "reason")
    if reason and reason not in _REASONS:
        raise invalid("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", param="reason")
    ach = ch["payment_method_details"]["type"] == "us_bank_account"
    refund = fixtures.new("refund")
    refund.update(
        id=op.new_id("pyr" if ach else "re"),
        amount=amount,
        charge=ch["id"],
        created=op.now(),
        currency=ch["currency"],
        customer=ch["customer"],
        payment_intent=ch["payment_intent"],
        payment_method=ch["payment_method"],
        reason=reason,
        status="pending" if ach else "succeeded",
        destination_details=_destination(ach),
    )
    apply_metadata(refund, params)
    bt = charges.add_txn(
        op,
        amount=-amount,
        currency=ch["currency"],
        type_="refund",
        category="refund",
        source=refund["id"],
        description="REFUND FOR CHARGE" + (f" ({ch['description']})" if ch["description"] else ""),
    )
    refund["balance_transaction"] = bt["id"]
    op.store("refund", refund)
    ch["amount_refunded"] += amount
    ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]
    ch["refunds"]["data"].insert(0, refund)
    del ch["refunds"]["data"][10:]
    if get_bool(params, "refund_application_fee") and ch.get("application_fee"):
        _refund_application_fee(op, ch, amount)
    if ach:
        due = op.now() + op.st.ach_business_days * 86400
        op.st.schedule(due, op.part.account_id, "refund_settle", refund["id"])
    op.emit("refund.created", refund)
    op.emit("charge.refunded", ch)
    return refund


def _destination(ach: bool) -> Obj:
    if ach:
        return {"type": "us_bank_transfer", "us_bank_transfer": {"reference": None, "reference_status": "pending"}}
    return {
        "card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"},
        "type": "card",
    }


def _refund_application_fee(op: Op, ch: Obj, refunded: int) -> None:
    """The platform gives back the same share of its application fee."""
    platform = op.on(op.st.platform)
    fee = platform.part.require("application_fee", ch["application_fee"])
    share = min(fee["amount"] - fee["amount_refunded"], fee["amount"] * refunded // ch["amount_captured"])
    if share <= 0:
        return
    fee["amount_refunded"] += share
    fee["refunded"] = fee["amount_refunded"] >= fee["amount"]
    charges.add_txn(
        platform,
        amount=-share,
        currency=fee["currency"],
        type_="application_fee_refund",
        category="platform_earning_refund",
        source=fee["id"],
    )
    platform.emit("application_fee.refunded", fee)


def settle(op: Op, refund_id: str) -> None:
    refund = op.part.get("refund", refund_id)
    if refund is None or refund["status"] != "pending":
        return
    refund["status"] = "succeeded"
    op.emit("refund.updated", refund, {"status": "pending"})


def retrieve(op: Op, params: Params, refund_id: str) -> Obj:
    return op.part.require("refund", refund_id)


def update(op: Op, params: Params, refund_id: str) -> Obj:
    check_allowed(params, frozenset({"metadata"}))
    refund = op.part.require("refund", refund_id)
    previous: dict[str, Any] = {}
    if (meta := apply_metadata(refund, params)) is not None:
        previous["metadata"] = meta
        op.emit("refund.updated", refund, previous)
    return refund


def list_refunds(op: Op, params: Params) -> Obj:
    return list_objects(op, "refund", params, "/v1/refunds", filters=frozenset({"charge", "payment_intent"}))


def list_charge_refunds(op: Op, params: Params, charge_id: str) -> Obj:
    op.part.require("charge", charge_id)
    return list_objects(
        op, "refund", params, f"/v1/charges/{charge_id}/refunds", keep=lambda r: r["charge"] == charge_id
    )
