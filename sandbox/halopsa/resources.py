"""The four collections arbridge uses: their list keys, scopes, filters, sort fields and renderings.

Renderings follow the rule "strict where Halo is vague": invoice lines appear in a list only with
`includelines=true` (the swagger: "Include invoice lines in the response"), and `GET /Invoice/{id}` carries
`lines` and `payments` only with `includedetails=true` ("Include extra objects in the response") [U: whether
the real single GET includes lines by default is not documented]. An adapter that asks explicitly works
against both.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from sandbox.halopsa.listing import Predicate, Query, Resource
from sandbox.halopsa.store import Row

if TYPE_CHECKING:
    from sandbox.halopsa.core import HaloCore


def _search(query: Query, fields: tuple[str, ...]) -> tuple[Hashable, Predicate] | None:
    """Case-insensitive substring over the fields Halo's list screen searches [U: exact fields]."""
    term = query.text("search")
    if term is None:
        return None
    needle = term.casefold()
    return ("search", needle), lambda r: any(needle in (r.get(f) or "").casefold() for f in fields)


def _equals(query: Query, param: str, field: str) -> tuple[Hashable, Predicate] | None:
    value = query.integer(param)
    if value is None:
        return None
    return (param, value), lambda r: r.get(field) == value


def _combine(*parts: tuple[Hashable, Predicate] | None) -> tuple[Hashable, list[Predicate]]:
    present = [p for p in parts if p is not None]
    return tuple(key for key, _ in present), [pred for _, pred in present]


def _active_filter(query: Query, inactive_field: str, *, negate: bool) -> tuple[Hashable, Predicate] | None:
    """Halo hides inactive records unless `includeinactive=true` (and active ones if `includeactive=false`)."""
    with_inactive = bool(query.flag("includeinactive"))
    with_active = query.flag("includeactive") is not False
    if with_inactive and with_active:
        return None

    def keep(row: Row) -> bool:
        inactive = bool(row.get(inactive_field)) != negate
        return with_inactive if inactive else with_active

    return ("active", with_active, with_inactive), keep


# -- Invoice --------------------------------------------------------------------------------------------


def _invoice_filters(query: Query) -> tuple[Hashable, list[Predicate]]:
    client_ids, statuses = query.integers("client_ids"), query.integers("paymentstatuses")
    posted_only, not_posted_only = query.flag("postedonly"), query.flag("notpostedonly")
    return _combine(
        _equals(query, "client_id", "client_id"),
        (("client_ids", client_ids), lambda r: r["client_id"] in client_ids) if client_ids else None,
        _equals(query, "contract_id", "contract_id"),
        (("postedonly",), lambda r: bool(r["posted"])) if posted_only else None,
        (("notpostedonly",), lambda r: not r["posted"]) if not_posted_only else None,
        (("paymentstatuses", statuses), lambda r: r["paymentstatus"] in statuses) if statuses else None,
        _search(query, ("invoicenumber", "client_name", "reference")),
    )


def _invoice_list(state: HaloCore, row: Row, query: Query) -> Row:
    if query.flag("includelines"):
        return row
    return {k: v for k, v in row.items() if k != "lines"}


def _invoice_one(state: HaloCore, row: Row, query: Query) -> Row:
    if not query.flag("includedetails"):
        return {k: v for k, v in row.items() if k != "lines"}
    pay_rows = state.payments.rows
    return {**row, "payments": [pay_rows[p] for p in state.payments_by_invoice.get(row["id"], ())]}


INVOICE = Resource(
    name="Invoice",
    list_key="invoices",
    read_scope="read:invoices",
    edit_scope="edit:invoices",
    sortable=frozenset(
        "id invoicenumber invoice_date duedate last_modified client_id client_name total amountdue datepaid".split()
    ),
    filters=_invoice_filters,
    render_list=_invoice_list,
    render_one=_invoice_one,
    store=lambda s: s.invoices,
)


# -- Client (Area) ----------------------------------------------------------------------------------------


def _as_is(state: HaloCore, row: Row, query: Query) -> Row:
    return row


CLIENT = Resource(
    name="Client",
    list_key="clients",
    read_scope="read:customers",
    edit_scope="edit:customers",
    sortable=frozenset("id name alastupdate datecreated".split()),  # Area has no last_modified
    filters=lambda q: _combine(
        _search(q, ("name",)),
        _active_filter(q, "inactive", negate=False),
        _equals(q, "toplevel_id", "toplevel_id"),
    ),
    render_list=_as_is,
    render_one=_as_is,
    store=lambda s: s.clients,
)

# `includeinactive` on /ClientContract is in the swagger; that inactive contracts are hidden without it,
# as clients are, is our assumption [U].
CONTRACT = Resource(
    name="ClientContract",
    list_key="contracts",
    read_scope="read:contracts",
    edit_scope="edit:contracts",
    sortable=frozenset("id ref start_date end_date last_modified client_id client_name next_invoice_date".split()),
    filters=lambda q: _combine(
        _equals(q, "client_id", "client_id"),
        _active_filter(q, "active", negate=True),
        _search(q, ("ref", "client_name")),
    ),
    render_list=_as_is,
    render_one=_as_is,
    store=lambda s: s.contracts,
)

# The list key for /InvoicePayment is not documented; "payments" matches InvoiceHeader.payments [U].
# Payments belong to invoicing, so they take the invoice scopes [U].
PAYMENT = Resource(
    name="InvoicePayment",
    list_key="payments",
    read_scope="read:invoices",
    edit_scope="edit:invoices",
    sortable=frozenset("id date amount invoice_id client_id".split()),
    filters=lambda q: _combine(
        _equals(q, "client_id", "client_id"),
        _equals(q, "invoice_id", "invoice_id"),
        (("intent_id", q.text("intent_id")), lambda r: r.get("intent_id") == q.text("intent_id"))
        if q.text("intent_id")
        else None,
        _search(q, ("invoice_invoicenumber", "client_name", "thirdpartyid")),
    ),
    render_list=_as_is,
    render_one=_as_is,
    store=lambda s: s.payments,
)

RESOURCES = {r.name.lower(): r for r in (INVOICE, CLIENT, CONTRACT, PAYMENT)}
