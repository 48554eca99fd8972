"""List endpoints: `{object: "list", data, has_more, url}` with limit / starting_after / ending_before and
the `created` range filter (`created=ts` or `created[gt|gte|lt|lte]=ts`) every Stripe list accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox.errors import invalid
from sandbox.stripe_sandbox.forms import Params, check_allowed, get_int, get_str
from sandbox.stripe_sandbox.store import Obj, Page, page

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op

PAGING = frozenset({"limit", "starting_after", "ending_before", "created"})

_OPS: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def created_filter(params: Params) -> Callable[[Obj], bool] | None:
    value = params.get("created")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        exact = get_int(params, "created")
        return lambda o: o.get("created") == exact
    if not isinstance(value, dict):
        raise invalid("Invalid created filter", param="created")
    bounds: list[tuple[Callable[[int, int], bool], int]] = []
    for op_name in value:
        if op_name not in _OPS:
            raise invalid(f"Received unknown parameter: created[{op_name}]", param=f"created[{op_name}]")
        bounds.append((_OPS[op_name], get_int(value, op_name) or 0))
    return lambda o: all(fn(o.get("created", 0), bound) for fn, bound in bounds)


def _field_equals(name: str, wanted: str) -> Callable[[Obj], bool]:
    return lambda o: o.get(name) == wanted


def as_list(pg: Page, url: str) -> Obj:
    return {"object": "list", "data": pg.data, "has_more": pg.has_more, "url": url}


def list_objects(
    op: Op,
    kind: str,
    params: Params,
    url: str,
    *,
    filters: frozenset[str] = frozenset(),
    keep: Callable[[Obj], bool] | None = None,
) -> Obj:
    """Filters named in `filters` match the object's field of the same name exactly."""
    check_allowed(params, PAGING | filters)
    checks: list[Callable[[Obj], bool]] = []
    for name in filters:
        wanted: Any = params.get(name)
        if isinstance(wanted, str) and wanted != "":
            checks.append(_field_equals(name, wanted))
    created = created_filter(params)
    if created is not None:
        checks.append(created)
    if keep is not None:
        checks.append(keep)
    pg = page(
        op.part.table(kind),
        kind,
        limit=get_int(params, "limit") or 10,
        starting_after=get_str(params, "starting_after"),
        ending_before=get_str(params, "ending_before"),
        keep=(lambda o: all(c(o) for c in checks)) if checks else None,
    )
    return as_list(pg, url)
