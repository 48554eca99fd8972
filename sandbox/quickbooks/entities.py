"""The generic write flow shared by every entity: create, full or sparse update, delete, void.

Every write checks the caller's SyncToken against the stored one (stale: Fault 5010), bumps SyncToken (a
string) and MetaData.LastUpdatedTime, and queues a webhook event. Per-entity rules live in kinds.py,
transactions.py and payments.py.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.quickbooks import errors
from sandbox.quickbooks.kinds import AccountKind, CustomerKind, ItemKind, Kind, TermKind
from sandbox.quickbooks.payments import DepositKind, PaymentKind
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.transactions import InvoiceKind

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (CustomerKind(), InvoiceKind(), PaymentKind(), DepositKind(), AccountKind(), TermKind(), ItemKind())
}
ENVELOPE_KEYS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})


def _checked(entity: str, body: Any) -> Kind:
    kind = KINDS[entity]
    if not isinstance(body, dict):
        raise errors.unsupported_property(entity)
    for key in body:
        if key not in kind.fields and key not in kind.computed and key not in ENVELOPE_KEYS:
            raise errors.unsupported_property(key)
    return kind


def _writable(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in body.items() if k in kind.fields}


def _current(company: Company, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """The stored record the caller means to change, provided its SyncToken is the current one."""
    if body.get("Id") in (None, ""):
        raise errors.required_missing("Id")
    if body.get("SyncToken") in (None, ""):
        raise errors.required_missing("SyncToken")
    current = company.get(entity, str(body["Id"]))
    if str(body["SyncToken"]) != current["SyncToken"]:
        raise errors.stale_object(entity)
    return current


def create(company: Company, entity: str, body: Any) -> dict[str, Any]:
    kind = _checked(entity, body)
    rec = _writable(kind, body)
    ctx = kind.prepare(company, rec, None, body)
    rec["Id"] = company.new_id()
    company.store(entity, rec, created=True)
    kind.after_write(company, rec, None, ctx)
    company.record_event(entity, rec["Id"], "Create")
    return rec


def update(company: Company, entity: str, body: Any) -> dict[str, Any]:
    """POST with Id + SyncToken. `"sparse": true` changes only the properties sent; otherwise the body
    replaces the object and writable properties it leaves out are cleared, as in QuickBooks."""
    kind = _checked(entity, body)
    previous = _current(company, entity, body)
    kind.guard_change(company, previous, "update")
    if body.get("sparse") is True:
        rec = copy.deepcopy(previous)
        rec.update(_writable(kind, body))
    else:
        rec = _writable(kind, body)
    rec.update(Id=previous["Id"], SyncToken=previous["SyncToken"], MetaData=dict(previous["MetaData"]))
    ctx = kind.prepare(company, rec, previous, body)
    company.store(entity, rec, created=False)
    kind.after_write(company, rec, previous, ctx)
    company.record_event(entity, rec["Id"], "Update")
    return rec


def delete(company: Company, entity: str, body: Any) -> dict[str, Any]:
    kind = _checked(entity, body)
    if "delete" not in kind.operations:
        raise errors.unsupported_operation(f"Delete of {entity}")
    previous = _current(company, entity, body)
    kind.guard_change(company, previous, "delete")
    kind.before_delete(company, previous)
    company.remove(entity, previous["Id"])
    company.voided.discard((entity, previous["Id"]))
    kind.after_delete(company, previous)
    company.record_event(entity, previous["Id"], "Delete")
    return {"domain": "QBO", "status": "Deleted", "Id": previous["Id"]}


def void(company: Company, entity: str, body: Any, operation: str) -> dict[str, Any]:
    kind = _checked(entity, body)
    if operation not in kind.operations:
        raise errors.unsupported_operation(f"Void of {entity}")
    previous = _current(company, entity, body)
    kind.guard_change(company, previous, "void")
    rec = copy.deepcopy(previous)
    kind.void(company, rec)
    company.store(entity, rec, created=False)
    kind.after_write(company, rec, previous, None)
    company.record_event(entity, rec["Id"], "Void")
    return rec
