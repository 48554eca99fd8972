"""What resolvers share: paging arguments, query use cases' expected failures as coded errors, and
validation failures as the `ValidationError` union member."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from graphql import GraphQLError

from api.graphql.context import forbidden
from api.graphql.types import FieldError, ValidationError
from domain import errors
from domain.auth import Forbidden
from domain.pagination import PageRequest

T = TypeVar("T")


def graphql_name(path: str) -> str:
    """Domain field paths use Python names (`lines[0].unit_amount`); callers sent `lines[0].unitAmount`."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), path)


def page_request(first: int, after: str | None) -> PageRequest:
    try:
        return PageRequest.build(first, after)
    except errors.ValidationFailed as exc:
        named = {"limit": "first", "cursor": "after"}  # PageRequest speaks REST's parameter names
        raise errors.ValidationFailed(
            [errors.FieldError(named.get(e.field, e.field), e.message) for e in exc.errors]
        ) from exc


async def read(call: Callable[[], Awaitable[T]]) -> T:
    """Run a query use case; expected failures become errors with a stable `extensions.code`."""
    try:
        return await call()
    except Forbidden as exc:
        raise forbidden(exc) from exc
    except errors.ValidationFailed as exc:
        fields = _fields(exc)
        raise GraphQLError(
            _summary(fields),
            extensions={"code": "BAD_USER_INPUT", "fields": [{"field": f.field, "message": f.message} for f in fields]},
        ) from exc


def validation_error(exc: errors.ValidationFailed) -> ValidationError:
    fields = _fields(exc)
    return ValidationError(message=_summary(fields), fields=fields)


def _fields(exc: errors.ValidationFailed) -> list[FieldError]:
    return [FieldError(field=graphql_name(e.field), message=e.message) for e in exc.errors]


def _summary(fields: list[FieldError]) -> str:
    return "; ".join(f"{f.field}: {f.message}" for f in fields) or "invalid input"
