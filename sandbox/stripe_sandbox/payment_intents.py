"""PaymentIntent endpoints: create (optionally confirming), confirm, capture, cancel, update, list.

The rules enforced here are the ones production code trips over: off_session only with confirm; a
PaymentMethod attached to one customer cannot pay for another; an unattached one is spent after one use;
application_fee_amount only on a direct charge (Stripe-Account header or OAuth key); ACH needs a mandate;
surcharge fields only under a preview Stripe-Version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import attempts, charges, customers, fixtures, mandates, payment_methods
from sandbox.stripe_sandbox.errors import StripeError, invalid, unexpected_state, unknown_param
from sandbox.stripe_sandbox.forms import (
    Params,
    apply_metadata,
    check_allowed,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
)
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

_CONFIRM = frozenset(
    {
        "payment_method",
        "off_session",
        "mandate",
        "mandate_data",
        "receipt_email",
        "return_url",
        "setup_future_usage",
        "payment_method_options",
        "error_on_requires_action",
        "use_stripe_sdk",
        "capture_method",
        "shipping",
        "payment_method_types",
    }
)
_UPDATE = frozenset(
    {
        "amount",
        "currency",
        "customer",
        "description",
        "metadata",
        "payment_method",
        "payment_method_types",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "application_fee_amount",
        "shipping",
        "transfer_group",
        "capture_method",
    }
)
_CREATE = (_CONFIRM | _UPDATE) - {"use_stripe_sdk"} | {
    "confirm",
    "confirmation_method",
    "automatic_payment_methods",
    "amount_details",
}
_SIMPLE = ("description", "receipt_email", "statement_descriptor", "statement_descriptor_suffix", "transfer_group")
_METHODS = ("card", "us_bank_account")


def _amount(params: Params, currency: str) -> int | None:
    amount = get_int(params, "amount")
    if amount is not None and amount < 50 and currency == "usd":
        raise invalid("Amount must be at least $0.50 usd", param="amount", code="amount_too_small")
    return amount


def _surcharge(op: Op, params: Params) -> None:
    """Surcharging is a public preview: its fields exist only under a preview API version."""
    details = get_dict(params, "amount_details")
    if "surcharge" in details and not (op.api_version or "").endswith(".preview"):
        raise unknown_param("amount_details[surcharge]")
    if set(details) - {"surcharge", "tip"}:
        raise unknown_param(f"amount_details[{sorted(set(details) - {'surcharge', 'tip'})[0]}]")


def _apply(op: Op, pi: Obj, params: Params) -> None:
    for key in _SIMPLE:
        if key in params:
            pi[key] = get_str(params, key)
    if "customer" in params:
        cus = get_str(params, "customer")
        pi["customer"] = op.part.require("customer", cus, param="customer")["id"] if cus else None
    if "amount" in params:
        pi["amount"] = _amount(params, pi["currency"])
    if "setup_future_usage" in params:
        pi["setup_future_usage"] = get_str(params, "setup_future_usage")
    if "capture_method" in params:
        pi["capture_method"] = get_str(params, "capture_method") or "automatic"
    if "payment_method_types" in params:
        pi["payment_method_types"] = [str(t) for t in get_list(params, "payment_method_types")]
        pi["automatic_payment_methods"] = None
    if "application_fee_amount" in params:
        fee = get_int(params, "application_fee_amount")
        if fee is not None and op.part.is_platform:
            raise invalid(
                "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment "
                "(using an OAuth key or Stripe-Account header) or destination payment (using "
                "`transfer_data[destination]`).",
                param="application_fee_amount",
            )
        pi["application_fee_amount"] = fee
    if "payment_method" in params:
        pm_id = get_str(params, "payment_method")
        pi["payment_method"] = payment_methods.resolve(op, pm_id)["id"] if pm_id else None
    apply_metadata(pi, params)


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _CREATE)
    currency = (get_str(params, "currency", need=True) or "").lower()
    amount = _amount(params, currency)
    if amount is None:
        get_int(params, "amount", need=True)
    confirm_now = get_bool(params, "confirm")
    if "off_session" in params and not confirm_now:
        raise invalid("You can only specify `off_session` when `confirm` is true.", param="off_session")
    _surcharge(op, params)
    pi = fixtures.new("payment_intent")
    pi_id = op.new_id("pi")
    pi.update(
        id=pi_id,
        amount=amount,
        currency=currency,
        created=op.now(),
        client_secret=f"{pi_id}_secret_{op.st.random_chars(25)}",
        customer=None,
        capture_method="automatic_async",
        confirmation_method=get_str(params, "confirmation_method") or "automatic",
        payment_method_types=list(_METHODS),
        automatic_payment_methods={"allow_redirects": "always", "enabled": True},
        status="requires_payment_method",
    )
    _apply(op, pi, params)
    if pi["payment_method"]:
        pi["status"] = "requires_confirmation"
    op.store("payment_intent", pi)
    op.emit("payment_intent.created", pi)
    if not confirm_now:
        return pi
    # The payment method was resolved above; resolving a test token again would mint a second one.
    return _confirm(op, pi, {k: v for k, v in params.items() if k != "payment_method"})


def confirm(op: Op, params: Params, pi_id: str) -> Obj:
    check_allowed(params, _CONFIRM)
    pi = op.part.require("payment_intent", pi_id)
    return _confirm(op, pi, params)


def _confirm(op: Op, pi: Obj, params: Params) -> Obj:
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise unexpected_state(
            f"This PaymentIntent's status is {pi['status']}. You cannot confirm this PaymentIntent because it "
            "has already succeeded after being previously confirmed."
            if pi["status"] == "succeeded"
            else f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
            payment_intent=pi,
        )
    pm_id = get_str(params, "payment_method") or pi["payment_method"]
    if not pm_id:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm it, "
            "specify a payment method attached to the customer along with the customer ID.",
            payment_intent=pi,
        )
    pm = payment_methods.resolve(op, pm_id)
    if pm["type"] not in pi["payment_method_types"]:
        raise invalid(
            f"The PaymentMethod provided ({pm['type']}) is not allowed for this PaymentIntent. Allowed: "
            f"{', '.join(pi['payment_method_types'])}.",
            param="payment_method",
        )
    payment_methods.check_usable(op, pm, pi["customer"])
    for key in ("receipt_email", "setup_future_usage", "capture_method"):
        if key in params:
            pi[key] = get_str(params, key) or pi[key]
    pi["payment_method"] = pm["id"]
    off_session = (get_str(params, "off_session") or "false") in ("true", "one_off", "recurring")
    if pm["type"] == "us_bank_account":
        mandate = mandates.for_payment(op, pm, params)
        if mandate is None:
            raise invalid(
                "This PaymentIntent requires a mandate, but no existing mandate was found. Collect mandate "
                "acceptance from the customer and try again, providing acceptance data in the mandate_data parameter.",
                param="mandate_data",
                code="payment_intent_mandate_invalid",
            )
        result = attempts.confirm_bank(op, pi, pm, mandate)
    else:
        try:
            result = attempts.confirm_card(op, pi, pm, off_session=off_session)
        except StripeError:
            _spend(op, pi, pm, succeeded=False)
            raise
    _spend(op, pi, pm, succeeded=True)
    return result


def _spend(op: Op, pi: Obj, pm: Obj, *, succeeded: bool) -> None:
    """After an attempt: save the method for later if asked, or mark an unattached one as used (Stripe
    lets an unattached PaymentMethod pay once)."""
    if pm.get("customer") or pi["status"] == "requires_action":
        return
    if succeeded and pi["setup_future_usage"] and pi["customer"]:
        customers.attach(op, pm, op.part.require("customer", pi["customer"]), validate=False)
    else:
        op.part.pm_consumed.add(pm["id"])


def retrieve(op: Op, params: Params, pi_id: str) -> Obj:
    return op.part.require("payment_intent", pi_id)


def update(op: Op, params: Params, pi_id: str) -> Obj:
    check_allowed(params, _UPDATE)
    pi = op.part.require("payment_intent", pi_id)
    if set(params) - {"metadata", "description", "expand"} and pi["status"] in ("succeeded", "canceled", "processing"):
        raise unexpected_state(f"You cannot update this PaymentIntent because it has a status of {pi['status']}.")
    _apply(op, pi, params)
    return pi


def list_intents(op: Op, params: Params) -> Obj:
    return list_objects(op, "payment_intent", params, "/v1/payment_intents", filters=frozenset({"customer"}))


def cancel(op: Op, params: Params, pi_id: str) -> Obj:
    check_allowed(params, frozenset({"cancellation_reason"}))
    pi = op.part.require("payment_intent", pi_id)
    if pi["status"] in ("succeeded", "canceled"):
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a PaymentIntent "
            "with one of the following statuses may be canceled: requires_payment_method, requires_capture, "
            "requires_confirmation, requires_action, processing.",
            payment_intent=pi,
        )
    reason = get_str(params, "cancellation_reason")
    if reason and reason not in ("duplicate", "fraudulent", "requested_by_customer", "abandoned"):
        raise invalid("Invalid cancellation_reason", param="cancellation_reason")
    if pi["status"] == "requires_capture" and pi["latest_charge"]:
        ch = op.part.require("charge", pi["latest_charge"])
        ch.update(amount_refunded=ch["amount"], refunded=True)  # the authorisation is released
    pi.update(
        status="canceled", canceled_at=op.now(), cancellation_reason=reason, amount_capturable=0, next_action=None
    )
    op.emit("payment_intent.canceled", pi)
    return pi


def capture(op: Op, params: Params, pi_id: str) -> Obj:
    check_allowed(
        params, frozenset({"amount_to_capture", "application_fee_amount", "metadata", "statement_descriptor"})
    )
    pi = op.part.require("payment_intent", pi_id)
    if pi["status"] != "requires_capture":
        raise unexpected_state(
            f"This PaymentIntent could not be captured because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be captured: requires_capture.",
            payment_intent=pi,
        )
    amount = get_int(params, "amount_to_capture") or pi["amount_capturable"]
    if amount > pi["amount_capturable"]:
        raise invalid(
            "The amount to capture must be less than or equal to the amount capturable.", param="amount_to_capture"
        )
    _apply(op, pi, {k: v for k, v in params.items() if k != "amount_to_capture"})
    ch = op.part.require("charge", pi["latest_charge"])
    charges.capture_funds(op, ch, pi, amount)
    if amount < ch["amount"]:
        ch.update(amount_refunded=ch["amount"] - amount)  # the uncaptured rest is released
    op.emit("charge.captured", ch)
    attempts.succeed(op, pi, ch)
    return pi


def complete_action(op: Op, pi_id: str, *, succeed: bool = True) -> Obj:
    pi = op.part.require("payment_intent", pi_id)
    if pi["status"] != "requires_action":
        raise unexpected_state(f"PaymentIntent {pi_id} is {pi['status']}, not requires_action.")
    return attempts.complete_action(op, pi, succeed_auth=succeed)
