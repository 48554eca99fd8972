"""A PaymentIntent's payment attempt: what the test card or bank account does when charged.

Cards answer at once: success (status succeeded, a Charge, a balance transaction), or a decline (HTTP 402
card_error; a failed Charge; the PaymentIntent back to requires_payment_method with last_payment_error).
A card that asks for 3DS declines with authentication_required off-session, and moves to requires_action
on-session until `complete_action` plays the customer's part.

ACH debits go to `processing` with a pending charge and settle `ach_business_days` business days later
(a scheduled task): success, or a return (failure_code plus, for non-NSF returns, a blocked bank account).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import charges, customers, disputes, testdata
from sandbox.stripe_sandbox.errors import DOCS, StripeError

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj


def add_business_days(ts: int, days: int) -> int:
    at = datetime.fromtimestamp(ts, UTC)
    while days > 0:
        at += timedelta(days=1)
        if at.weekday() < 5:
            days -= 1
    return int(at.timestamp())


def payment_error(decline: testdata.Decline, charge_id: str | None, pm: Obj, type_: str = "card_error") -> Obj:
    err: Obj = {
        "advice_code": decline.advice_code,
        "charge": charge_id,
        "code": decline.code,
        "decline_code": decline.decline_code,
        "doc_url": DOCS + decline.code.replace("_", "-"),
        "message": decline.message,
        "network_advice_code": decline.network_advice_code,
        "network_decline_code": decline.network_decline_code,
        "payment_method": pm,
        "type": type_,
    }
    return {k: v for k, v in err.items() if v is not None}


def _fail(op: Op, pi: Obj, pm: Obj, ch: Obj | None, decline: testdata.Decline) -> None:
    """Move the intent back to requires_payment_method. Stripe also clears its payment_method: the next
    attempt has to name one (the failed one stays visible in last_payment_error)."""
    pi.update(
        status="requires_payment_method",
        last_payment_error=payment_error(decline, ch["id"] if ch else None, pm),
        payment_method=None,
        next_action=None,
    )
    if ch is not None:
        op.emit("charge.failed", ch)
    op.emit("payment_intent.payment_failed", pi)


def decline(op: Op, pi: Obj, pm: Obj, decline_: testdata.Decline) -> StripeError:
    ch = charges.new_charge(op, pi, pm, status="failed", decline=decline_)
    pi["latest_charge"] = ch["id"]
    _fail(op, pi, pm, ch, decline_)
    return customers.decline_error(decline_, charge=ch["id"], payment_intent=pi, payment_method=pm)


def succeed(op: Op, pi: Obj, ch: Obj) -> None:
    pi.update(status="succeeded", amount_received=ch["amount_captured"], last_payment_error=None, next_action=None)
    pi["amount_capturable"] = 0
    op.emit("payment_intent.succeeded", pi)


def charge_card(op: Op, pi: Obj, pm: Obj, card: testdata.Card, *, authenticated: bool = False) -> Obj:
    if card.decline is not None:
        raise decline(op, pi, pm, card.decline)
    ch = charges.new_charge(op, pi, pm, status="succeeded", authenticated=authenticated)
    pi["latest_charge"] = ch["id"]
    if pi["capture_method"] == "manual":
        pi.update(status="requires_capture", amount_capturable=pi["amount"], last_payment_error=None)
        ch["outcome"]["seller_message"] = "Payment complete."
        op.emit("charge.succeeded", ch)
        op.emit("payment_intent.amount_capturable_updated", pi)
        return pi
    charges.capture_funds(op, ch, pi, pi["amount"])
    op.emit("charge.succeeded", ch)
    succeed(op, pi, ch)
    if card.dispute_reason:
        disputes.open_dispute(op, ch, reason=card.dispute_reason)
    return pi


def confirm_card(op: Op, pi: Obj, pm: Obj, *, off_session: bool) -> Obj:
    card = op.part.pm_behaviour[pm["id"]]
    asks = card.auth == "always" or (card.auth == "setup" and pm["id"] not in op.part.pm_authenticated)
    if not asks:
        return charge_card(op, pi, pm, card)
    if off_session:
        raise decline(op, pi, pm, testdata.AUTH_REQUIRED)
    pi.update(status="requires_action", next_action=next_action(pi))
    op.emit("payment_intent.requires_action", pi)
    return pi


def next_action(intent: Obj) -> Obj:
    """What the customer must do on-session; `complete_action` stands in for doing it."""
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "stripe_js": f"https://hooks.stripe.com/3d_secure/{intent['id']}",
        },
    }


def confirm_bank(op: Op, pi: Obj, pm: Obj, mandate: Obj) -> Obj:
    bank = op.part.pm_behaviour[pm["id"]]
    ch = charges.new_charge(op, pi, pm, status="pending", mandate_id=mandate["id"])
    pi.update(status="processing", latest_charge=ch["id"], last_payment_error=None, next_action=None)
    op.emit("charge.pending", ch)
    op.emit("payment_intent.processing", pi)
    if not bank.never_settles:
        due = add_business_days(op.now(), op.st.ach_business_days)
        op.st.schedule(due, op.part.account_id, "ach_settle", pi["id"])
    return pi


def settle_ach(op: Op, pi_id: str) -> None:
    """The bank's answer, some business days after the debit was sent."""
    pi = op.part.get("payment_intent", pi_id)
    if pi is None or pi["status"] != "processing":
        return  # canceled meanwhile
    ch = op.part.require("charge", pi["latest_charge"])
    pm = op.part.require("payment_method", ch["payment_method"])
    bank: testdata.Bank = op.part.pm_behaviour[pm["id"]]
    if bank.failure:
        _ach_return(op, pi, ch, pm, bank)
        return
    ch.update(status="succeeded", paid=True)
    charges.capture_funds(op, ch, pi, pi["amount"])
    op.emit("charge.succeeded", ch)
    succeed(op, pi, ch)
    if bank.dispute_reason:
        disputes.open_dispute(op, ch, reason=bank.dispute_reason)


