"""Accounts: the platform and its connected accounts (Connect).

Each account is also a partition of state. A seeded or OAuth-connected account is ready to take payments
(charges and payouts enabled, nothing due), with one external bank account for payouts to land in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import fixtures
from sandbox.stripe_sandbox.errors import StripeError, invalid
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_dict, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.state import StripeState
    from sandbox.stripe_sandbox.store import Obj


def new_account(
    st: StripeState,
    *,
    type_: str = "standard",
    name: str | None = None,
    email: str | None = None,
    country: str = "US",
    currency: str = "usd",
    account_id: str | None = None,
) -> Obj:
    acct = fixtures.new("account")
    acct_id = account_id or st.new_id("acct", 16)
    acct.update(
        id=acct_id,
        type=type_,
        email=email,
        country=country,
        default_currency=currency,
        created=st.now(),
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        business_type="company",
        metadata={},
    )
    acct["business_profile"]["name"] = name
    acct["settings"]["dashboard"]["display_name"] = name
    for req in ("requirements", "future_requirements"):
        for key in ("currently_due", "eventually_due", "past_due", "pending_verification", "errors", "alternatives"):
            acct[req][key] = []
        acct[req]["disabled_reason"] = None
    bank = fixtures.new("bank_account")
    bank.update(
        id=st.new_id("ba", 24),
        account=acct_id,
        account_holder_name=name,
        country=country,
        currency=currency,
        default_for_currency=True,
        fingerprint=st.random_chars(16),
    )
    acct["external_accounts"] = {
        "object": "list",
        "data": [bank],
        "has_more": False,
        "url": f"/v1/accounts/{acct_id}/external_accounts",
    }
    return acct


def payout_destination(account: Obj) -> str:
    data = account["external_accounts"]["data"]
    return str(data[0]["id"]) if data else ""


# --- endpoints -------------------------------------------------------------------------------------------

_CREATE = frozenset(
    {"type", "country", "email", "metadata", "business_type", "business_profile", "capabilities", "controller"}
)


def retrieve_own(op: Op, params: Params) -> Obj:
    return op.part.require("account", op.part.account_id)


def retrieve(op: Op, params: Params, account_id: str) -> Obj:
    if account_id == op.part.account_id:
        return retrieve_own(op, params)
    if not op.part.is_platform or account_id not in op.st.connected:
        raise StripeError(
            403,
            "invalid_request_error",
            f"The provided key does not have access to account '{account_id}' (or that account does not "
            "exist). Application access may have been revoked.",
            code="account_invalid",
            saved=False,
        )
    return op.part.require("account", account_id)


def list_accounts(op: Op, params: Params) -> Obj:
    if not op.part.is_platform:
        raise invalid("Only platforms can list connected accounts.")
    return list_objects(
        op,
        "account",
        params,
        "/v1/accounts",
        keep=lambda a: a["id"] != op.part.account_id and a["id"] in op.st.connected,
    )


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _CREATE)
    if not op.part.is_platform:
        raise invalid("Only platforms can create connected accounts.")
    type_ = get_str(params, "type") or "standard"
    if type_ not in ("standard", "express", "custom"):
        raise invalid("Invalid type: must be one of standard, express, or custom", param="type")
    acct = new_account(
        op.st,
        type_=type_,
        email=get_str(params, "email"),
        country=get_str(params, "country") or "US",
        name=get_dict(params, "business_profile").get("name"),
    )
    apply_metadata(acct, params)
    op.st.connect(acct)
    op.emit("account.updated", acct)
    return acct


def update(op: Op, params: Params, account_id: str) -> Obj:
    check_allowed(params, frozenset({"metadata", "email", "business_profile"}))
    acct = retrieve(op, params, account_id)
    previous: dict[str, object] = {}
    if (before := apply_metadata(acct, params)) is not None:
        previous["metadata"] = before
    if (email := get_str(params, "email")) is not None and email != acct["email"]:
        previous["email"] = acct["email"]
        acct["email"] = email
    if previous:
        op.on(op.st.partition(account_id)).emit("account.updated", acct, previous)
    return acct
