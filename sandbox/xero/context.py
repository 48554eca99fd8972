"""What every write rule gets (the organisation, the instant, an id source) and gives back (an outcome).

A rule validates one submitted item against the organisation; when it finds no error it commits by swapping
new frozen records into the tables and noting the webhook events the change causes. The batch driver in
`writing.py` decides whether a failed item rolls the whole batch back (summarizeErrors=true) or not.

Request items arrive with lower-cased keys (Xero matches property names case-insensitively).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from .formats import CENT, money, parse_date
from .models import LineItem, Organisation, Totals

Event = tuple[str, str, UUID]  # (eventCategory, eventType, resourceId)


@dataclass
class WriteContext:
    org: Organisation
    now: datetime
    new_id: Callable[[], UUID]
    unit_places: Decimal = CENT  # unitdp=4 keeps four decimal places on UnitAmount
    events: list[Event] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.now.date()

    def emit(self, category: str, kind: str, resource_id: UUID) -> None:
        self.events.append((category, kind, resource_id))


@dataclass
class Outcome:
    doc: dict[str, Any] | None  # the committed record as Xero renders it; None when the item failed
    errors: list[str] = field(default_factory=list)


class NotFound(Exception):
    """The record named in the URL does not exist: a 404, not a validation error."""


MISSING = "The document with the supplied id was not found for this endpoint."  # [V] (spec examples)


def find_target(table: dict[UUID, Any], item_id: Any, path_id: UUID | None, *, create_only: bool, label: str) -> Any:
    """The record a PUT/POST item addresses: None for a new record, the record, or an error message.
    A missing record named in the URL raises NotFound; one named in the body is a validation error."""
    if path_id is not None:
        if path_id not in table:
            raise NotFound(label)
        return table[path_id]
    wanted = as_uuid(item_id)
    if wanted is None:
        return None
    if wanted not in table:
        return MISSING
    if create_only:
        return f"A {label} with this ID already exists; PUT only creates, use POST to update"  # [U] wording
    return table[wanted]


def failed(*messages: str) -> Outcome:
    return Outcome(None, list(messages))


def text(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value)


def as_uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def ref(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def date_field(item: dict[str, Any], key: str, label: str, errors: list[str]) -> date | None:
    raw = item.get(key)
    if raw in (None, ""):
        return None
    found = parse_date(raw)
    if found is None:
        errors.append(f"{label} is not a valid date")  # [U] wording
    return found


def parse_lines(ctx: WriteContext, raw: Any, *, need_accounts: bool) -> tuple[tuple[LineItem, ...], list[str]]:
    """LineItems: LineAmount is Quantity x UnitAmount when both are given (Xero works out the line itself);
    every AccountCode must name an active account of the organisation."""
    if raw is None:
        return (), []
    if not isinstance(raw, list) or not all(isinstance(li, dict) for li in raw):
        return (), ["LineItems must be an array of line items"]
    lines, errors = [], []
    for li in raw:
        qty = money(li.get("quantity"), Decimal("0.0001"))
        unit = money(li.get("unitamount"), ctx.unit_places)
        given = money(li.get("lineamount"))
        if qty is None and unit is not None:
            qty = Decimal("1.0000")
        computed = (qty * unit).quantize(CENT) if qty is not None and unit is not None else None
        if given is not None and computed is not None and given != computed:
            errors.append(f"The line total ({given}) does not match the expected line total ({computed})")  # [U]
        code = text(li, "accountcode")
        account = ctx.org.account_by_code(code) if code else None
        if code and (account is None or account.status != "ACTIVE"):
            errors.append(f"Account code '{code}' is not a valid code for this document.")
        elif need_accounts and not code:
            errors.append("Account code must be specified on every line item")  # [U] wording
        lines.append(
            LineItem(
                line_item_id=as_uuid(li.get("lineitemid")) or ctx.new_id(),
                description=text(li, "description"),
                quantity=qty,
                unit_amount=unit,
                line_amount=given if given is not None else (computed if computed is not None else Decimal("0.00")),
                account_code=account.code if account else code,
                tax_type=text(li, "taxtype") or "NONE",
                tax_amount=money(li.get("taxamount")) or Decimal("0.00"),
                item_code=text(li, "itemcode"),
            )
        )
    return tuple(lines), errors


LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")


def totals(lines: tuple[LineItem, ...], amount_types: str) -> Totals:
    """Exclusive: tax is added to the lines. Inclusive: the lines already contain it. NoTax: no tax."""
    lines_sum = sum((li.line_amount for li in lines), Decimal("0.00"))
    tax = Decimal("0.00") if amount_types == "NoTax" else sum((li.tax_amount for li in lines), Decimal("0.00"))
    if amount_types == "Inclusive":
        return Totals(lines_sum - tax, tax, lines_sum)
    return Totals(lines_sum, tax, lines_sum + tax)


def line_amount_types(item: dict[str, Any], default: str, errors: list[str]) -> str:
    raw = text(item, "lineamounttypes")
    if raw is None:
        return default
    for choice in LINE_AMOUNT_TYPES:
        if raw.lower() == choice.lower():
            return choice
    errors.append(f"LineAmountTypes '{raw}' is not valid")  # [U] wording
    return default
