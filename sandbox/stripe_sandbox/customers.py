"""Customers, and attaching PaymentMethods to them (the saved methods off-session payments charge)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import fixtures, payment_methods, testdata
from sandbox.stripe_sandbox.errors import StripeError, invalid
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_dict, get_list, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

_FIELDS = frozenset({"email", "name", "phone", "description"})
_CREATE = _FIELDS | {"metadata", "payment_method", "invoice_settings", "address", "preferred_locales", "tax_exempt"}
_UPDATE = _CREATE - {"payment_method"}


# --- attach / detach -----------------------------------------------------------------------------------


def decline_error(decline: testdata.Decline, **extra: Any) -> StripeError:
    fields = {"decline_code": decline.decline_code, **extra}
    if decline.advice_code:
        fields["advice_code"] = decline.advice_code
    if decline.network_decline_code:
        fields["network_decline_code"] = decline.network_decline_code
    return StripeError(402, "card_error", decline.message, code=decline.code, **fields)


def attach(op: Op, pm: Obj, customer: Obj, *, validate: bool = True) -> Obj:
    """`validate`: run the issuer's check Stripe does when a card is saved (decline cards fail it).
    Seeding helpers skip it, modelling a card that was good when saved and declines now."""
    if pm.get("customer") == customer["id"]:
        return pm
    if pm.get("customer"):
        raise invalid("The payment method you provided has already been attached to a customer.")
    if pm["id"] in op.part.pm_consumed:
        raise invalid(
            "This PaymentMethod was previously used without being attached to a Customer or was detached "
            "from a Customer, and may not be used again.",
            param="payment_method",
        )
    card = op.part.pm_behaviour.get(pm["id"])
    if validate and op.st.validate_cards_on_save and isinstance(card, testdata.Card) and card.fails_when_saved:
        assert card.decline is not None
        raise decline_error(card.decline, saved=True)
    pm["customer"] = customer["id"]
    op.part.customer_pms.setdefault(customer["id"], []).append(pm["id"])
    op.emit("payment_method.attached", pm)
    return pm


def detach(op: Op, pm: Obj) -> Obj:
    cus_id = pm.get("customer")
    if not cus_id:
        raise invalid("The payment method you provided is not attached to a customer so detachment is impossible.")
    pm["customer"] = None
    op.part.customer_pms.get(cus_id, []).remove(pm["id"])
    op.part.pm_consumed.add(pm["id"])
    customer = op.part.get("customer", cus_id)
    if customer and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        customer["invoice_settings"]["default_payment_method"] = None
    op.emit("payment_method.detached", pm, {"customer": cus_id})
    return pm


def attach_endpoint(op: Op, params: Params, pm_id: str) -> Obj:
    check_allowed(params, frozenset({"customer"}))
    customer = op.part.require("customer", get_str(params, "customer", need=True), param="customer")
    return attach(op, payment_methods.resolve(op, pm_id, param="id"), customer)


def detach_endpoint(op: Op, params: Params, pm_id: str) -> Obj:
    check_allowed(params, frozenset())
    return detach(op, op.part.require("payment_method", pm_id))


# --- customers -----------------------------------------------------------------------------------------


def _apply(op: Op, customer: Obj, params: Params) -> dict[str, Any]:
    """Apply create/update params; returns previous values of what changed."""
    previous: dict[str, Any] = {}
    for key in _FIELDS | {"tax_exempt"}:
        if key in params:
            value = get_str(params, key)
            if value != customer[key]:
                previous[key] = customer[key]
                customer[key] = value
    if "preferred_locales" in params:
        previous["preferred_locales"] = customer["preferred_locales"]
        customer["preferred_locales"] = get_list(params, "preferred_locales")
    if "address" in params:
        previous["address"] = customer["address"]
        address = {k: None for k in ("city", "country", "line1", "line2", "postal_code", "state")}
        address.update({k: v or None for k, v in get_dict(params, "address").items() if k in address})
        customer["address"] = address
    if (meta := apply_metadata(customer, params)) is not None:
        previous["metadata"] = meta
    settings = get_dict(params, "invoice_settings")
    if "default_payment_method" in settings:
        pm_id = settings["default_payment_method"] or None
        if pm_id and pm_id not in op.part.customer_pms.get(customer["id"], []):
            raise invalid(
                f"No such PaymentMethod: '{pm_id}'; the payment method must be attached to the customer.",
                param="invoice_settings[default_payment_method]",
                code="resource_missing",
            )
        previous["invoice_settings"] = dict(customer["invoice_settings"])
        customer["invoice_settings"]["default_payment_method"] = pm_id
    return previous


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _CREATE)
    customer = fixtures.new("customer")
    customer.update(id=op.new_id("cus", 14), created=op.now(), invoice_prefix=op.st.random_chars(8).upper())
    pm_id = get_str(params, "payment_method")
    pm = payment_methods.resolve(op, pm_id) if pm_id else None
    op.store("customer", customer)
    if pm is not None:
        attach(op, pm, customer)
    _apply(op, customer, params)
    op.emit("customer.created", customer)
    return customer


def retrieve(op: Op, params: Params, customer_id: str) -> Obj:
    customer = op.part.get("customer", customer_id)
    if customer is not None and customer.get("deleted"):
        return {"id": customer_id, "object": "customer", "deleted": True}
    return op.part.require("customer", customer_id)


def update(op: Op, params: Params, customer_id: str) -> Obj:
    check_allowed(params, _UPDATE)
    customer = op.part.require("customer", customer_id)
    previous = _apply(op, customer, params)
    if previous:
        op.emit("customer.updated", customer, previous)
    return customer


def delete(op: Op, params: Params, customer_id: str) -> Obj:
    customer = op.part.require("customer", customer_id)
    op.emit("customer.deleted", customer)
    customer["deleted"] = True
    return {"id": customer_id, "object": "customer", "deleted": True}


def list_customers(op: Op, params: Params) -> Obj:
    return list_objects(op, "customer", params, "/v1/customers", filters=frozenset({"email"}))


def list_customer_pms(op: Op, params: Params, customer_id: str) -> Obj:
    op.part.require("customer", customer_id)
    rest = {k: v for k, v in params.items() if k != "type"}
    wanted = get_str(params, "type")
    return list_objects(
        op,
        "payment_method",
        rest,
        f"/v1/customers/{customer_id}/payment_methods",
        keep=lambda pm: pm.get("customer") == customer_id and (wanted is None or pm["type"] == wanted),
    )


def retrieve_customer_pm(op: Op, params: Params, customer_id: str, pm_id: str) -> Obj:
    pm = op.part.require("payment_method", pm_id)
    if pm.get("customer") != customer_id:
        raise invalid(f"No such PaymentMethod: '{pm_id}'", code="resource_missing", status=404)
    return pm
