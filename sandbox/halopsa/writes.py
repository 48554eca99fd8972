"""Client (Area) and ClientContract writes, and the per-resource dispatch used by POST and DELETE.

POST `/api/<Resource>` takes an array; each element is created (no id) or updated (positive id), and
updates are partial: properties the caller leaves out keep their values [S: H-PY `update` sends only the
fields it has]. Names are denormalised onto dependants the way Halo's list views show them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.halopsa import invoices
from sandbox.halopsa.errors import HaloError
from sandbox.halopsa.fields import CLIENT_FIELDS, CONTRACT_FIELDS, take
from sandbox.halopsa.invoices import existing_id
from sandbox.halopsa.store import Row

if TYPE_CHECKING:
    from sandbox.halopsa.core import HaloCore


def upsert_client(state: HaloCore, body: dict[str, Any]) -> Row:
    row_id = existing_id(body)
    values = take(body, CLIENT_FIELDS, naive=state.limits.naive_datetimes)
    if "name" in values and not (values["name"] or "").strip():
        raise HaloError(400, "Please enter a name for the Customer.")
    if row_id is None:
        if "name" not in values:
            raise HaloError(400, "Please enter a name for the Customer.")
        row: Row = {"id": state.clients.new_id(), "inactive": False, "datecreated": state.now_text()}
        event = "client_created"
    else:
        found = state.clients.get(row_id)
        if found is None:
            raise HaloError(404, f"Customer {row_id} not found.")
        row, event = dict(found), "client_updated"
    renamed = "name" in values and values["name"] != row.get("name")
    row.update(values)
    row["alastupdate"] = state.now_text()  # Area has no last_modified; this is its change stamp
    state.clients.put(row)
    if renamed and event == "client_updated":
        _rename_dependants(state, row["id"], row["name"])
    state.webhooks.emit(event, "Client", row["id"])
    return row


def _rename_dependants(state: HaloCore, client_id: int, name: str) -> None:
    """`client_name` on invoices, contracts and payments is a join in Halo: it follows the client and does
    not count as a change to those records (no last_modified bump)."""
    for store in (state.invoices, state.contracts, state.payments):
        for row in store.rows.values():
            if row.get("client_id") == client_id:
                row["client_name"] = name
        store.touch()


def delete_client(state: HaloCore, row_id: int) -> None:
    if state.clients.get(row_id) is None:
        raise HaloError(404, f"Customer {row_id} not found.")
    # [U] Halo's exact rule; refusing keeps invoices and contracts from pointing at a missing client.
    for store in (state.invoices, state.contracts):
        if any(r["client_id"] == row_id for r in store.rows.values()):
            raise HaloError(400, f"This Customer has {store.kind} records and cannot be deleted.")
    state.clients.remove(row_id)
    state.webhooks.emit("client_deleted", "Client", row_id)


def upsert_contract(state: HaloCore, body: dict[str, Any]) -> Row:
    row_id = existing_id(body)
    values = take(body, CONTRACT_FIELDS, naive=state.limits.naive_datetimes)
    if row_id is None:
        row: Row = {"id": state.contracts.new_id(), "active": True, "ref": "", "billingperiod": 1}
        event = "contract_created"
        values.setdefault("client_id", None)
    else:
        found = state.contracts.get(row_id)
        if found is None:
            raise HaloError(404, f"Contract {row_id} not found.")
        row, event = dict(found), "contract_updated"
    if "client_id" in values:
        client = state.clients.get(values["client_id"]) if values["client_id"] is not None else None
        if client is None:
            raise HaloError(400, "Please select a valid Customer.")
        row["client_name"] = client["name"]
    row.update(values)
    row["last_modified"] = state.now_text()
    state.contracts.put(row)
    state.webhooks.emit(event, "ClientContract", row["id"])
    return row


def delete_contract(state: HaloCore, row_id: int) -> None:
    if state.contracts.remove(row_id) is None:
        raise HaloError(404, f"Contract {row_id} not found.")
    state.webhooks.emit("contract_deleted", "ClientContract", row_id)


UPSERT: dict[str, Callable[[HaloCore, dict[str, Any]], Row]] = {
    "Client": upsert_client,
    "ClientContract": upsert_contract,
    "Invoice": invoices.upsert_invoice,
    "InvoicePayment": invoices.upsert_payment,
}
DELETE: dict[str, Callable[[HaloCore, int], None]] = {
    "Client": delete_client,
    "ClientContract": delete_contract,
    "Invoice": invoices.delete_invoice,
    "InvoicePayment": invoices.delete_payment,
}
