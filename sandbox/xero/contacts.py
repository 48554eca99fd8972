"""Contacts: create (PUT), create-or-update (POST), and resolving the `Contact` element of other documents.

Messages marked [V] are Xero's own (from the spec's examples); [U] ones are the sandbox's wording.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from .context import Outcome, WriteContext, as_uuid, failed, find_target, ref, text
from .models import Contact
from .render import contact_json

IDENTIFY = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)  # [V]
NOT_FOUND = "An existing Contact with the specified ContactID could not be found"  # [U], modelled on [V] CreditNote


def _name_taken(ctx: WriteContext, name: str, own_id: UUID | None) -> str | None:
    other = ctx.org.contact_by_name(name)
    if other is not None and other.contact_id != own_id:
        return (
            f"The contact name {name} is already assigned to another contact. "
            "The contact name must be unique across all active contacts."
        )  # [V]
    return None


def resolve_contact(ctx: WriteContext, item: dict[str, Any]) -> tuple[UUID | None, str | None, Contact | None]:
    """The `Contact` of an invoice or bank transaction: by ContactID, by ContactNumber, or by Name. A name
    Xero does not know makes a new contact, as Xero does; it is returned, not stored, so that a failed item
    leaves nothing behind (`add_new_contact` stores it on commit)."""
    given = ref(item, "contact")
    contact_id = as_uuid(given.get("contactid"))
    if contact_id is not None:
        return (contact_id, None, None) if contact_id in ctx.org.contacts else (None, NOT_FOUND, None)
    number, name = text(given, "contactnumber"), text(given, "name")
    if number and (found := ctx.org.contact_by_number(number)):
        return found.contact_id, None, None
    if name and (found := ctx.org.contact_by_name(name)):
        return found.contact_id, None, None
    if not name:
        return None, IDENTIFY, None
    created = Contact(ctx.new_id(), name, ctx.now, contact_number=number)
    return created.contact_id, None, created


def add_new_contact(ctx: WriteContext, contact: Contact | None) -> None:
    if contact is not None:
        ctx.org.contacts[contact.contact_id] = contact
        ctx.emit("CONTACT", "CREATE", contact.contact_id)


def mark_customer(ctx: WriteContext, contact_id: UUID, invoice_type: str) -> None:
    """IsCustomer/IsSupplier follow from the invoices raised against a contact (read-only in the API)."""
    contact = ctx.org.contacts.get(contact_id)
    if contact is None:
        return
    if invoice_type == "ACCREC" and not contact.is_customer:
        ctx.org.contacts[contact_id] = replace(contact, is_customer=True)
    elif invoice_type == "ACCPAY" and not contact.is_supplier:
        ctx.org.contacts[contact_id] = replace(contact, is_supplier=True)


def _target(ctx: WriteContext, item: dict[str, Any], path_id: UUID | None, create_only: bool) -> Any:
    """The contact an item updates (by ContactID, or by ContactNumber on POST), None, or an error message."""
    found = find_target(ctx.org.contacts, item.get("contactid"), path_id, create_only=create_only, label="Contact")
    number = text(item, "contactnumber")
    if found is None and number and not create_only:
        return ctx.org.contact_by_number(number)
    return found


def write_contact(ctx: WriteContext, item: dict[str, Any], *, path_id: UUID | None, create_only: bool) -> Outcome:
    target = _target(ctx, item, path_id, create_only)
    if isinstance(target, str):
        return failed(target)
    name = text(item, "name")
    if target is None and not name:
        return failed("The contact name must be specified")  # [U] wording
    status = (text(item, "contactstatus") or (target.status if target else "ACTIVE")).upper()
    if status not in ("ACTIVE", "ARCHIVED"):
        return failed(f"ContactStatus '{status}' is not valid")  # [U] wording
    final_name = name or (target.name if target else "")
    if status == "ACTIVE" and (taken := _name_taken(ctx, final_name, target.contact_id if target else None)):
        return failed(taken)
    base = target or Contact(ctx.new_id(), final_name, ctx.now)
    changes = {
        "contact_number": text(item, "contactnumber"), "account_number": text(item, "accountnumber"),
        "first_name": text(item, "firstname"), "last_name": text(item, "lastname"),
        "email": text(item, "emailaddress"), "default_currency": text(item, "defaultcurrency"),
    }  # fmt: skip
    contact = replace(
        base,
        name=final_name,
        status=status,
        updated=ctx.now,
        **{k: v for k, v in changes.items() if v is not None},  # absent or null leaves a field as it was
    )
    ctx.org.contacts[contact.contact_id] = contact
    ctx.emit("CONTACT", "UPDATE" if target else "CREATE", contact.contact_id)
    return Outcome(contact_json(contact))
