"""One QuickBooks company (realm): its records, indexes, change history and pending webhook events.

Records are plain JSON-shaped dicts exactly as the API returns them. Beside them the company keeps what the
API does not show but the behaviours need: precise change times (CDC and MetaData queries), tombstones of
deleted transactions, which payment pays which invoice, which deposit holds which payment, and the
uniqueness indexes (DisplayName, Name, DocNumber).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from sandbox.common import Clock
from sandbox.quickbooks import errors
from sandbox.quickbooks.util import meta_time

Record = dict[str, Any]  # one entity, JSON-shaped, exactly as the API returns it

ENTITIES = ("Customer", "Invoice", "Payment", "Deposit", "Account", "Term", "Item")
BY_PATH = {name.lower(): name for name in ENTITIES}
NAME_LISTS = ("Customer", "Account", "Term", "Item")  # deactivated, never deleted
NAME_FIELD = {"Customer": "DisplayName", "Account": "Name", "Term": "Name", "Item": "Name"}


@dataclass
class ChangeEvent:
    """One queued webhook notification: what changed, how, and when (UTC)."""

    entity: str
    id: str
    operation: str  # Create | Update | Delete | Void (the legacy payload's words)
    at: datetime
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class CompanySettings:
    """Company preferences that change API behaviour.

    custom_txn_numbers: Preferences.SalesFormsPrefs.CustomTxnNumbers. When False QuickBooks numbers sales
        forms itself; when True the app supplies DocNumber.
    warn_duplicate_doc_number: the UI switch "Warn if duplicate ... number is used"; with custom numbers on
        it turns a duplicate DocNumber into Fault 6140 [V Q-ERR].
    """

    custom_txn_numbers: bool = True
    warn_duplicate_doc_number: bool = True
    currency: str = "USD"
    currency_name: str = "United States Dollar"
    country: str = "US"


@dataclass
class Company:
    realm_id: str
    name: str
    tz: tzinfo
    clock: Clock
    settings: CompanySettings = field(default_factory=CompanySettings)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    changed_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    tombstones: dict[str, dict[str, datetime]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    names: dict[str, dict[str, str]] = field(default_factory=lambda: {e: {} for e in NAME_LISTS})
    doc_numbers: dict[str, dict[str, str]] = field(default_factory=lambda: {"Invoice": {}})
    # invoice id -> {payment id: amount applied}; the source of Invoice.Balance and Invoice.LinkedTxn
    applied: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    deposit_of: dict[str, str] = field(default_factory=dict)  # payment id -> deposit id holding it
    voided: set[tuple[str, str]] = field(default_factory=set)
    by_customer: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    events: list[ChangeEvent] = field(default_factory=list)
    emit_events: bool = True
    account_ids: dict[str, str] = field(default_factory=dict)  # well-known seeded accounts by role
    next_id: int = 1
    next_doc_number: int = 1001

    # -- ids, times, events -----------------------------------------------------------------------------

    def new_id(self) -> str:
        value = str(self.next_id)
        self.next_id += 1
        return value

    def now(self) -> datetime:
        return self.clock.now()

    def record_event(self, entity: str, id_: str, operation: str) -> None:
        if self.emit_events:
            self.events.append(ChangeEvent(entity, id_, operation, self.now()))

    # -- reading ----------------------------------------------------------------------------------------

    def find(self, entity: str, id_: str | None) -> dict[str, Any] | None:
        return self.records[entity].get(str(id_)) if id_ is not None else None

    def get(self, entity: str, id_: Any) -> dict[str, Any]:
        """The live record, or Fault 610 (with the 'deleted' wording for a deleted transaction)."""
        found = self.find(entity, str(id_))
        if found is None:
            raise errors.not_found(entity, deleted=str(id_) in self.tombstones[entity])
        return found

    def ref_target(self, entity: str, ref: Any, what: str) -> dict[str, Any]:
        """Follow a {"value": id} reference to a live, active record, or Fault 2500."""
        value = ref.get("value") if isinstance(ref, dict) else None
        target = self.find(entity, value)
        if target is None or target.get("Active") is False:
            raise errors.invalid_reference(what, value)
        return target

    def account_ref(self, role: str) -> dict[str, str]:
        account = self.records["Account"][self.account_ids[role]]
        return {"value": account["Id"], "name": account["Name"]}

    def currency_ref(self) -> dict[str, str]:
        return {"value": self.settings.currency, "name": self.settings.currency_name}

    # -- writing ----------------------------------------------------------------------------------------

    def store(self, entity: str, record: dict[str, Any], *, created: bool) -> dict[str, Any]:
        """Stamp SyncToken and MetaData, keep the precise change time, and save."""
        now = self.now()
        stamp = meta_time(now, self.tz)
        if created:
            record["SyncToken"] = "0"
            record["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        else:
            record["SyncToken"] = str(int(record["SyncToken"]) + 1)
            record["MetaData"] = {**record.get("MetaData", {}), "LastUpdatedTime": stamp}
        record["domain"], record["sparse"] = "QBO", False
        self.records[entity][record["Id"]] = record
        self.changed_at[(entity, record["Id"])] = now
        return record

    def remove(self, entity: str, id_: str) -> None:
        del self.records[entity][id_]
        self.tombstones[entity][id_] = self.now()
        self.changed_at.pop((entity, id_), None)

    def link_customer(self, customer_id: str, entity: str, id_: str) -> None:
        self.by_customer.setdefault(customer_id, set()).add((entity, id_))

    def snapshot(self, entity: str, id_: str) -> dict[str, Any]:
        return copy.deepcopy(self.records[entity][id_])

    # -- seeding shortcuts (seed.py has the details) ----------------------------------------------------

    def add_customer(self, name: str, email: str | None = None, emit: bool = False, **extra: Any) -> Record:
        from sandbox.quickbooks import seed

        return seed.customer(self, name, email, emit, **extra)

    def add_invoice(
        self, customer_id: str, amount: Any, doc_number: str | None = None, emit: bool = False, **extra: Any
    ) -> Record:
        from sandbox.quickbooks import seed

        return seed.invoice(self, customer_id, amount, doc_number, emit, **extra)

    def add_payment(self, customer_id: str, applied: dict[str, Any], emit: bool = False, **extra: Any) -> Record:
        from sandbox.quickbooks import seed

        return seed.payment(self, customer_id, applied, emit, **extra)

    def seed_bulk(self, customers: int, invoices_per_customer: int, amount: Any = 100) -> list[str]:
        from sandbox.quickbooks import seed

        return seed.bulk(self, customers, invoices_per_customer, amount)
