"""Mandates: the customer's authorisation to debit a bank account, required before an ACH debit.

`mandate_data[customer_acceptance]` on a SetupIntent or PaymentIntent confirmation creates one; later
off-session debits of the same PaymentMethod reuse it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import fixtures
from sandbox.stripe_sandbox.errors import invalid, required
from sandbox.stripe_sandbox.forms import Params, get_dict, get_str

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj


def from_mandate_data(op: Op, pm: Obj, mandate_data: Params) -> Obj:
    acceptance = get_dict(mandate_data, "customer_acceptance")
    kind = get_str(acceptance, "type")
    if kind is None:
        raise required("mandate_data[customer_acceptance][type]")
    if kind not in ("online", "offline"):
        raise invalid("Invalid customer_acceptance type", param="mandate_data[customer_acceptance][type]")
    online = get_dict(acceptance, "online")
    if kind == "online":
        for key in ("ip_address", "user_agent"):
            if not online.get(key):
                raise required(f"mandate_data[customer_acceptance][online][{key}]")
    mandate = fixtures.new("mandate")
    mandate.update(id=op.new_id("mandate"), payment_method=pm["id"], status="active", type="multi_use")
    mandate["customer_acceptance"] = {
        "accepted_at": op.now(),
        "online": {"ip_address": online["ip_address"], "user_agent": online["user_agent"]} if online else None,
        "offline": {} if kind == "offline" else None,
        "type": kind,
    }
    mandate["payment_method_details"] = {
        "type": "us_bank_account",
        "us_bank_account": {"collection_method": None},
    }
    op.store("mandate", mandate)
    op.part.pm_mandate[pm["id"]] = mandate["id"]
    return mandate


def for_payment(op: Op, pm: Obj, params: Params) -> Obj | None:
    """The mandate an ACH confirmation uses: an explicit `mandate`, new `mandate_data`, or the one the
    PaymentMethod already has. None when there is none (the caller refuses to debit)."""
    if mandate_id := get_str(params, "mandate"):
        mandate = op.part.require("mandate", mandate_id, param="mandate")
        if mandate["payment_method"] != pm["id"] or mandate["status"] != "active":
            raise invalid("The mandate is not active for this PaymentMethod.", param="mandate")
        return mandate
    if "mandate_data" in params:
        return from_mandate_data(op, pm, get_dict(params, "mandate_data"))
    existing = op.part.pm_mandate.get(pm["id"])
    return op.part.get("mandate", existing) if existing else None


def retrieve(op: Op, params: Params, mandate_id: str) -> Obj:
    return op.part.require("mandate", mandate_id)
