"""Halo records in our shape, and the rules for taking them in: amounts to minor units, what a bad record is.

Halo sends amounts as JSON numbers in major units (`"total": 123.45`). They are read through their decimal
text (`Decimal(str(x))`), never as binary floats, and rounded half-up once to the currency's minor unit.
A record we cannot take raises `BadRecord` with a reason the MSP can act on; the sync records it as an
issue and carries on with the rest of the page.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from domain.money import MAX_MINOR, MINOR_UNITS

MAX_QUANTITY = Decimal(1_000_000)
_POWERS_OF_TEN = (1, 10, 100, 1000)  # by currency exponent (domain.money.MINOR_UNITS: 0, 2 or 3)


class BadRecord(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decimal_of(value: Any, field: str) -> Decimal:
    """A JSON number (or numeric text) as an exact decimal; anything else is a bad record."""
    if isinstance(value, bool) or value is None:
        raise BadRecord(f"{field} is {'missing' if value is None else 'not a number'}")
    try:
        parsed = Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        parsed = None
    if parsed is None or not parsed.is_finite():
        raise BadRecord(f"{field} is not a number: {str(value)[:40]!r}")
    return parsed


def minor_of(value: Any, field: str, currency: str, *, allow_negative: bool = False) -> int:
    exponent = MINOR_UNITS[currency]
    minor = _exact_minor(value, exponent)
    if minor is None:  # not a plain number with at most `exponent` decimals: round its exact decimal text
        amount = decimal_of(value, field).scaleb(exponent)
        if amount.adjusted() > 20:  # far past MAX_MINOR, and past what quantize can hold (InvalidOperation)
            raise BadRecord(f"{field} is too large ({value})")
        minor = int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if minor < 0 and not allow_negative:
        raise BadRecord(f"{field} is negative ({value})")
    if abs(minor) > MAX_MINOR:
        raise BadRecord(f"{field} is too large ({value})")
    return minor


def _exact_minor(value: Any, exponent: int) -> int | None:
    """Minor units of a JSON number that needs no rounding, as `decimal_of` would read it: 123.45 -> 12345
    at exponent 2. None for anything else (more decimals, NaN, text, bool), which the Decimal path handles.
    A sync reads a dozen amounts per invoice; this skips the Decimal round trip for nearly all of them.

    Exact: if `minor / 10**exponent` (correctly rounded) is the float itself, the decimal with `exponent`
    places that it stands for is the float's shortest text (`str`), since below 1e11 two such decimals are
    never the same float; so Decimal(str(value)) is exactly that decimal."""
    scale = _POWERS_OF_TEN[exponent]
    if type(value) is int:
        whole: int = value
        return whole * scale
    if type(value) is float and -1e11 < value < 1e11:
        number: float = value
        minor = round(number * scale)
        if minor / scale == number:
            return minor
    return None


def optional_minor(value: Any, field: str, currency: str) -> int:
    return 0 if value is None else minor_of(value, field, currency)


def instant_of(value: Any, field: str) -> datetime:
    """Halo's date-times: ISO 8601, with or without an offset (an instance may send local naive times;
    they are read as UTC, the best a remote reader can do)."""
    if not isinstance(value, str) or not value:
        raise BadRecord(f"{field} is missing or not a date")
    try:
        parsed = datetime.fromisoformat(value)  # Halo's usual form ("...Z") parses as it is
    except ValueError:
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise BadRecord(f"{field} is not a date: {value[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def optional_instant(value: Any, field: str) -> datetime | None:
    return None if value in (None, "") else instant_of(value, field)


def date_of(value: Any, field: str) -> date:
    if isinstance(value, str):
        try:
            return _date_of_text(value)
        except ValueError:
            pass  # instant_of says what is wrong with it
    return instant_of(value, field).date()


@functools.lru_cache(maxsize=1024)
def _date_of_text(value: str) -> date:
    """Invoice and due dates repeat across thousands of invoices: each text is parsed once (a bounded
    cache; a failure is not cached, and instant_of then reports it)."""
    parsed = datetime.fromisoformat(value)
    return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)).date()


def int_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise BadRecord(f"{field} is not a Halo id: {str(value)[:40]!r}")
    return value


def text_of(value: Any, limit: int = 500) -> str | None:
    """Text as PostgreSQL can store it: NUL characters (which it refuses) dropped, trimmed, bounded."""
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:limit] or None


def small_int(value: Any) -> int | None:
    """An optional count that fits a 32-bit column; anything else is treated as absent."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        return None
    return value


def content_hash(record: object) -> str:
    """A stable digest of a mapped record: unchanged records are recognised without rewriting them.

    The records are frozen dataclasses of plain values (text, ints, decimals, dates, tuples of lines), whose
    generated repr names every field in order: a faithful and cheap serialisation (dataclasses.astuple deep-
    copies every value first, which cost a third of a full sync's CPU)."""
    return hashlib.blake2b(repr(record).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class HaloClient:
    external_id: str
    name: str
    billing_email: str | None
    inactive: bool
    currency: str | None  # the client's own currency in Halo, when it has one
    modified_at: datetime | None


@dataclass(frozen=True)
class HaloAgreement:
    external_id: str
    client_external_id: str
    reference: str | None
    type_name: str | None
    subtype: str  # what the MSP picks contract-billed subtypes by
    start_date: date | None
    end_date: date | None
    active: bool
    billing_period: int | None
    period_charge: int  # minor units
    modified_at: datetime | None


@dataclass(frozen=True)
class HaloLine:
    position: int
    description: str
    quantity: Decimal
    unit_amount: int
    amount: int
    tax_amount: int
    agreement_external_id: str | None


@dataclass(frozen=True)
class HaloInvoice:
    external_id: str
    number: str | None  # None: the chosen number field is empty in Halo (a sync issue)
    client_external_id: str
    agreement_external_ids: tuple[str, ...]  # the header's contract and any line's, in order
    currency: str
    issue_date: date
    due_date: date
    subtotal: int
    tax_total: int
    amount_paid: int
    voided: bool
    modified_at: datetime
    lines: tuple[HaloLine, ...]

    @property
    def total(self) -> int:
        return self.subtotal + self.tax_total


@dataclass(frozen=True)
class HaloPayment:
    external_id: str
    invoice_external_id: str
    amount: int
    paid_on: date | None
    method: str | None
