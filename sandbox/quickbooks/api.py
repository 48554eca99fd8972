"""The Accounting API under /v3/company/{realmId}/..., in the order Intuit's edge applies things:

1. bearer token (401 in the gateway's lower-case shape when missing, unknown, expired or revoked);
2. the token's company and scope (403);
3. throttling per company (429, no Retry-After header);
4. `minorversion` (see Limits.minorversion_policy);
5. `requestid`: a repeat within the company gets the stored answer byte for byte, not a second execution;
6. the operation: entity create/read/update/delete/void, query, cdc, preferences, companyinfo.

Every answer is JSON with a top-level "time"; errors are Fault envelopes (errors.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from sandbox.quickbooks import entities, errors, reads
from sandbox.quickbooks.http import Request, Response, json_response
from sandbox.quickbooks.store import BY_PATH, Company
from sandbox.quickbooks.tokens import ACCOUNTING_SCOPE
from sandbox.quickbooks.util import dumps, envelope_time

if TYPE_CHECKING:
    from sandbox.quickbooks.state import QuickBooksState

PATH = re.compile(r"^/v3/company/(?P<realm>[^/]+)/(?P<resource>[A-Za-z]+)(?:/(?P<id>[^/]+))?/?$")
JSON = "application/json;charset=UTF-8"


async def handle(state: QuickBooksState, req: Request) -> Response:
    now = state.controls.clock.now()
    tid = str(uuid.uuid4())
    match = PATH.match(req.path)
    if match is None:
        return _fault(state, errors.unsupported_operation(f"Could not find resource for relative : {req.path}"), tid)
    realm = match["realm"]
    token, reason = state.tokens.check_access(req.bearer(), now)
    if token is None:
        body = {**errors.auth_failed_body(reason), "time": int(now.timestamp() * 1000)}
        headers = {"www-authenticate": 'Bearer realm="Intuit", error="invalid_token"', "intuit_tid": tid}
        return json_response(401, body, headers)
    company = state.companies.get(realm)
    if company is None or token.grant.realm_id != realm or ACCOUNTING_SCOPE not in token.grant.scopes:
        return _fault(state, errors.authorization_failed(), tid)
    if not state.throttle.admit(realm, now):
        return _throttled(state, tid)
    try:
        if state.limits.processing_delay:
            await asyncio.sleep(state.limits.processing_delay)
        return _admitted(state, company, req, match, tid)
    finally:
        state.throttle.release(realm)


def _admitted(state: QuickBooksState, company: Company, req: Request, match: re.Match[str], tid: str) -> Response:
    try:
        _check_minorversion(state, req.query.get("minorversion"))
        request_id = req.query.get("requestid")
        if request_id is not None and not 0 < len(request_id) <= state.limits.requestid_max_length:
            raise errors.unsupported_property("requestid")
    except errors.QBOError as exc:
        return _fault(state, exc, tid, company)
    if request_id is not None and (stored := state.replays.get((company.realm_id, request_id))) is not None:
        status, content_type, body, headers = stored
        return Response(status, body, content_type, {**headers, "intuit_tid": tid})
    try:
        payload: dict[str, Any] = _dispatch(state, company, req, match["resource"], match["id"])
        status = 200
    except errors.QBOError as exc:
        status, payload = exc.status, {"Fault": exc.fault()}
    body = dumps({**payload, "time": envelope_time(state.controls.clock.now(), company.tz)})
    if request_id is not None:
        state.replays[(company.realm_id, request_id)] = (status, JSON, body, {})
    return Response(status, body, JSON, {"intuit_tid": tid})


def _check_minorversion(state: QuickBooksState, raw: str | None) -> None:
    limits = state.limits
    minimum = limits.min_minorversion
    detail = f"Property Name:minorversion specified is unsupported or invalid. Minimum supported: {minimum}"
    if raw is None:
        if limits.require_minorversion:
            raise errors.QBOError("2010", "Request has invalid or unsupported property", detail, "minorversion")
        return
    if not raw.isdigit() or (int(raw) < minimum and limits.minorversion_policy == "reject"):
        raise errors.QBOError("2010", "Request has invalid or unsupported property", detail, "minorversion")


def _dispatch(state: QuickBooksState, company: Company, req: Request, resource: str, id_: str | None) -> dict[str, Any]:
    method = req.method
    if resource == "query" and id_ is None and method in {"GET", "POST"}:
        text = req.query.get("query", "") if method == "GET" else req.body.decode(errors="replace")
        return reads.run_query(company, text, state.limits.max_results, state.limits.default_max_results)
    if resource == "cdc" and id_ is None and method == "GET":
        limits = state.limits
        return reads.run_cdc(company, req.query.get("entities"), req.query.get("changedSince"),
                             limits.cdc_lookback_days, limits.cdc_max_objects)  # fmt: skip
    if resource == "preferences" and id_ is None and method == "GET":
        return {"Preferences": _preferences(company)}
    if resource == "companyinfo" and id_ == company.realm_id and method == "GET":
        return {"CompanyInfo": _company_info(company)}
    entity = BY_PATH.get(resource)
    if entity is None or resource != entity.lower():
        raise errors.unsupported_operation(f"Could not find resource for relative : {req.path}")
    if method == "GET" and id_ is not None:
        return {entity: company.get(entity, id_)}
    if method != "POST" or id_ is not None:
        raise errors.unsupported_operation(f"{method} {req.path}")
    return {entity: _write(company, entity, req)}


def _write(company: Company, entity: str, req: Request) -> dict[str, Any]:
    try:
        body = json.loads(req.body)
    except ValueError as exc:
        raise errors.QBOError(
            "2010", "Request has invalid or unsupported property", "Request body is not valid JSON", entity
        ) from exc
    operation, include = req.query.get("operation"), req.query.get("include")
    if operation == "delete":
        return entities.delete(company, entity, body)
    if operation == "void":
        return entities.void(company, entity, body, "void")
    if operation == "update" and include == "void":
        return entities.void(company, entity, body, "voidpayment")
    if operation not in (None, "update"):
        raise errors.unsupported_operation(f"operation={operation}")
    if isinstance(body, dict) and body.get("Id") not in (None, ""):
        return entities.update(company, entity, body)
    if operation == "update":
        raise errors.required_missing("Id")
    return entities.create(company, entity, body)


def _preferences(company: Company) -> dict[str, Any]:
    settings = company.settings
    return {
        "SalesFormsPrefs": {"CustomTxnNumbers": settings.custom_txn_numbers, "AllowDeposit": True},
        "CurrencyPrefs": {"HomeCurrency": {"value": settings.currency}, "MultiCurrencyEnabled": False},
        "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False,
    }  # fmt: skip


def _company_info(company: Company) -> dict[str, Any]:
    return {
        "CompanyName": company.name, "LegalName": company.name, "Country": company.settings.country,
        "Id": company.realm_id, "SyncToken": "0", "domain": "QBO", "sparse": False,
    }  # fmt: skip


def _fault(state: QuickBooksState, exc: errors.QBOError, tid: str, company: Company | None = None) -> Response:
    tz = company.tz if company is not None else state.timezone
    body = dumps({"Fault": exc.fault(), "time": envelope_time(state.controls.clock.now(), tz)})
    return Response(exc.status, body, JSON, {**exc.headers, "intuit_tid": tid})


def _throttled(state: QuickBooksState, tid: str) -> Response:
    now = state.controls.clock.now()
    if state.limits.throttle_body == "json":
        body = dumps({**errors.throttle_json(), "time": envelope_time(now, state.timezone)})
        return Response(429, body, JSON, {"intuit_tid": tid})
    xml = errors.THROTTLE_XML.format(time=envelope_time(now, state.timezone))
    return Response(429, xml.encode(), "application/xml", {"intuit_tid": tid})
