"""Custom scalars. Registered through `StrawberryConfig.scalar_map` (see schema.py), so the Python types stay
plain `NewType`s that type checkers understand."""

from __future__ import annotations

from typing import Any, NewType

from graphql import IntValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition, scalar

# GraphQL `Int` is a signed 32-bit integer (about 21 million dollars in cents), too small for money. The range
# here is PostgreSQL's bigint; the domain applies the tighter business limit (MAX_MINOR) and answers with a
# ValidationError, so this scalar only refuses what cannot be an integer amount at all.
MinorUnits = NewType("MinorUnits", int)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_MINOR_UNITS_DESCRIPTION = (
    "An amount in the currency's minor unit (cents for USD, yen for JPY) as a signed 64-bit integer. "
    "Always a JSON integer: never a float, never a string."
)


def parse_minor_units(value: object) -> int:
    # bool is an int in Python and 12.0 is a float in JSON: neither is an amount a client meant to send.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"MinorUnits must be an integer number of minor units, not {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("MinorUnits must fit in a signed 64-bit integer")
    return value


def parse_minor_units_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    """An amount written inline in the query text; `12.5` and `"1250"` are refused like their JSON forms."""
    if not isinstance(node, IntValueNode):
        raise ValueError("MinorUnits must be an integer literal")
    return parse_minor_units(int(node.value))


def serialize_minor_units(value: object) -> int:
    return parse_minor_units(value)


MINOR_UNITS_SCALAR: ScalarDefinition = scalar(
    name="MinorUnits",
    description=_MINOR_UNITS_DESCRIPTION,
    serialize=serialize_minor_units,
    parse_value=parse_minor_units,
    parse_literal=parse_minor_units_literal,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {MinorUnits: MINOR_UNITS_SCALAR}
