"""GET list semantics shared by every resource: query parsing, ordering, Halo's `pageinate` paging.

- `pageinate=true&page_size=&page_no=` (1-based) answers `{record_count, page_no, page_size, <key>: [...]}`
  [V H-PY `_list_key`, H-N8N]; `page_size` is clamped to the configured maximum and the envelope reports
  the size actually used, so a client must loop on `record_count`, not on its own page size.
- Without `pageinate` the answer is a bare array, capped by `count` [S: H-PY handles both shapes].
- `order`..`order5` with `orderdesc`..`orderdesc5`; ties always fall back to id ascending so pages are
  stable. Ordering by a field the sandbox does not index is a 400 rather than silently ignored [U: Halo's
  own behaviour is unknown; failing loudly keeps adapters honest].
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sandbox.halopsa.errors import HaloError
from sandbox.halopsa.store import Row, Store

if TYPE_CHECKING:
    from sandbox.halopsa.core import HaloCore

Predicate = Callable[[Row], bool]


class Query:
    """Query parameters as ASP.NET binds them: names case-insensitive, the first value wins, a value that
    does not parse as the parameter's type is a 400."""

    def __init__(self, raw: str) -> None:
        self._values: dict[str, str] = {}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            self._values.setdefault(key.lower(), value)

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value not in (None, "") else None

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise HaloError(400, f"The value '{value}' is not valid for {name}.")
        return lowered == "true"

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value.strip())
        except ValueError:
            raise HaloError(400, f"The value '{value}' is not valid for {name}.") from None

    def integers(self, name: str) -> frozenset[int] | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return frozenset(int(part) for part in value.split(",") if part.strip())
        except ValueError:
            raise HaloError(400, f"The value '{value}' is not valid for {name}.") from None


@dataclass(frozen=True)
class Resource:
    """How one `/api/<name>` collection lists, filters, renders and is authorised."""

    name: str
    list_key: str
    read_scope: str
    edit_scope: str
    sortable: frozenset[str]
    filters: Callable[[Query], tuple[Hashable, list[Predicate]]]
    render_list: Callable[[HaloCore, Row, Query], Row]
    render_one: Callable[[HaloCore, Row, Query], Row]
    store: Callable[[HaloCore], Store]


def orders(resource: Resource, query: Query) -> tuple[tuple[str, bool], ...]:
    result = []
    for suffix in ("", "2", "3", "4", "5"):
        field = query.text(f"order{suffix}")
        if field is None:
            continue
        field = field.strip().lower()
        if field not in resource.sortable:
            raise HaloError(400, f"Cannot order {resource.name} by '{field}'.")
        result.append((field, bool(query.flag(f"orderdesc{suffix}"))))
    return tuple(result)


def _sort_key(field: str) -> Callable[[Row], Any]:
    # Nulls sort first ascending (last descending), as SQL Server does.
    def key(row: Row) -> tuple[bool, Any]:
        value = row.get(field)
        return (value is not None, value if value is not None else 0)

    return key


def _build(store: Store, predicates: list[Predicate], ordering: tuple[tuple[str, bool], ...]) -> list[int]:
    rows = [r for r in store.rows.values() if all(p(r) for p in predicates)] if predicates else None
    if not ordering:
        return [r["id"] for r in rows] if rows is not None else list(store.rows)
    rows = rows if rows is not None else list(store.rows.values())
    # Stable sorts from the least to the most significant key; rows start in id order, the final tiebreak.
    for field, desc in reversed(ordering):
        rows.sort(key=_sort_key(field), reverse=desc)
    return [r["id"] for r in rows]


def list_records(state: HaloCore, resource: Resource, query: Query) -> Any:
    store = resource.store(state)
    filter_key, predicates = resource.filters(query)
    ordering = orders(resource, query)
    ids = store.view((filter_key, ordering), lambda: _build(store, predicates, ordering))
    if query.flag("pageinate"):
        limits = state.limits
        size = query.integer("page_size") or limits.default_page_size
        size = max(1, min(size, limits.max_page_size))
        page = max(1, query.integer("page_no") or 1)
        chunk = ids[(page - 1) * size : page * size]
        return {
            "record_count": len(ids),
            "page_no": page,
            "page_size": size,
            resource.list_key: [resource.render_list(state, store.rows[i], query) for i in chunk],
        }
    count = query.integer("count")
    chunk = ids[:count] if count is not None and count > 0 else ids
    return [resource.render_list(state, store.rows[i], query) for i in chunk]
