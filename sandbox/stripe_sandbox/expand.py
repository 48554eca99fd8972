"""`expand[]=a.b.c`: replace id strings along a dotted path with the objects they name (same account).

Dicts on the path are copied, never edited, so expanding a response cannot change stored objects. On a
list response the path starts with `data.`. Stripe allows four levels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox.errors import invalid

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.store import Obj, Partition

MAX_DEPTH = 4


def expand(part: Partition, obj: Obj, paths: list[Any]) -> Obj:
    for path in paths:
        if not isinstance(path, str) or not path:
            raise invalid("Invalid expand parameter", param="expand")
        parts = path.split(".")
        depth = len(parts) - (1 if parts[0] == "data" and obj.get("object") == "list" else 0)
        if depth > MAX_DEPTH:
            raise invalid(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}", param="expand"
            )
        obj = _walk(part, obj, parts, path)
    return obj


def _walk(part: Partition, value: Any, parts: list[str], path: str) -> Any:
    if not parts:
        return value
    if isinstance(value, str):
        found = part.find(value)
        if found is None:
            return value
        value = found
    if not isinstance(value, dict):
        return value
    head, rest = parts[0], parts[1:]
    if head not in value:
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    copy = dict(value)
    child = value[head]
    if value.get("object") == "list" and head == "data":
        copy["data"] = [_walk(part, item, rest, path) for item in child]
    elif child is None:
        return copy
    elif isinstance(child, str) and not rest:
        found = part.find(child)
        if found is None:
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
        copy[head] = found
    else:
        copy[head] = _walk(part, child, rest, path)
    return copy