def _ach_return(op: Op, pi: Obj, ch: Obj, pm: Obj, bank: testdata.Bank) -> None:
    assert bank.failure is not None
    message = testdata.ACH_FAILURE_MESSAGES.get(bank.failure, "The payment failed.")
    failure = testdata.Decline(bank.failure, None, message, network_decline_code=bank.return_code)
    ch.update(
        status="failed",
        failure_code=bank.failure,
        failure_message=message,
        outcome=charges.outcome(failure=bank.failure),
    )
    ch["outcome"]["network_decline_code"] = bank.return_code
    if bank.blocked_reason:
        # Stripe blocks the account after a non-NSF return; later debits of it must not be attempted.
        previous = {"us_bank_account": {"status_details": dict(pm["us_bank_account"]["status_details"])}}
        pm["us_bank_account"]["status_details"] = {
            "blocked": {"network_code": bank.return_code, "reason": bank.blocked_reason}
        }
        op.emit("payment_method.updated", pm, previous)
    _fail(op, pi, pm, ch, failure)


def complete_action(op: Op, intent: Obj, *, succeed_auth: bool) -> Obj:
    """The customer finishing (or failing) 3DS on a PaymentIntent in requires_action."""
    pm = op.part.require("payment_method", intent["payment_method"])
    if not succeed_auth:
        error = {
            "code": "payment_intent_authentication_failure",
            "doc_url": DOCS + "payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
            "or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
            "payment_method": pm,
            "type": "invalid_request_error",
        }
        intent.update(status="requires_payment_method", last_payment_error=error, next_action=None, payment_method=None)
        op.emit("payment_intent.payment_failed", intent)
        return intent
    op.part.pm_authenticated.add(pm["id"])
    try:
        return charge_card(op, intent, pm, op.part.pm_behaviour[pm["id"]], authenticated=True)
    except StripeError:
        return intent  # a decline after authentication: the intent already records it
