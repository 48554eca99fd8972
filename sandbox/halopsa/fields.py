"""Field typing for HaloPSA records: how values arrive in a POST body and how they leave in a response.

Halo is an ASP.NET service: a body value of the wrong JSON type fails model binding with a 400 rather than
being coerced (we assume System.Text.Json-style strictness [U]; Newtonsoft would coerce "5" to 5). Unknown
properties are ignored, as ASP.NET does. Every writable field of each resource is declared here with its
spec type, so a record can never hold a value the swagger's schema would reject.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.halopsa.errors import HaloError

INT, FLOAT, BOOL, STR, DATETIME = "int", "float", "bool", "str", "datetime"

# Writable properties per resource (names exactly as in the swagger's schemas). Everything else a caller
# sends is ignored; computed fields (total, amountdue, last_modified, client_name, ...) are ours to set.
CLIENT_FIELDS: dict[str, str] = {
    "name": STR,
    "inactive": BOOL,
    "accountsemailaddress": STR,
    "paymentterms": INT,
    "stripe_customer_id": STR,
    "stripe_payment_method_id": STR,
    "xeroid": STR,
    "qbo_company_id": STR,
    "toplevel_id": INT,
    "toplevel_name": STR,
    "website": STR,
    "currencyisocode": STR,
    "notes": STR,
}
CONTRACT_FIELDS: dict[str, str] = {
    "client_id": INT,
    "ref": STR,
    "start_date": DATETIME,
    "end_date": DATETIME,
    "billingperiod": INT,
    "billingdescription": INT,
    "periodchargeamount": FLOAT,
    "next_invoice_date": DATETIME,
    "active": BOOL,
    "status": INT,
    "contracttype": INT,
    "contracttype_name": STR,
    "subtype": INT,
    "note": STR,
}
INVOICE_FIELDS: dict[str, str] = {
    "client_id": INT,
    "invoicenumber": STR,
    "invoice_date": DATETIME,
    "duedate": DATETIME,
    "posted": BOOL,
    "voided": BOOL,
    "paymentterms": INT,
    "contract_id": INT,
    "reference": STR,
    "internal_note": STR,
    "take_auto_payment": BOOL,
    "include_in_autopay": BOOL,
    "xeroid": STR,
    "qboid": INT,
}
LINE_FIELDS: dict[str, str] = {
    "item_code": STR,
    "item_shortdescription": STR,
    "qty_order": FLOAT,
    "unit_price": FLOAT,
    "net_amount": FLOAT,
    "tax_amount": FLOAT,
    "tax_code": STR,
    "nominal_code": STR,
    "contract_id": INT,
}
PAYMENT_FIELDS: dict[str, str] = {
    "invoice_id": INT,
    "date": DATETIME,
    "amount": FLOAT,
    "method": INT,
    "status": INT,
    "intent_id": STR,
    "thirdpartyid": STR,
}


def format_datetime(moment: datetime, *, naive: bool = False, millis: bool = False) -> str:
    """UTC in a fixed-width ISO form, so string order is time order (listing sorts on the stored text).

    The swagger types these as `date-time`, which demands an offset; the real service is believed to send
    naive local-time strings [U], which `naive=True` reproduces so adapters can be tested against both.
    """
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{moment.microsecond // 1000:03d}"
    return text if naive else text + "Z"


def parse_datetime(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HaloError(400, f"The JSON value could not be converted to System.DateTime. Path: $.{name}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def coerce(name: str, kind: str, value: Any, *, naive: bool) -> Any:
    """One body value to its stored form, or a 400 naming the property as ASP.NET's binder does."""
    if value is None:
        return None
    if kind == BOOL and isinstance(value, bool):
        return value
    if kind == INT and isinstance(value, int) and not isinstance(value, bool):
        if not -(2**31) <= value < 2**31:  # int32 in the spec
            raise HaloError(400, f"The JSON value could not be converted to System.Int32. Path: $.{name}")
        return value
    if kind == FLOAT and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == STR and isinstance(value, str):
        return value
    if kind == DATETIME and isinstance(value, str):
        return format_datetime(parse_datetime(value, name), naive=naive)
    target = {INT: "Int32", FLOAT: "Double", BOOL: "Boolean", STR: "String", DATETIME: "DateTime"}[kind]
    raise HaloError(400, f"The JSON value could not be converted to System.{target}. Path: $.{name}")


def take(body: dict[str, Any], fields: dict[str, str], *, naive: bool) -> dict[str, Any]:
    """The writable subset of `body`, coerced; absent properties stay absent (Halo updates are partial)."""
    return {k: coerce(k, kind, body[k], naive=naive) for k, kind in fields.items() if k in body}


def money(value: float) -> float:
    """Halo holds amounts as doubles; keep them at cents so sums compare equal after a round trip."""
    return round(value + 0.0, 2)
