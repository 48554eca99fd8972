"""GET on a collection or one record: If-Modified-Since, filters, `where`, `order`, `page`/`pageSize`.

Paging [V spec + S]: `page` is 1-based and defaults to 1, `pageSize` defaults to 100 and is capped at 1000
(values outside 1..1000 are clamped [U]); a paged list carries `pagination{page,pageSize,pageCount,itemCount}`
(Accounts are never paged). If-Modified-Since keeps records whose UpdatedDateUTC is at or after the given
instant [U - Xero says "since"; inclusive means a client may see a boundary record twice, never miss one].
Records come in creation order unless `order` says otherwise [U].
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .context import as_uuid
from .formats import envelope_time, parse_if_modified_since
from .http import Request, Response, json_response, text_response
from .models import Organisation
from .resources import Resource
from .where import QueryParseError, apply_order, compile_order, compile_where

if TYPE_CHECKING:
    from .state import XeroState

NOT_FOUND = "The resource you're looking for cannot be found"  # Xero's plain-text 404 [S]


def envelope(state: XeroState, provider: str, key: str, docs: list[Any], pagination: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"Id": state.new_id(), "Status": "OK", "ProviderName": provider}
    doc["DateTimeUTC"] = envelope_time(state.now())
    if pagination is not None:
        doc["pagination"] = pagination
    doc[key] = docs
    return doc


def query_error(message: str) -> Response:
    return json_response(400, {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message})


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def list_records(state: XeroState, res: Resource, org: Organisation, req: Request, provider: str) -> Response:
    items = list(res.table(org).values())
    since = parse_if_modified_since(req.header("if-modified-since"))
    if since is not None:
        items = [i for i in items if i.updated >= since]
    for keep in res.filters(req):
        items = [i for i in items if keep(i)]
    try:
        if where := req.param("where"):
            keep = compile_where(where, res.fields, res.type_name)
            items = [i for i in items if keep(i)]
        if order := req.param("order"):
            items = apply_order(items, compile_order(order, res.fields, res.type_name))
    except QueryParseError as exc:
        return query_error(str(exc))
    pagination = None
    if res.paged:
        cfg = state.config
        page = max(_int(req.param("page"), 1), 1)
        size = min(max(_int(req.param("pageSize"), cfg.default_page_size), 1), cfg.max_page_size)
        count = len(items)
        items = items[(page - 1) * size : page * size]
        pagination = {"page": page, "pageSize": size, "pageCount": math.ceil(count / size), "itemCount": count}
    summary = res.key == "Invoices" and (req.param("summaryOnly") or "").lower() == "true"
    docs = [_render(res, org, i, summary) for i in items]
    return json_response(200, envelope(state, provider, res.key, docs, pagination))


def _render(res: Resource, org: Organisation, item: Any, summary: bool) -> dict[str, Any]:
    doc = res.render(org, item)
    if summary:  # summaryOnly leaves out the computation-heavy parts
        doc.pop("LineItems", None)
        doc.pop("Payments", None)
    return doc


def get_record(state: XeroState, res: Resource, org: Organisation, ident: str, provider: str) -> Response:
    wanted = as_uuid(ident)
    item = res.table(org).get(wanted) if wanted else None
    if item is None and res.find_by_number is not None:
        item = res.find_by_number(org, ident)
    if item is None:
        return text_response(404, NOT_FOUND)
    return json_response(200, envelope(state, provider, res.key, [res.render(org, item)]))
