"""Raw Halo records (lowercase swagger field names) to our records; each raises BadRecord when it cannot.

Field facts: providers.md §1. Halo's `total` is read-only and derived (lines' net + tax), so we keep the
header's `total` and `tax_total` and derive the subtotal from them: the amounts a client is asked to pay are
Halo's, to the cent, even where its lines were rounded differently.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.halosync.records import (
    MAX_QUANTITY,
    BadRecord,
    HaloAgreement,
    HaloClient,
    HaloInvoice,
    HaloLine,
    HaloPayment,
    date_of,
    decimal_of,
    instant_of,
    int_id,
    minor_of,
    optional_instant,
    optional_minor,
    small_int,
    text_of,
)
from domain.halosync.settings import InvoiceNumberField, SyncSettings
from domain.money import MAX_MINOR, is_currency, round_minor

MAX_LINES = 500
_QUANTITY_STEP = Decimal("0.0001")  # numeric(14, 4)


def client_of(raw: dict[str, Any]) -> HaloClient:
    name = text_of(raw.get("name"), 300)
    if name is None:
        raise BadRecord("the client has no name")
    currency = text_of(raw.get("currencyisocode"), 3)
    return HaloClient(
        external_id=str(int_id(raw.get("id"), "id")),
        name=name,
        billing_email=text_of(raw.get("accountsemailaddress"), 320),
        inactive=bool(raw.get("inactive")),
        currency=currency.upper() if currency and is_currency(currency.upper()) else None,
        modified_at=optional_instant(raw.get("alastupdate"), "alastupdate"),
    )


def agreement_of(raw: dict[str, Any], currency: str) -> HaloAgreement:
    start = optional_instant(raw.get("start_date"), "start_date")
    end = optional_instant(raw.get("end_date"), "end_date")
    return HaloAgreement(
        external_id=str(int_id(raw.get("id"), "id")),
        client_external_id=str(int_id(raw.get("client_id"), "client_id")),
        reference=text_of(raw.get("ref"), 200),
        type_name=text_of(raw.get("contracttype_name"), 200),
        subtype=subtype_of(raw),
        start_date=start.date() if start else None,
        end_date=end.date() if end else None,
        active=raw.get("active") is not False,
        billing_period=small_int(raw.get("billingperiod")),
        period_charge=optional_minor(raw.get("periodchargeamount"), "periodchargeamount", currency),
        modified_at=optional_instant(raw.get("last_modified"), "last_modified"),
    )


def subtype_of(raw: dict[str, Any]) -> str:
    """Halo's ContractHeader carries its subtype as a number (`subtype`, nullable int in the swagger); the MSP
    picks contract-billed subtypes by that number, shown beside the agreements' type names."""
    value = raw.get("subtype")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"


def _number(raw: dict[str, Any], settings: SyncSettings, external_id: int) -> str | None:
    if settings.invoice_number_field is InvoiceNumberField.ID:
        return str(external_id)
    return text_of(raw.get("invoicenumber"), 64)


def _contract_ref(value: Any) -> str | None:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _line(raw: Any, position: int, currency: str) -> HaloLine:
    # Reasons are prefixed here, on failure only: formatting "line N ..." for every field of every line
    # cost more than reading the field.
    try:
        return _line_of(raw, position, currency)
    except BadRecord as exc:
        raise BadRecord(f"line {position + 1} {exc.reason}") from None


def _line_of(raw: Any, position: int, currency: str) -> HaloLine:
    if not isinstance(raw, dict):
        raise BadRecord("is not an object")
    qty = raw.get("qty_order")
    quantity = decimal_of(1 if qty is None else qty, "quantity")
    if quantity < 0:
        raise BadRecord(f"has a negative quantity ({qty})")
    if quantity > MAX_QUANTITY:
        raise BadRecord(f"quantity is too large ({qty})")
    unit = minor_of(raw.get("unit_price") or 0, "unit price", currency)
    net = raw.get("net_amount")
    amount = minor_of(net, "net amount", currency) if net is not None else round_minor(quantity * unit)
    if amount > MAX_MINOR:
        raise BadRecord("amount is too large")
    description = text_of(raw.get("item_shortdescription")) or text_of(raw.get("item_code")) or f"Line {position + 1}"
    return HaloLine(
        position=position,
        description=description,
        quantity=quantity.quantize(_QUANTITY_STEP),
        unit_amount=unit,
        amount=amount,
        tax_amount=optional_minor(raw.get("tax_amount"), "tax", currency),
        agreement_external_id=_contract_ref(raw.get("contract_id")),
    )


def invoice_of(raw: dict[str, Any], settings: SyncSettings, currency: str) -> HaloInvoice:
    """`currency`: the client's, else the tenant's (Halo's own `currency_code` is an undocumented int)."""
    external_id = int_id(raw.get("id"), "id")
    client_id = int_id(raw.get("client_id"), "client_id")
    total = minor_of(raw.get("total"), "total", currency)
    tax_total = optional_minor(raw.get("tax_total"), "tax_total", currency)
    if tax_total > total:
        raise BadRecord(f"tax_total ({raw.get('tax_total')}) is more than the total ({raw.get('total')})")
    paid = optional_minor(raw.get("amountpaid"), "amountpaid", currency)
    if paid > total:
        raise BadRecord(f"amountpaid ({raw.get('amountpaid')}) is more than the total ({raw.get('total')})")
    raw_lines = raw.get("lines") or []
    if not isinstance(raw_lines, list) or len(raw_lines) > MAX_LINES:
        raise BadRecord(f"lines must be a list of at most {MAX_LINES}")
    lines = tuple(_line(line, i, currency) for i, line in enumerate(raw_lines))
    issue_date = date_of(raw.get("invoice_date"), "invoice_date")
    due = raw.get("duedate")
    due_date = date_of(due, "duedate") if due else issue_date
    if due_date < issue_date:
        raise BadRecord(f"the due date {due_date} is before the invoice date {issue_date}")
    contracts = [_contract_ref(raw.get("contract_id"))] + [ln.agreement_external_id for ln in lines]
    return HaloInvoice(
        external_id=str(external_id),
        number=_number(raw, settings, external_id),
        client_external_id=str(client_id),
        agreement_external_ids=tuple(dict.fromkeys(c for c in contracts if c)),
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        subtotal=total - tax_total,
        tax_total=tax_total,
        amount_paid=paid,
        voided=bool(raw.get("voided")),
        modified_at=instant_of(raw.get("last_modified"), "last_modified"),
        lines=lines,
    )


def payment_of(raw: dict[str, Any], currency: str) -> HaloPayment:
    amount = minor_of(raw.get("amount"), "amount", currency, allow_negative=True)
    paid = optional_instant(raw.get("date"), "date")
    method = raw.get("method")
    return HaloPayment(
        external_id=str(int_id(raw.get("id"), "id")),
        invoice_external_id=str(int_id(raw.get("invoice_id"), "invoice_id")),
        amount=amount,
        paid_on=paid.date() if paid else None,
        method=str(method) if method is not None else None,
    )
