"""SetupIntents: saving a card or bank account for off-session use (usage=off_session).

Confirming runs the issuer's check on cards (decline cards fail with 402, except chargeCustomerFail, which
saves and then declines every charge), asks for 3DS on cards that want it, and for bank accounts records
the mandate from `mandate_data`. On success the method is attached to the intent's customer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import attempts, customers, fixtures, mandates, payment_methods, testdata
from sandbox.stripe_sandbox.errors import StripeError, invalid, required
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_bool, get_list, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

_CONFIRM = frozenset({"payment_method", "mandate_data", "return_url", "payment_method_options", "use_stripe_sdk"})
_UPDATE = frozenset({"customer", "description", "metadata", "payment_method", "payment_method_types"})
_CREATE = _CONFIRM | _UPDATE | {"confirm", "usage", "automatic_payment_methods", "on_behalf_of", "single_use"}


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _CREATE)
    usage = get_str(params, "usage") or "off_session"
    if usage not in ("off_session", "on_session"):
        raise invalid("Invalid usage: must be one of off_session or on_session", param="usage")
    si = fixtures.new("setup_intent")
    si_id = op.new_id("seti")
    si.update(
        id=si_id,
        created=op.now(),
        client_secret=f"{si_id}_secret_{op.st.random_chars(32)}",
        usage=usage,
        payment_method_types=[str(t) for t in get_list(params, "payment_method_types")] or ["card"],
        status="requires_payment_method",
    )
    _apply(op, si, params)
    op.store("setup_intent", si)
    op.emit("setup_intent.created", si)
    if not get_bool(params, "confirm"):
        return si
    # The payment method was resolved above; resolving a test token again would mint a second one.
    return _confirm(op, si, {k: v for k, v in params.items() if k != "payment_method"})


def _apply(op: Op, si: Obj, params: Params) -> None:
    if "customer" in params:
        cus = get_str(params, "customer")
        si["customer"] = op.part.require("customer", cus, param="customer")["id"] if cus else None
    if "description" in params:
        si["description"] = get_str(params, "description")
    if "payment_method_types" in params:
        si["payment_method_types"] = [str(t) for t in get_list(params, "payment_method_types")]
    if pm_id := get_str(params, "payment_method"):
        si["payment_method"] = payment_methods.resolve(op, pm_id)["id"]
        si["status"] = "requires_confirmation"
    apply_metadata(si, params)


def confirm(op: Op, params: Params, si_id: str) -> Obj:
    check_allowed(params, _CONFIRM)
    return _confirm(op, op.part.require("setup_intent", si_id), params)


def _confirm(op: Op, si: Obj, params: Params) -> Obj:
    if si["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid(
            f"You cannot confirm this SetupIntent because it has a status of {si['status']}.",
            code="setup_intent_unexpected_state",
        )
    pm_id = get_str(params, "payment_method") or si["payment_method"]
    if not pm_id:
        raise required("payment_method")
    pm = payment_methods.resolve(op, pm_id)
    if pm["type"] not in si["payment_method_types"]:
        raise invalid(
            f"The PaymentMethod provided ({pm['type']}) is not allowed for this SetupIntent.", param="payment_method"
        )
    if pm.get("customer") and si["customer"] and pm["customer"] != si["customer"]:
        raise invalid("The provided PaymentMethod belongs to a different Customer.", param="payment_method")
    si["payment_method"] = pm["id"]
    behaviour = op.part.pm_behaviour[pm["id"]]
    if isinstance(behaviour, testdata.Bank):
        if "mandate_data" not in params and pm["id"] not in op.part.pm_mandate:
            raise required("mandate_data")
        mandate = mandates.for_payment(op, pm, params)
        si["mandate"] = mandate["id"] if mandate else None
        return _succeed(op, si, pm)
    if op.st.validate_cards_on_save and behaviour.fails_when_saved and behaviour.decline:
        raise _setup_failed(op, si, pm, behaviour.decline)
    if behaviour.auth in ("always", "setup") and pm["id"] not in op.part.pm_authenticated:
        si.update(status="requires_action", next_action=attempts.next_action(si))
        op.emit("setup_intent.requires_action", si)
        return si
    return _succeed(op, si, pm)


def _succeed(op: Op, si: Obj, pm: Obj) -> Obj:
    si.update(status="succeeded", last_setup_error=None, next_action=None)
    if si["customer"] and not pm.get("customer"):
        customers.attach(op, pm, op.part.require("customer", si["customer"]), validate=False)
    op.emit("setup_intent.succeeded", si)
    return si


def _setup_failed(op: Op, si: Obj, pm: Obj, decline: testdata.Decline) -> StripeError:
    si.update(status="requires_payment_method", payment_method=None)
    si["last_setup_error"] = attempts.payment_error(decline, None, pm)
    op.emit("setup_intent.setup_failed", si)
    return customers.decline_error(decline, setup_intent=si, payment_method=pm)


def complete_action(op: Op, si_id: str, *, succeed: bool = True) -> Obj:
    """The customer finishing (or failing) 3DS on a SetupIntent in requires_action."""
    si = op.part.require("setup_intent", si_id)
    if si["status"] != "requires_action":
        raise invalid(f"SetupIntent {si_id} is {si['status']}, not requires_action.")
    pm = op.part.require("payment_method", si["payment_method"])
    if not succeed:
        si.update(status="requires_payment_method", next_action=None, payment_method=None)
        si["last_setup_error"] = {
            "code": "setup_intent_authentication_failure",
            "message": "The latest attempt to set up the payment method has failed because authentication failed.",
            "payment_method": pm,
            "type": "invalid_request_error",
        }
        op.emit("setup_intent.setup_failed", si)
        return si
    op.part.pm_authenticated.add(pm["id"])
    return _succeed(op, si, pm)


def retrieve(op: Op, params: Params, si_id: str) -> Obj:
    return op.part.require("setup_intent", si_id)


def update(op: Op, params: Params, si_id: str) -> Obj:
    check_allowed(params, _UPDATE)
    si = op.part.require("setup_intent", si_id)
    _apply(op, si, params)
    return si


def cancel(op: Op, params: Params, si_id: str) -> Obj:
    check_allowed(params, frozenset({"cancellation_reason"}))
    si = op.part.require("setup_intent", si_id)
    if si["status"] in ("succeeded", "canceled"):
        raise invalid(
            f"You cannot cancel this SetupIntent because it has a status of {si['status']}.",
            code="setup_intent_unexpected_state",
        )
    si.update(status="canceled", cancellation_reason=get_str(params, "cancellation_reason"), next_action=None)
    op.emit("setup_intent.canceled", si)
    return si


def list_intents(op: Op, params: Params) -> Obj:
    return list_objects(
        op, "setup_intent", params, "/v1/setup_intents", filters=frozenset({"customer", "payment_method"})
    )
