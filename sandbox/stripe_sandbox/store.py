"""Per-account storage. Stripe partitions every object by account (the `Stripe-Account` header picks the
connected account), so each account owns one `Partition` holding a `Table` per object kind.

A table keeps objects by id plus their creation order, so lists page newest-first with `starting_after` /
`ending_before` in O(page) (a cursor's position is a dict lookup, never a scan) and creates are O(1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.stripe_sandbox.errors import invalid, missing_resource

Obj = dict[str, Any]

# Id prefix -> kind, for expansion and for looking an id up without knowing its kind.
PREFIXES = {
    "acct": "account",
    "ch": "charge",
    "cus": "customer",
    "dp": "dispute",
    "du": "dispute",
    "evt": "event",
    "fee": "application_fee",
    "mandate": "mandate",
    "pi": "payment_intent",
    "pm": "payment_method",
    "po": "payout",
    "py": "charge",
    "re": "refund",
    "pyr": "refund",
    "seti": "setup_intent",
    "txn": "balance_transaction",
    "we": "webhook_endpoint",
}


class Table:
    __slots__ = ("objects", "order", "pos")

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.order: list[str] = []
        self.pos: dict[str, int] = {}

    def add(self, obj: Obj) -> Obj:
        oid = obj["id"]
        self.pos[oid] = len(self.order)
        self.order.append(oid)
        self.objects[oid] = obj
        return obj

    def get(self, oid: str) -> Obj | None:
        return self.objects.get(oid)

    def __len__(self) -> int:
        return len(self.objects)

    def newest_first(self, before: int | None = None) -> Iterator[Obj]:
        start = len(self.order) - 1 if before is None else before - 1
        for i in range(start, -1, -1):
            obj = self.objects.get(self.order[i])
            if obj is not None and not obj.get("deleted"):
                yield obj

    def oldest_first(self, after: int) -> Iterator[Obj]:
        for i in range(after + 1, len(self.order)):
            obj = self.objects.get(self.order[i])
            if obj is not None and not obj.get("deleted"):
                yield obj


@dataclass
class Page:
    data: list[Obj]
    has_more: bool


def page(
    table: Table,
    kind: str,
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    keep: Callable[[Obj], bool] | None = None,
) -> Page:
    """Newest first, like Stripe. `keep` filters (scanning, but stopping as soon as the page is full)."""
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", param="limit")
    accept = keep or (lambda _o: True)
    if ending_before is not None:
        if ending_before not in table.pos:
            raise missing_resource(kind, ending_before, param="ending_before")
        newer = []
        for obj in table.oldest_first(table.pos[ending_before]):
            if accept(obj):
                newer.append(obj)
                if len(newer) > limit:
                    break
        has_more = len(newer) > limit
        return Page(list(reversed(newer[:limit])), has_more)
    before = None
    if starting_after is not None:
        if starting_after not in table.pos:
            raise missing_resource(kind, starting_after, param="starting_after")
        before = table.pos[starting_after]
    out: list[Obj] = []
    for obj in table.newest_first(before):
        if accept(obj):
            out.append(obj)
            if len(out) > limit:
                break
    return Page(out[:limit], len(out) > limit)


def page_of(items: list[Obj], *, limit: int, starting_after: str | None, ending_before: str | None) -> Page:
    """Paging over a precomputed newest-first list (a secondary index such as a payout's transactions)."""
    ids = [o["id"] for o in items]
    if starting_after is not None:
        if starting_after not in ids:
            raise invalid(f"No such object: '{starting_after}'", param="starting_after", status=404)
        rest = items[ids.index(starting_after) + 1 :]
        return Page(rest[:limit], len(rest) > limit)
    if ending_before is not None:
        if ending_before not in ids:
            raise invalid(f"No such object: '{ending_before}'", param="ending_before", status=404)
        head = items[: ids.index(ending_before)]
        return Page(head[-limit:], len(head) > limit)
    return Page(items[:limit], len(items) > limit)


@dataclass
class Partition:
    """Everything one Stripe account owns, plus the simulator's private facts about its objects (which
    test card a PaymentMethod came from, which mandate backs a bank account) that Stripe keeps server-side
    and never shows in the object."""

    account_id: str
    is_platform: bool
    tables: dict[str, Table] = field(default_factory=dict)
    pm_behaviour: dict[str, Any] = field(default_factory=dict)  # pm id -> testdata behaviour
    pm_mandate: dict[str, str] = field(default_factory=dict)  # pm id -> active mandate id
    pm_authenticated: set[str] = field(default_factory=set)  # set up with 3DS done (cards that ask once)
    pm_consumed: set[str] = field(default_factory=set)  # used once while unattached: may not be reused
    customer_pms: dict[str, list[str]] = field(default_factory=dict)  # customer id -> attached pm ids
    payout_txns: dict[str, list[str]] = field(default_factory=dict)  # payout id -> balance transaction ids
    unpaid_available: dict[str, list[str]] = field(default_factory=dict)  # currency -> txn ids not paid out
    balance: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (bucket, currency, source) -> amount

    def table(self, kind: str) -> Table:
        t = self.tables.get(kind)
        if t is None:
            t = self.tables[kind] = Table()
        return t

    def get(self, kind: str, oid: str) -> Obj | None:
        t = self.tables.get(kind)
        return t.get(oid) if t is not None else None

    def require(self, kind: str, oid: str | None, param: str | None = None) -> Obj:
        obj = self.get(kind, oid) if oid else None
        if obj is None or obj.get("deleted"):
            raise missing_resource(kind, oid or "", param=param)
        return obj

    def find(self, oid: str) -> Obj | None:
        kind = PREFIXES.get(oid.split("_", 1)[0])
        return self.get(kind, oid) if kind else None

    def add_balance(self, bucket: str, currency: str, source: str, amount: int) -> None:
        key = (bucket, currency, source)
        self.balance[key] = self.balance.get(key, 0) + amount
