"""Keyset pagination on time-ordered ids: newest first, cursor = the last id seen."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Generic, TypeVar

from domain.errors import FieldError, ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: uuid.UUID | None = None  # return items strictly older than this id

    @staticmethod
    def build(limit: int | None, cursor: str | None) -> PageRequest:
        errors = []
        n = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= n <= MAX_LIMIT:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
        after = None
        if cursor:
            try:
                after = decode_cursor(cursor)
            except ValueError:
                errors.append(FieldError("cursor", "is not a cursor this API issued"))
        if errors:
            raise ValidationFailed(errors)
        return PageRequest(n, after)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool
    next_cursor: str | None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("bad cursor") from exc
    if len(raw) != 16:
        raise ValueError("bad cursor")
    return uuid.UUID(bytes=raw)


def page_of(rows: list[T], limit: int, id_of: Callable[[T], uuid.UUID] = attrgetter("id")) -> Page[T]:
    """Rows were fetched with limit+1: the extra row only says whether there is more."""
    has_more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(id_of(items[-1])) if has_more and items else None
    return Page(items, has_more, next_cursor)
