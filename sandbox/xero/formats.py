"""Xero's wire formats: MS-AJAX dates, money as exact JSON numbers, case-insensitive JSON input.

Xero serialises with .NET: dates go out as `/Date(1552348800000+0000)/` (calendar dates as midnight UTC),
the response envelope's `DateTimeUTC` as `/Date(1552326816230)/` (no offset), connections' and webhooks'
timestamps as ISO without a zone. Requests may carry ISO dates or the MS-AJAX form. JSON property names are
matched case-insensitively (the spec's own BankTransactions example is camelCase), so input objects are
lower-cased once on entry and read with lower-case keys.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_ENCODER = msgspec.json.Encoder(decimal_format="number")  # Decimal("40.00") -> 40.00, never a float
CENT = Decimal("0.01")


def encode_json(value: Any) -> bytes:
    return _ENCODER.encode(value)


def decode_json(raw: bytes) -> Any:
    """Floats become Decimal so money is exact from the first byte."""
    return json.loads(raw, parse_float=Decimal)


def lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def truncate_ms(moment: datetime) -> datetime:
    """Xero keeps millisecond precision; storing the same keeps If-Modified-Since comparisons exact."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def ms_datetime(moment: datetime) -> str:
    return f"/Date({_epoch_ms(moment)}+0000)/"


def ms_date(day: date) -> str:
    return ms_datetime(datetime.combine(day, time(), tzinfo=UTC))


def envelope_time(moment: datetime) -> str:
    return f"/Date({_epoch_ms(moment)})/"


def date_string(day: date) -> str:
    """`DateString` / `DueDateString`, as Xero returns them next to the MS-AJAX values."""
    return f"{day.isoformat()}T00:00:00"


def connection_time(moment: datetime) -> str:
    """`/connections` timestamps: seven fractional digits and no zone (Xero's own example)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def event_time(moment: datetime) -> str:
    """Webhook `eventDateUtc`: milliseconds and no zone, as in Xero's examples."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def parse_date(value: Any) -> date | None:
    """A request date: `2019-03-12`, `2019-03-12T00:00:00` or `/Date(ms+0000)/`. None when unreadable."""
    if not isinstance(value, str):
        return None
    found = _MS_DATE.match(value.strip())
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC).date()
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        return None


def parse_if_modified_since(value: str | None) -> datetime | None:
    """ISO 8601 (what the SDKs send; no zone means UTC) or an RFC 1123 HTTP date. An unreadable value is
    ignored, as HTTP says to do with a bad If-Modified-Since."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def money(value: Any, places: Decimal = CENT) -> Decimal | None:
    """A JSON number (or numeric string) as an exact amount rounded like Xero rounds (half up)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value)).quantize(places, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None
