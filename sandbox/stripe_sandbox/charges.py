"""Charges and the money they move: balance transactions with Stripe's fees, and application fees.

Fees follow Stripe's US list prices: cards 2.9% + 30c; ACH Direct Debit 0.8% capped at $5 (rounded half
up to the cent). Card funds sit in the pending balance until `available_on` (`payout_delay_days` later, at
midnight UTC) and then become available for a payout, which is the list `GET /v1/balance_transactions?
payout=` returns later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import fixtures, testdata
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

DAY = 86400


def stripe_fee(amount: int, method_type: str) -> int:
    if method_type == "us_bank_account":
        return min((amount * 8 + 500) // 1000, 500)
    return (amount * 29 + 500) // 1000 + 30


def fee_line(amount: int, currency: str, type_: str, description: str, application: str | None = None) -> Obj:
    return {
        "amount": amount,
        "application": application,
        "currency": currency,
        "description": description,
        "type": type_,
    }


def add_txn(
    op: Op,
    *,
    amount: int,
    currency: str,
    type_: str,
    category: str,
    source: str,
    fee_details: list[Obj] | None = None,
    description: str | None = None,
    pending_until: int | None = None,
    payable: bool = True,
) -> Obj:
    """Record a balance transaction. Pending ones become available by scheduled task; `payable` ones
    join the next automatic payout once available (a payout's own transaction is not payable)."""
    details = fee_details or []
    fee = sum(d["amount"] for d in details)
    bt = fixtures.new("balance_transaction")
    bt.update(
        id=op.new_id("txn"),
        amount=amount,
        currency=currency,
        created=op.now(),
        description=description,
        fee=fee,
        fee_details=details,
        net=amount - fee,
        reporting_category=category,
        source=source,
        type=type_,
        status="pending" if pending_until else "available",
        available_on=pending_until or op.now(),
    )
    op.store("balance_transaction", bt)
    if pending_until:
        op.part.add_balance("pending", currency, "card", bt["net"])
        op.st.schedule(pending_until, op.part.account_id, "txn_available", bt["id"])
    else:
        op.part.add_balance("available", currency, "card", bt["net"])
        if payable:
            op.part.unpaid_available.setdefault(currency, []).append(bt["id"])
    return bt


def make_available(op: Op, txn_id: str) -> None:
    bt = op.part.get("balance_transaction", txn_id)
    if bt is None or bt["status"] != "pending":
        return
    bt["status"] = "available"
    op.part.add_balance("pending", bt["currency"], "card", -bt["net"])
    op.part.add_balance("available", bt["currency"], "card", bt["net"])
    op.part.unpaid_available.setdefault(bt["currency"], []).append(bt["id"])


def funds_available_on(op: Op) -> int:
    return (op.now() // DAY + op.st.payout_delay_days) * DAY


# --- building charges ----------------------------------------------------------------------------------


def outcome(decline: testdata.Decline | None = None, failure: str | None = None) -> Obj:
    out = fixtures.sub("charge", "outcome")
    declined = decline is not None or failure is not None
    out.update(
        network_status="declined_by_network" if declined else "approved_by_network",
        reason=decline.decline_code if decline else None,
        risk_level="normal",
        seller_message=(
            "The bank did not return any further details with this decline." if declined else "Payment complete."
        ),
        type="issuer_declined" if declined else "authorized",
    )
    if decline:
        out.update(advice_code=decline.advice_code, network_decline_code=decline.network_decline_code)
        out["network_advice_code"] = decline.network_advice_code
    return out


def _card_details(pm: Obj, amount: int, authenticated: bool) -> Obj:
    details = fixtures.sub("charge", "payment_method_details")
    card = details["card"]
    for key in ("brand", "country", "exp_month", "exp_year", "fingerprint", "funding", "last4"):
        card[key] = pm["card"][key]
    card.update(amount_authorized=amount, network=pm["card"]["brand"], wallet=None, installments=None)
    card["checks"] = dict(pm["card"]["checks"])
    card["overcapture"]["maximum_amount_capturable"] = amount
    if not authenticated:
        card["three_d_secure"] = None
    else:
        card["three_d_secure"].update(authentication_flow="challenge", result="authenticated", version="2.2.0")
    return details


def _bank_details(pm: Obj, mandate_id: str | None) -> Obj:
    bank = pm["us_bank_account"]
    return {
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": bank["account_holder_type"],
            "account_type": bank["account_type"],
            "bank_name": bank["bank_name"],
            "fingerprint": bank["fingerprint"],
            "last4": bank["last4"],
            "mandate": mandate_id,
            "payment_reference": None,
            "routing_number": bank["routing_number"],
        },
    }


def new_charge(
    op: Op,
    pi: Obj,
    pm: Obj,
    *,
    status: str,
    decline: testdata.Decline | None = None,
    mandate_id: str | None = None,
    authenticated: bool = False,
) -> Obj:
    """A charge for a PaymentIntent attempt: `succeeded`, `pending` (ACH in flight) or `failed`."""
    ach = pm["type"] == "us_bank_account"
    ch = fixtures.new("charge")
    ch_id = op.new_id("py" if ach else "ch")
    ch.update(
        id=ch_id,
        amount=pi["amount"],
        amount_captured=0,
        created=op.now(),
        currency=pi["currency"],
        customer=pi["customer"],
        description=pi["description"],
        metadata=dict(pi["metadata"]),
        payment_intent=pi["id"],
        payment_method=pm["id"],
        receipt_email=pi["receipt_email"],
        statement_descriptor=pi["statement_descriptor"],
        statement_descriptor_suffix=pi["statement_descriptor_suffix"],
        calculated_statement_descriptor=pi["statement_descriptor"] or "SANDBOX",
        status=status,
        paid=status == "succeeded",
        captured=False,
        application_fee_amount=pi["application_fee_amount"],
        failure_code=decline.code if decline else None,
        failure_message=decline.message if decline else None,
        outcome=outcome(decline),
        billing_details=dict(pm["billing_details"]),
        receipt_url=f"https://pay.stripe.com/receipts/payment/{op.st.random_chars(40)}",
        payment_method_details=_bank_details(pm, mandate_id) if ach else _card_details(pm, pi["amount"], authenticated),
    )
    ch["refunds"] = {"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{ch_id}/refunds"}
    return op.store("charge", ch)


def capture_funds(op: Op, ch: Obj, pi: Obj, amount: int) -> Obj:
    """Mark the charge captured and book the money: the charge's balance transaction (gross, fees, net)
    and, under Connect, the platform's application fee."""
    method = ch["payment_method_details"]["type"]
    currency = ch["currency"]
    fees = [fee_line(stripe_fee(amount, method), currency, "stripe_fee", "Stripe processing fees")]
    card = op.part.pm_behaviour.get(ch["payment_method"])
    pending_until = None if isinstance(card, testdata.Card) and card.available_now else funds_available_on(op)
    app_fee = pi.get("application_fee_amount")
    if app_fee and not op.part.is_platform:
        fees.append(fee_line(app_fee, currency, "application_fee", "Application fee", op.st.connect_client_id))
    bt = add_txn(
        op,
        amount=amount,
        currency=currency,
        type_="charge" if method == "card" else "payment",
        category="charge",
        source=ch["id"],
        fee_details=fees,
        description=ch["description"],
        pending_until=pending_until,
    )
    ch.update(captured=True, amount_captured=amount, balance_transaction=bt["id"])
    if app_fee and not op.part.is_platform:
        _application_fee(op, ch, app_fee, pending_until)
    return bt


def _application_fee(op: Op, ch: Obj, amount: int, pending_until: int | None) -> None:
    platform = op.on(op.st.platform)
    fee = fixtures.new("application_fee")
    fee_id = platform.new_id("fee")
    fee.update(
        id=fee_id,
        account=op.part.account_id,
        amount=amount,
        amount_refunded=0,
        application=op.st.connect_client_id,
        charge=ch["id"],
        created=op.now(),
        currency=ch["currency"],
        fee_source={"charge": ch["id"], "type": "charge"},
        refunded=False,
    )
    fee["refunds"] = {"object": "list", "data": [], "has_more": False, "url": f"/v1/application_fees/{fee_id}/refunds"}
    bt = add_txn(
        platform,
        amount=amount,
        currency=ch["currency"],
        type_="application_fee",
        category="platform_earning",
        source=fee_id,
        pending_until=pending_until,
    )
    fee["balance_transaction"] = bt["id"]
    platform.store("application_fee", fee)
    ch.update(application_fee=fee_id, application=op.st.connect_client_id)
    platform.emit("application_fee.created", fee)


# --- endpoints -------------------------------------------------------------------------------------------


def list_charges(op: Op, params: Params) -> Obj:
    return list_objects(op, "charge", params, "/v1/charges", filters=frozenset({"customer", "payment_intent"}))


def retrieve(op: Op, params: Params, charge_id: str) -> Obj:
    return op.part.require("charge", charge_id)


def update(op: Op, params: Params, charge_id: str) -> Obj:
    check_allowed(params, frozenset({"description", "metadata", "receipt_email", "fraud_details", "shipping"}))
    ch = op.part.require("charge", charge_id)
    previous: dict[str, Any] = {}
    for key in ("description", "receipt_email"):
        if key in params and (value := get_str(params, key)) != ch[key]:
            previous[key] = ch[key]
            ch[key] = value
    if (meta := apply_metadata(ch, params)) is not None:
        previous["metadata"] = meta
    if previous:
        op.emit("charge.updated", ch, previous)
    return ch


def list_application_fees(op: Op, params: Params) -> Obj:
    return list_objects(op, "application_fee", params, "/v1/application_fees", filters=frozenset({"charge"}))


def retrieve_application_fee(op: Op, params: Params, fee_id: str) -> Obj:
    return op.part.require("application_fee", fee_id)
