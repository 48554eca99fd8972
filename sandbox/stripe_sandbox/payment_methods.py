"""PaymentMethods: cards and ACH bank accounts, created from Stripe's test tokens, attached to customers,
and the mandates that let a bank account be debited off-session.

A test token (`pm_card_visa`, `pm_usBankAccount_success`) used wherever a PaymentMethod id is accepted
makes a fresh PaymentMethod, as Stripe does; which test card or account it came from is kept in the
partition (`pm_behaviour`) and decides what later charges do.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import fixtures, testdata
from sandbox.stripe_sandbox.errors import StripeError, invalid, missing_resource, required
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_dict, get_int, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj

_CREATE = frozenset({"type", "card", "us_bank_account", "billing_details", "metadata", "allow_redisplay"})
_UPDATE = frozenset({"billing_details", "metadata", "card", "allow_redisplay", "us_bank_account"})


def _fingerprint(source: str) -> str:
    """Stable per card / account number, so attempts can be counted per instrument as collections.md asks."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _billing(pm: Obj, params: Params) -> None:
    details = get_dict(params, "billing_details")
    for key in ("email", "name", "phone"):
        if key in details:
            pm["billing_details"][key] = details[key] or None
    for key, value in get_dict(details, "address").items():
        if key in pm["billing_details"]["address"]:
            pm["billing_details"]["address"][key] = value or None


def card_pm(op: Op, name: str, card: testdata.Card) -> Obj:
    pm = fixtures.new("payment_method")
    now = datetime.fromtimestamp(op.now(), UTC)
    pm.update(id=op.new_id("pm"), created=op.now(), type="card", customer=None, allow_redisplay="unspecified")
    pm["card"].update(
        brand=card.brand,
        display_brand=card.brand,
        country=card.country,
        exp_month=now.month,
        exp_year=now.year + 1,
        fingerprint=_fingerprint("card:" + name),
        funding=card.funding,
        last4=card.last4,
        networks={"available": [card.brand], "preferred": None},
        checks={"address_line1_check": None, "address_postal_code_check": None, "cvc_check": None},
    )
    op.part.pm_behaviour[pm["id"]] = card
    return op.store("payment_method", pm)


def bank_pm(op: Op, number: str, bank: testdata.Bank, *, holder: str = "company", name: str | None = None) -> Obj:
    pm = fixtures.new("payment_method")
    del pm["card"]  # Stripe includes only the hash of the method's own type
    pm.update(id=op.new_id("pm"), created=op.now(), type="us_bank_account", customer=None)
    pm["billing_details"]["name"] = name or "Sandbox Customer"
    pm["us_bank_account"] = {
        "account_holder_type": holder,
        "account_type": "checking",
        "bank_name": "STRIPE TEST BANK",
        "financial_connections_account": None,
        "fingerprint": _fingerprint("bank:" + number),
        "last4": bank.last4,
        "networks": {"preferred": "ach", "supported": ["ach"]},
        "routing_number": testdata.TEST_ROUTING_NUMBER,
        "status_details": {},
    }
    op.part.pm_behaviour[pm["id"]] = bank
    return op.store("payment_method", pm)


def from_token(op: Op, token: str) -> Obj | None:
    """A PaymentMethod for a Stripe test token, or None when `token` is not one."""
    if token.startswith("pm_card_"):
        found = testdata.card_for_token(token[len("pm_card_") :])
        return card_pm(op, *found) if found else None
    if token.startswith("pm_usBankAccount_"):
        bank = testdata.bank_for_token(token[len("pm_usBankAccount_") :])
        return bank_pm(op, *bank) if bank else None
    return None


def resolve(op: Op, pm_id: str, param: str = "payment_method") -> Obj:
    pm = op.part.get("payment_method", pm_id) or from_token(op, pm_id)
    if pm is None:
        raise missing_resource("payment_method", pm_id, param=param)
    return pm


