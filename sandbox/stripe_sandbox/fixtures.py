"""Object shapes from Stripe's own `fixtures3.json` (stripe/openapi), so every field Stripe returns is present.

Each new object starts as a fresh copy of its fixture. A few fixture values are placeholders that would be
lies on a new object (the sample PaymentIntent carries a `last_payment_error` of type idempotency_error, the
sample Charge a legacy `source`), so those are reset to what Stripe returns for a new object before the
template is frozen. Templates are kept as encoded JSON bytes: decoding them with msgspec is the cheapest
deep copy available, which matters when a benchmark creates tens of thousands of objects.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import msgspec

KINDS = (
    "account",
    "application_fee",
    "bank_account",
    "balance",
    "balance_transaction",
    "charge",
    "customer",
    "dispute",
    "event",
    "mandate",
    "payment_intent",
    "payment_method",
    "payout",
    "refund",
    "setup_intent",
    "webhook_endpoint",
)

_NULL_ADDRESS = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}

# Top-level (or one-level nested, "a.b") values to reset on the template; see the module docstring.
_RESETS: dict[str, dict[str, Any]] = {
    "customer": {"address": None, "discount": None, "shipping": None, "currency": None},
    "setup_intent": {
        "automatic_payment_methods": None,
        "last_setup_error": None,
        "next_action": None,
        "payment_method_configuration_details": None,
    },
    "payment_method": {
        "billing_details": {
            "address": dict(_NULL_ADDRESS),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "metadata": {},
        "card.wallet": None,
        "card.generated_from": None,
    },
    "payment_intent": {
        "automatic_payment_methods": None,
        "canceled_at": None,
        "last_payment_error": None,
        "managed_payments": None,
        "next_action": None,
        "payment_method_configuration_details": None,
        "processing": None,
        "shipping": None,
        "transfer_data": None,
    },
    "charge": {
        "balance_transaction": None,
        "billing_details.name": None,
        "description": None,
        "payment_method_details": None,
        "receipt_url": None,
        "shipping": None,
        "source": None,
        "transfer_data": None,
    },
    "refund": {"balance_transaction": None, "charge": None},
    "dispute": {"charge": None, "enhanced_eligibility_types": []},
    "balance_transaction": {"description": None, "source": None},
    "payout": {"balance_transaction": None, "destination": None, "trace_id": {"status": "pending", "value": None}},
    "event": {"data": {}},
    "mandate": {"payment_method": None, "payment_method_details": None},
    "application_fee": {"balance_transaction": None, "charge": None},
}


# The sample objects of the kinds above, as stripe/openapi's fixtures3.json has them. The sandbox must run
# wherever the project is cloned (make run), so it ships this extract; the spec itself stays outside the
# project, and tests/sandbox/test_stripe_conformance.py fails when the extract drifts from it.
SHAPES_PATH = Path(__file__).with_name("shapes.json")


def fixtures_path() -> Path:
    """Stripe's full fixtures file, beside the project (`../shared/specs`) or under ARBRIDGE_SPECS_DIR."""
    base = os.environ.get("ARBRIDGE_SPECS_DIR")
    root = Path(base) if base else Path(__file__).resolve().parents[3] / "shared" / "specs"
    return root / "stripe" / "fixtures3.json"


@functools.cache
def raw_fixtures() -> dict[str, Any]:
    """The sample object of each kind, read once per process. Callers must not mutate it."""
    return msgspec.json.decode(SHAPES_PATH.read_bytes(), type=dict[str, dict[str, Any]])


@functools.cache
def _templates() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for kind in KINDS:
        obj = msgspec.json.decode(msgspec.json.encode(raw_fixtures()[kind]))
        for key, value in _RESETS.get(kind, {}).items():
            head, _, tail = key.partition(".")
            if tail:
                obj[head][tail] = value
            else:
                obj[head] = value
        if "livemode" in obj:
            obj["livemode"] = False
        out[kind] = msgspec.json.encode(obj)
    return out


def new(kind: str) -> dict[str, Any]:
    """A fresh, fully independent copy of the kind's template."""
    obj: dict[str, Any] = msgspec.json.decode(_templates()[kind])
    return obj


def fixture_keys(kind: str) -> set[str]:
    return set(raw_fixtures()[kind])


@functools.cache
def _sub_template(kind: str, path: tuple[str, ...]) -> bytes:
    node: Any = raw_fixtures()[kind]
    for key in path:
        node = node[key]
    return msgspec.json.encode(node)


def sub(kind: str, *path: str) -> dict[str, Any]:
    """A fresh copy of a nested fixture value, e.g. the charge's `payment_method_details.card` shape."""
    obj: dict[str, Any] = msgspec.json.decode(_sub_template(kind, path), type=dict[str, Any])
    return obj
