"""The HaloPSA sandbox as a plain ASGI app: the token endpoint plus `/api/{Invoice,Client,ClientContract,
InvoicePayment}`, behind the shared fault injection and request log (`wrap_asgi`).

Plain ASGI rather than a framework, so every status, header and body is the vendor's and none is a
framework's own error JSON. Handlers are synchronous: all state is in memory and a request never waits.
Routes match case-insensitively, as ASP.NET's do.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qsl

import httpx
import msgspec

from sandbox.common import ASGIApp, Receive, Scope, Send, wrap_asgi
from sandbox.halopsa import auth
from sandbox.halopsa.core import HaloCore
from sandbox.halopsa.errors import HaloError, OAuthError
from sandbox.halopsa.listing import Query, Resource, list_records
from sandbox.halopsa.resources import RESOURCES
from sandbox.halopsa.writes import DELETE, UPSERT

_JSON_TYPES = ("application/json", "text/json", "application/json-patch+json")
_TOKEN_PATHS = ("/auth/token", "/token")
Reply = tuple[int, Any, dict[str, str]]  # status, JSON-able body (None: empty), headers


def _json(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _check_rate(state: HaloCore) -> None:
    """Sliding window over the sandbox clock; off unless `limits.rate_limit` is set."""
    limit = state.limits.rate_limit
    if limit is None:
        return
    now, window = state.controls.clock.timestamp(), state.limits.rate_window_seconds
    hits = state.rate_hits
    while hits and hits[0] <= now - window:
        hits.popleft()
    if len(hits) >= limit:
        wait = max(1, math.ceil(hits[0] + window - now))
        headers = {"Retry-After": str(wait)} if state.limits.send_retry_after else {}
        raise HaloError(429, "Rate limit exceeded.", headers=headers)
    hits.append(now)


def _parse_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise HaloError(404) from None  # the {id:int} route does not match


def _body_array(headers: dict[str, str], body: bytes) -> list[dict[str, Any]]:
    """POST bodies are arrays of records (the swagger's requestBody is `type: array`); an object fails binding."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _JSON_TYPES:
        raise HaloError(415)
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise HaloError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise HaloError(400, "The JSON value could not be converted to a list of records. Path: $")
    if not data:
        raise HaloError(400, "No records were supplied.")
    return data


def _resource_call(
    state: HaloCore, method: str, parts: list[str], raw_query: str, headers: dict[str, str], body: bytes
) -> Reply:
    resource: Resource | None = RESOURCES.get(parts[1].lower())
    if resource is None or len(parts) > 3:
        raise HaloError(404)
    _check_rate(state)
    issued = auth.authenticate(state, headers)
    query = Query(raw_query)
    if len(parts) == 2 and method == "GET":
        auth.require_scope(issued, resource.read_scope)
        return 200, list_records(state, resource, query), {}
    if len(parts) == 2 and method == "POST":
        auth.require_scope(issued, resource.edit_scope)
        # Elements are saved in order; one failing leaves the earlier ones saved [U: Halo's batch semantics].
        saved = [UPSERT[resource.name](state, item) for item in _body_array(headers, body)]
        # The saved record comes back in full (lines included); one record posted → one object back [U].
        detail = Query("includedetails=true&includelines=true")
        shown = [resource.render_one(state, row, detail) for row in saved]
        return 200, shown[0] if len(shown) == 1 else shown, {}
    if len(parts) == 3 and method in ("GET", "DELETE"):
        row_id = _parse_id(parts[2])
        if method == "GET":
            auth.require_scope(issued, resource.read_scope)
            row = resource.store(state).get(row_id)
            if row is None:
                raise HaloError(404, f"{resource.name} {row_id} not found.")
            return 200, resource.render_one(state, row, query), {}
        auth.require_scope(issued, resource.edit_scope)
        DELETE[resource.name](state, row_id)
        return 200, None, {}
    raise HaloError(405)


def _route(state: HaloCore, scope: Scope, body: bytes) -> Reply:
    method, path = scope["method"], scope["path"].rstrip("/") or "/"
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    raw_query = scope.get("query_string", b"").decode()
    if path.lower() in _TOKEN_PATHS:
        if method != "POST":
            raise HaloError(405)
        query = dict(parse_qsl(raw_query))
        return 200, auth.issue_token(state, query, headers, body), {"Cache-Control": "no-store", "Pragma": "no-cache"}
    parts = path.strip("/").split("/")
    if parts[0].lower() == "api" and len(parts) >= 2:
        return _resource_call(state, method, parts, raw_query, headers, body)
    raise HaloError(404)


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, status: int, payload: bytes, content_type: str | None, headers: dict[str, str]) -> None:
    raw = [(b"content-length", str(len(payload)).encode())]
    if content_type:
        raw.append((b"content-type", content_type.encode()))
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def create_app(state: HaloCore) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = await _read(receive)
        try:
            status, value, headers = _route(state, scope, body)
        except OAuthError as exc:
            await _send(send, exc.status, _json(exc.body), "application/json", {"Cache-Control": "no-store"})
            return
        except HaloError as exc:
            text = exc.message.encode()
            await _send(send, exc.status, text, "text/plain; charset=utf-8" if text else None, exc.headers)
            return
        payload = b"" if value is None else _json(value)
        await _send(send, status, payload, "application/json; charset=utf-8" if payload else None, headers)

    return wrap_asgi(app, state.controls)


def asgi_client(state: HaloCore, base_url: str = "https://sandbox.halopsa.test", **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client wired in-process to a fresh app over `state` (tests, benchmarks, adapters' tests)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url=base_url, **kwargs)


def bearer_client(state: HaloCore, scopes: str = "all", **kwargs: Any) -> httpx.AsyncClient:
    """`asgi_client` already holding a valid token for a new API application with `scopes` (skips the
    token endpoint; use it when the test is about something else)."""
    issued = state.issue_token(state.add_application(scopes))
    return asgi_client(state, headers={"Authorization": f"Bearer {issued.token}"}, **kwargs)
