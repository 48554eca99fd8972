"""Small shared helpers: money as QuickBooks writes it, times as QuickBooks formats them, compact JSON.

QuickBooks Online sends money as JSON numbers with at most two decimals (``1455.9``) and times in the
company's own time zone with an offset (``2024-06-01T10:00:00-07:00``); the envelope ``time`` carries
milliseconds, ``MetaData`` times do not. Amounts are computed in ``Decimal`` and only stored as floats
so that ``0.1 + 0.2`` never leaks into a balance.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


class BadAmount(ValueError):
    pass


def money(value: Any) -> Decimal:
    """A JSON amount as Decimal rounded to cents; str() first so floats keep their printed value."""
    if isinstance(value, bool) or value is None:
        raise BadAmount(repr(value))
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError) as exc:
        raise BadAmount(repr(value)) from exc


def as_json_number(amount: Decimal) -> float | int:
    """Render like QuickBooks: 1000 -> 1000, 1455.90 -> 1455.9."""
    normal = amount.quantize(CENT)
    return int(normal) if normal == normal.to_integral_value() else float(normal)


def meta_time(moment: datetime, tz: tzinfo) -> str:
    """MetaData.CreateTime / LastUpdatedTime: local time, whole seconds, numeric offset."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def envelope_time(moment: datetime, tz: tzinfo) -> str:
    """The top-level "time" of every response: local time with milliseconds."""
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


def local_date(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).date().isoformat()


def parse_moment(text: str, tz: tzinfo) -> datetime:
    """A query or CDC literal: a full ISO timestamp (offset or Z) or a bare date (midnight, company time)."""
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
