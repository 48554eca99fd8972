"""One resource's records, in id order, with cached list views.

Listing must stay cheap when a benchmark pages through 50,000 invoices 100 at a time: filtering and sorting
the whole table per request would be O(n log n) per page. A view (the ordered ids matching one filter and
ordering) is computed once and reused until the next write to the store, so each further page costs O(page).
Invariant: every change to a row goes through `put`/`remove`/`touch`, which bump `version`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

Row = dict[str, Any]

_MAX_VIEWS = 32  # distinct filter/order combinations kept; a sync uses one or two


class Store:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        # Ids are only ever assigned here, increasing, so dict insertion order is id order.
        self.rows: dict[int, Row] = {}
        self.next_id = 1
        self.version = 0
        self._views: dict[Hashable, tuple[int, list[int]]] = {}

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def get(self, row_id: int) -> Row | None:
        return self.rows.get(row_id)

    def put(self, row: Row) -> None:
        self.rows[row["id"]] = row
        self.version += 1

    def put_many(self, rows: list[Row]) -> None:
        """Bulk load (seeding): one version bump for the whole batch."""
        for row in rows:
            self.rows[row["id"]] = row
        self.next_id = max(self.next_id, max((r["id"] for r in rows), default=0) + 1)
        self.version += 1

    def remove(self, row_id: int) -> Row | None:
        row = self.rows.pop(row_id, None)
        if row is not None:
            self.version += 1
        return row

    def touch(self) -> None:
        """A row was changed in place (e.g. a denormalised name): views are stale."""
        self.version += 1

    def view(self, key: Hashable, build: Callable[[], list[int]]) -> list[int]:
        cached = self._views.get(key)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        ids = build()
        if len(self._views) >= _MAX_VIEWS:
            self._views.clear()
        self._views[key] = (self.version, ids)
        return ids

    def __len__(self) -> int:
        return len(self.rows)
