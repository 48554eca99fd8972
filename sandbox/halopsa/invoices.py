"""Invoice and InvoicePayment writes: the money rules Halo applies when a record is saved.

Totals are derived, never taken from the caller (`total` is readOnly in the swagger): total = sum of line
net + tax, `amountdue` = total - sum of payments, `paymentstatus` follows. Every change that alters what a
sync would see bumps `last_modified`, because with no modified-since filter on `/Invoice` a sync can only
order by `last_modified` descending and stop at its watermark [providers.md §1 "Listing"].
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sandbox.halopsa.errors import HaloError
from sandbox.halopsa.fields import INVOICE_FIELDS, LINE_FIELDS, PAYMENT_FIELDS, money, parse_datetime, take
from sandbox.halopsa.store import Row

if TYPE_CHECKING:
    from sandbox.halopsa.core import HaloCore

# `paymentstatus` is an int whose meaning Halo does not document [U]; these are our reading.
UNPAID, PARTIALLY_PAID, PAID = 0, 1, 2

DEFAULT_TERMS_DAYS = 30  # when neither the invoice nor its client says [U]


def existing_id(body: dict[str, Any]) -> int | None:
    """Halo treats a missing, null, zero or negative id as "create" and a positive one as "update"."""
    raw = body.get("id")
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise HaloError(400, "The JSON value could not be converted to System.Int32. Path: $.id")
    return raw if raw > 0 else None


def _client(state: HaloCore, client_id: Any) -> Row:
    client = state.clients.get(client_id) if isinstance(client_id, int) else None
    if client is None:
        raise HaloError(400, "Please select a valid Customer.")
    return client


def _lines(state: HaloCore, ihid: int, given: Any, old: list[Row]) -> list[Row]:
    """Replace the invoice's lines with `given`; a line carrying a known id is updated in place [U]."""
    if not isinstance(given, list) or not all(isinstance(x, dict) for x in given):
        raise HaloError(400, "The JSON value could not be converted to List<InvoiceDetail>. Path: $.lines")
    by_id = {line["id"]: line for line in old}
    naive = state.limits.naive_datetimes
    result = []
    for raw in given:
        base = dict(by_id.get(raw.get("id"), {}))
        base.update(take(raw, LINE_FIELDS, naive=naive))
        qty = base.get("qty_order")
        base["qty_order"] = 1.0 if qty is None else qty
        price = base.get("unit_price") or 0.0
        base["unit_price"] = price
        if "net_amount" not in raw or raw["net_amount"] is None:
            base["net_amount"] = money(base["qty_order"] * price)
        base["tax_amount"] = money(base.get("tax_amount") or 0.0)
        base["id"] = base.get("id") or state.new_line_id()
        base["ihid"] = ihid
        result.append(base)
    return result


def recalc(state: HaloCore, row: Row) -> None:
    """Derive total/tax_total/amountpaid/amountdue/paymentstatus/datepaid from lines and payments."""
    tax = money(sum(line["tax_amount"] for line in row["lines"]))
    total = money(sum(line["net_amount"] for line in row["lines"]) + tax)
    pay_rows = state.payments.rows
    paid = money(sum(pay_rows[p]["amount"] for p in state.payments_by_invoice.get(row["id"], ())))
    row["tax_total"], row["total"], row["amountpaid"] = tax, total, paid
    row["amountdue"] = money(total - paid)
    if paid > 0 and paid >= total:
        row["paymentstatus"] = PAID
        row["datepaid"] = row.get("datepaid") or state.now_text()
    else:
        row["paymentstatus"] = PARTIALLY_PAID if paid > 0 else UNPAID
        row["datepaid"] = None


def upsert_invoice(state: HaloCore, body: dict[str, Any]) -> Row:
    row_id = existing_id(body)
    values = take(body, INVOICE_FIELDS, naive=state.limits.naive_datetimes)
    if row_id is None:
        row = _new_invoice(state, values)
        event = "invoice_created"
    else:
        found = state.invoices.get(row_id)
        if found is None:
            raise HaloError(404, f"Invoice {row_id} not found.")
        row = dict(found)
        event = "invoice_voided" if values.get("voided") and not row["voided"] else "invoice_updated"
        if event == "invoice_voided":
            _check_voidable(state, row)
        if "client_id" in values:
            row["client_name"] = _client(state, values["client_id"])["name"]
        row.update(values)
    if "contract_id" in values and values["contract_id"] and state.contracts.get(values["contract_id"]) is None:
        raise HaloError(400, "Please select a valid Contract.")
    if "lines" in body and body["lines"] is not None:
        row["lines"] = _lines(state, row["id"], body["lines"], row.get("lines", []))
    recalc(state, row)
    row["last_modified"] = state.now_text()
    state.invoices.put(row)
    state.webhooks.emit(event, "Invoice", row["id"])
    return row


