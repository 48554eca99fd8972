"""Running queries and change data capture (CDC) against one company.

CDC (Q-CDC): `GET /cdc?entities=Invoice,Payment&changedSince=<ISO 8601>` returns every object of those
entities changed at or after `changedSince` (inactive name-list records included, deleted transactions as
`{"Id", "status": "Deleted"}`). Look-back is at most 30 days, and one answer holds at most 1000 objects
across all entities; the sandbox keeps the 1000 oldest changes so a caller can advance `changedSince` [U].
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.quickbooks import errors
from sandbox.quickbooks.query import Condition, Parser, Query
from sandbox.quickbooks.store import BY_PATH, NAME_LISTS, Company
from sandbox.quickbooks.util import meta_time, parse_moment


def _raw(rec: dict[str, Any], path: str, kind: str) -> Any:
    if kind == "ref":
        ref = rec.get(path)
        return ref.get("value") if isinstance(ref, dict) else None
    if kind == "email":
        email = rec.get(path)
        return email.get("Address") if isinstance(email, dict) else None
    if "." in path:
        head, tail = path.split(".", 1)
        return (rec.get(head) or {}).get(tail)
    return rec.get(path)


def _coerce(value: Any, kind: str, company: Company) -> Any:
    """Both sides of a comparison in one comparable type; None when the value cannot be one."""
    if value is None:
        return None
    try:
        if kind in {"num", "id"}:
            return Decimal(str(value))
        if kind == "datetime":
            return parse_moment(str(value), company.tz)
        if kind == "date":
            return str(value)[:10]
        if kind == "bool":
            return value if isinstance(value, bool) else {"true": True, "false": False}.get(str(value).lower())
    except (InvalidOperation, ValueError):
        return None
    return str(value)


def _like(pattern: str, value: str) -> bool:
    """'%' is the only wildcard; matching ignores case ('Acme%', '%corp', '%ac%')."""
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def _matches(rec: dict[str, Any], cond: Condition, company: Company) -> bool:
    value = _coerce(_raw(rec, cond.path, cond.kind), cond.kind, company)
    wanted = [_coerce(v, cond.kind, company) for v in cond.values]
    if value is None:
        return False
    if cond.op == "in":
        return value in wanted
    if cond.op == "like":
        return isinstance(value, str) and _like(str(cond.values[0]), value)
    other = wanted[0]
    if other is None or type(other) is not type(value):
        return False
    results = {"=": value == other, "<": value < other, ">": value > other, "<=": value <= other,
               ">=": value >= other}  # fmt: skip
    return bool(results[cond.op])


def run_query(company: Company, text: str, max_results: int, default_max_results: int) -> dict[str, Any]:
    if not text.strip():
        raise errors.query_parse_error("The query provided was empty")
    query: Query = Parser(text, max_results).parse()
    rows = list(company.records[query.entity].values())
    where = list(query.where)
    if query.entity in NAME_LISTS and not any(c.path == "Active" for c in where):
        where.append(Condition("Active", "bool", "=", [True]))  # inactive names stay hidden unless asked for
    rows = [r for r in rows if all(_matches(r, c, company) for c in where)]
    if query.count:
        return {"QueryResponse": {"totalCount": len(rows)}}
    rows.sort(key=lambda r: int(r["Id"]))
    for path, kind, descending in reversed(query.order):
        present = [r for r in rows if _coerce(_raw(r, path, kind), kind, company) is not None]
        missing = [r for r in rows if _coerce(_raw(r, path, kind), kind, company) is None]
        present.sort(key=lambda r: _coerce(_raw(r, path, kind), kind, company), reverse=descending)
        rows = missing + present if not descending else present + missing
    size = query.max_results or default_max_results
    page = rows[query.start - 1 : query.start - 1 + size]
    if not page:
        return {"QueryResponse": {}}
    return {"QueryResponse": {query.entity: page, "startPosition": query.start, "maxResults": len(page)}}


def run_cdc(
    company: Company, entities: str | None, changed_since: str | None, lookback_days: int, cap: int
) -> dict[str, Any]:
    if not entities:
        raise errors.required_missing("entities")
    if not changed_since:
        raise errors.required_missing("changedSince")
    names = []
    for raw in entities.split(","):
        name = BY_PATH.get(raw.strip().lower())
        if name is None:
            raise errors.query_validation_error(f"{raw.strip()} is not a supported entity for CDC")
        names.append(name)
    try:
        since = parse_moment(changed_since, company.tz)
    except ValueError as exc:
        raise errors.query_validation_error(f"changedSince {changed_since!r} is not a valid date-time") from exc
    if since < company.now() - timedelta(days=lookback_days):
        raise errors.query_validation_error(f"changedSince must be within the last {lookback_days} days")
    changes: list[tuple[datetime, str, dict[str, Any]]] = []
    for name in names:
        for id_, rec in company.records[name].items():
            at = company.changed_at.get((name, id_))
            if at is not None and at >= since:
                changes.append((at, name, rec))
        for id_, at in company.tombstones[name].items():
            if at >= since:
                deleted = {"domain": "QBO", "status": "Deleted", "Id": id_,
                           "MetaData": {"LastUpdatedTime": meta_time(at, company.tz)}}  # fmt: skip
                changes.append((at, name, deleted))
    changes.sort(key=lambda c: c[0])
    kept = changes[:cap]
    blocks = []
    for name in names:
        objects = [obj for _, entity, obj in kept if entity == name]
        block = {name: objects, "startPosition": 1, "maxResults": len(objects)} if objects else {}
        blocks.append(block)
    return {"CDCResponse": [{"QueryResponse": blocks}]}