def _card_from_params(op: Op, card: dict[str, Any]) -> Obj:
    token = card.get("token")
    if token:
        found = testdata.card_for_token(str(token).removeprefix("tok_"))
        if not found:
            raise missing_resource("token", str(token), param="card[token]")
        return card_pm(op, *found)
    number = str(card.get("number") or "")
    if not number:
        raise required("card[token]")
    if not op.st.allow_raw_card_data:
        raise StripeError(
            402,
            "card_error",
            "Sending credit card numbers directly to the Stripe API is generally unsafe. To continue "
            "processing use Stripe.js, the Stripe mobile bindings, or Stripe Elements.",
            code="card_declined",
            param="card[number]",
            saved=False,
        )
    name = testdata.CARD_NUMBERS.get(number)
    if name is None:
        raise StripeError(402, "card_error", "Your card number is incorrect.", code="incorrect_number", saved=False)
    pm = card_pm(op, name, testdata.CARDS[name])
    pm["card"]["exp_month"] = get_int(card, "exp_month") or pm["card"]["exp_month"]
    pm["card"]["exp_year"] = get_int(card, "exp_year") or pm["card"]["exp_year"]
    return pm


def _bank_from_params(op: Op, details: dict[str, Any], holder_name: str | None) -> Obj:
    number = get_str(details, "account_number")
    routing = get_str(details, "routing_number")
    if not number:
        raise required("us_bank_account[account_number]")
    if not routing or len(routing) != 9 or not routing.isdigit():
        raise invalid("Routing number must have 9 digits", param="us_bank_account[routing_number]")
    if not holder_name:
        raise required("billing_details[name]")
    holder = get_str(details, "account_holder_type") or "individual"
    return bank_pm(op, number, testdata.bank_for_number(number), holder=holder, name=holder_name)


def check_usable(op: Op, pm: Obj, customer: str | None) -> None:
    """Whether `pm` may pay for `customer`'s PaymentIntent: its owner, single use when unattached, and
    not blocked after an ACH return."""
    owner = pm.get("customer")
    if owner and customer is None:
        raise invalid(
            "The provided PaymentMethod is attached to a Customer. You must provide the Customer ID in the "
            "`customer` parameter to use this PaymentMethod.",
            param="payment_method",
        )
    if owner and owner != customer:
        raise invalid("The provided PaymentMethod belongs to a different Customer.", param="payment_method")
    if not owner and pm["id"] in op.part.pm_consumed:
        raise invalid(
            "This PaymentMethod was previously used without being attached to a Customer or was detached from "
            "a Customer, and may not be used again.",
            param="payment_method",
        )
    blocked = (pm.get("us_bank_account") or {}).get("status_details", {}).get("blocked")
    if blocked:
        raise invalid(
            f"This bank account has been blocked after an ACH return ({blocked['network_code']}) and cannot be "
            "debited.",
            param="payment_method",
            code="payment_method_bank_account_blocked",
        )


# --- endpoints -------------------------------------------------------------------------------------------


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _CREATE)
    type_ = get_str(params, "type", need=True)
    if type_ == "card":
        pm = _card_from_params(op, get_dict(params, "card"))
    elif type_ == "us_bank_account":
        name = get_dict(params, "billing_details").get("name")
        pm = _bank_from_params(op, get_dict(params, "us_bank_account"), name)
    else:
        raise invalid(f"The sandbox supports card and us_bank_account, not {type_}", param="type")
    _billing(pm, params)
    apply_metadata(pm, params)
    return pm


def retrieve(op: Op, params: Params, pm_id: str) -> Obj:
    return resolve(op, pm_id, param="id")


def update(op: Op, params: Params, pm_id: str) -> Obj:
    check_allowed(params, _UPDATE)
    pm = op.part.require("payment_method", pm_id)
    previous: dict[str, Any] = {}
    before_billing = dict(pm["billing_details"])
    _billing(pm, params)
    if pm["billing_details"] != before_billing:
        previous["billing_details"] = before_billing
    if (meta := apply_metadata(pm, params)) is not None:
        previous["metadata"] = meta
    card = get_dict(params, "card")
    if card and pm["type"] == "card":
        old = {k: pm["card"][k] for k in ("exp_month", "exp_year")}
        for key in ("exp_month", "exp_year"):
            if (value := get_int(card, key)) is not None:
                pm["card"][key] = value
        if old != {k: pm["card"][k] for k in old}:
            previous["card"] = old
    if previous:
        op.emit("payment_method.updated", pm, previous)
    return pm


def list_pms(op: Op, params: Params) -> Obj:
    return list_objects(op, "payment_method", params, "/v1/payment_methods", filters=frozenset({"customer", "type"}))