def _new_invoice(state: HaloCore, values: dict[str, Any]) -> Row:
    client = _client(state, values.get("client_id"))
    row_id = state.invoices.new_id()
    naive = state.limits.naive_datetimes
    invoice_date = values.get("invoice_date") or state.now_text()[:10] + ("T00:00:00" if naive else "T00:00:00Z")
    terms = values.get("paymentterms") or client.get("paymentterms") or DEFAULT_TERMS_DAYS
    due = values.get("duedate")
    if due is None:
        start = parse_datetime(invoice_date, "invoice_date")
        due_text = (start + timedelta(days=terms)).strftime("%Y-%m-%dT%H:%M:%S")
        due = due_text if naive else due_text + "Z"
    row: Row = {
        "id": row_id,
        "invoicenumber": f"INV-{row_id:06d}",
        "client_id": client["id"],
        "client_name": client["name"],
        "posted": False,
        "voided": False,
        "paymentterms": terms,
        "lines": [],
    }
    row.update(values)
    row["invoice_date"], row["duedate"] = invoice_date, due
    return row


def _check_voidable(state: HaloCore, row: Row) -> None:
    if state.payments_by_invoice.get(row["id"]):
        raise HaloError(400, "This Invoice has payments recorded against it and cannot be voided.")


def delete_invoice(state: HaloCore, row_id: int) -> None:
    row = state.invoices.get(row_id)
    if row is None:
        raise HaloError(404, f"Invoice {row_id} not found.")
    if state.payments_by_invoice.get(row_id):
        raise HaloError(400, "This Invoice has payments recorded against it and cannot be deleted.")
    state.invoices.remove(row_id)
    state.webhooks.emit("invoice_deleted", "Invoice", row_id)


def upsert_payment(state: HaloCore, body: dict[str, Any]) -> Row:
    """Record (or amend) a payment and re-derive its invoice's amounts, which bumps the invoice."""
    row_id = existing_id(body)
    values = take(body, PAYMENT_FIELDS, naive=state.limits.naive_datetimes)
    old = state.payments.get(row_id) if row_id is not None else None
    if row_id is not None and old is None:
        raise HaloError(404, f"Invoice Payment {row_id} not found.")
    row: Row = dict(old) if old else {"id": None, "date": state.now_text(), "method": 0, "status": 0}
    row.update(values)
    invoice = state.invoices.get(row.get("invoice_id"))  # type: ignore[arg-type]
    if invoice is None:
        raise HaloError(400, "Please select a valid Invoice.")
    if old is not None and old["invoice_id"] != invoice["id"]:
        raise HaloError(400, "A payment cannot be moved to another Invoice.")
    if invoice["voided"]:
        raise HaloError(400, "Payments cannot be recorded against a voided Invoice.")
    amount = row.get("amount")
    if amount is None or amount <= 0:
        raise HaloError(400, "Please enter a payment amount greater than zero.")
    # Overpayment is refused rather than turned into credit [U: Halo's own rule is undocumented].
    if money(amount) > money(invoice["amountdue"] + (old["amount"] if old else 0.0)):
        raise HaloError(400, "The payment amount exceeds the amount due on this Invoice.")
    row["amount"] = money(amount)
    if old is None:
        new_id = state.payments.new_id()
        row["id"] = new_id
        state.payments_by_invoice.setdefault(invoice["id"], []).append(new_id)
    row.update(
        client_id=invoice["client_id"],
        client_name=invoice["client_name"],
        invoice_invoicenumber=invoice["invoicenumber"],
    )
    state.payments.put(row)
    _touch_invoice(state, invoice["id"])
    state.webhooks.emit("payment_updated" if old else "payment_created", "InvoicePayment", row["id"])
    return row


def delete_payment(state: HaloCore, row_id: int) -> None:
    row = state.payments.remove(row_id)
    if row is None:
        raise HaloError(404, f"Invoice Payment {row_id} not found.")
    state.payments_by_invoice[row["invoice_id"]].remove(row_id)
    _touch_invoice(state, row["invoice_id"])
    state.webhooks.emit("payment_deleted", "InvoicePayment", row_id)


def _touch_invoice(state: HaloCore, invoice_id: int) -> None:
    invoice = dict(state.invoices.rows[invoice_id])
    recalc(state, invoice)
    invoice["last_modified"] = state.now_text()
    state.invoices.put(invoice)
    state.webhooks.emit("invoice_updated", "Invoice", invoice_id)
