"""The ASGI app: Stripe's edge in front of the handlers.

Per request, in Stripe's order: Request-Id; auth (Bearer or Basic secret key, 401 otherwise); the
`Stripe-Account` partition (403 for an account the key cannot act for); the rate limit (429); due
scheduled work; routing (404 "Unrecognized request URL"); then, for a POST with an Idempotency-Key, replay
or mismatch before executing, and storing the result after. Handlers run synchronously under the state
lock: each request is atomic, and nothing in it awaits.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sandbox.common import ASGIApp, Receive, Scope, Send, wrap_asgi
from sandbox.stripe_sandbox import oauth
from sandbox.stripe_sandbox.context import Op
from sandbox.stripe_sandbox.errors import StripeError, invalid
from sandbox.stripe_sandbox.expand import expand
from sandbox.stripe_sandbox.forms import decode_pairs, fingerprint, get_list, parse_pairs
from sandbox.stripe_sandbox.http import Request, Response
from sandbox.stripe_sandbox.idempotency import MAX_KEY_LENGTH, StoredResponse
from sandbox.stripe_sandbox.routes import match
from sandbox.stripe_sandbox.state import StripeState
from sandbox.stripe_sandbox.store import Partition

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using "
    "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
    "for details, or we can help at https://support.stripe.com/."
)
_OAUTH = {
    ("GET", "/oauth/authorize"): oauth.authorize_page,
    ("POST", "/oauth/authorize/decision"): oauth.decision,
    ("POST", "/oauth/token"): oauth.token,
    ("POST", "/oauth/deauthorize"): oauth.deauthorize,
}


def _masked(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:]


def _authenticate(st: StripeState, req: Request) -> Partition:
    key = req.api_key()
    if not key:
        raise StripeError(401, "invalid_request_error", _NO_KEY, headers={"www-authenticate": 'Bearer realm="Stripe"'})
    is_token, account = st.oauth.account_for(key)
    if is_token:
        if account is None or account not in st.connected:
            raise StripeError(401, "invalid_request_error", f"Expired API Key provided: {_masked(key)}")
        return st.partition(account)
    valid = key in st.api_keys if st.api_keys else key.startswith(("sk_test_", "rk_test_"))
    if not valid:
        raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {_masked(key)}")
    return st.platform


def _act_as(st: StripeState, own: Partition, header: str | None) -> Partition:
    if not header or header == own.account_id:
        return own
    if own.is_platform and header in st.connected:
        return st.partition(header)
    raise StripeError(
        403,
        "invalid_request_error",
        f"The provided key does not have access to account '{header}' (or that account does not exist). "
        "Application access may have been revoked.",
        code="account_invalid",
    )


def _execute(op: Op, req: Request, pairs: list[tuple[str, str]]) -> tuple[int, bytes, bool]:
    """(status, body, saved): run the handler and render its result or its error."""
    try:
        found = match(req.method, req.path)
        if found is None:
            raise invalid(
                f"Unrecognized request URL ({req.method}: {req.path}). Please see https://stripe.com/docs or we "
                "can help at https://support.stripe.com/.",
                status=404,
            )
        handler, ids = found
        params = parse_pairs(pairs)
        if op.st.take_execution_fault(req.method, req.path):
            raise StripeError(500, "api_error", "An unknown error occurred", saved=True)
        result = handler(op, params, *ids)
        paths = get_list(params, "expand")
        if paths:
            result = expand(op.part, result, paths)
        return 200, msgspec.json.encode(result), True
    except StripeError as err:
        return err.status, msgspec.json.encode(err.body(op.request_id)), err.saved


def handle(st: StripeState, req: Request) -> Response:
    request_id = st.new_id("req", 14)
    headers = {"request-id": request_id, "cache-control": "no-cache, no-store"}
    try:
        if req.path.startswith("/oauth/"):
            route = _OAUTH.get((req.method, req.path))
            resp = (
                route(st, req)
                if route
                else Response.json(404, {"error": "invalid_request", "error_description": "Not found"})
            )
            resp.headers.update(headers)
            return resp
        own = _authenticate(st, req)
        part = _act_as(st, own, req.headers.get("stripe-account"))
        version = req.headers.get("stripe-version") or st.api_version
        headers["stripe-version"] = version
        if not part.is_platform:
            headers["stripe-account"] = part.account_id
        now = st.controls.clock.timestamp()
        if not st.rate_limits.allow(part.account_id, now):
            raise StripeError(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            )
        st.tick()
        raw = req.body if req.method == "POST" else req.query.encode()
        pairs = decode_pairs(raw)
        key = req.headers.get("idempotency-key") if req.method == "POST" else None
        op = Op(st, part, request_id, key, version)
        if key is None:
            status, body, _ = _execute(op, req, pairs)
            return Response(status, body, headers)
        headers["idempotency-key"] = key
        return _idempotent(st, op, req, pairs, key, headers)
    except StripeError as err:
        headers.update(err.headers)
        return Response(err.status, msgspec.json.encode(err.body(request_id)), headers)


def _idempotent(
    st: StripeState, op: Op, req: Request, pairs: list[tuple[str, str]], key: str, headers: dict[str, str]
) -> Response:
    if len(key) > MAX_KEY_LENGTH:
        raise invalid(f"Idempotency key is too long. It must be at most {MAX_KEY_LENGTH} characters.")
    now = st.controls.clock.timestamp()
    endpoint = f"{req.method} {req.path}"
    print_ = fingerprint(req.method, req.path, pairs)
    stored = st.idempotency.get(op.part.account_id, key, now)
    if stored is not None:
        if stored.endpoint != endpoint:
            raise StripeError(
                400,
                "idempotency_error",
                f"Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{stored.endpoint}' vs '{endpoint}'). Try using a key other than '{key}' if you meant to "
                "execute a different request.",
            )
        if stored.fingerprint != print_:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        headers.update({"idempotent-replayed": "true", "original-request": stored.request_id})
        return Response(stored.status, stored.body, headers)
    status, body, saved = _execute(op, req, pairs)
    if saved:
        assert op.request_id is not None
        st.idempotency.put(op.part.account_id, key, StoredResponse(endpoint, print_, status, body, op.request_id, now))
    return Response(status, body, headers)


def _request(scope: Scope, body: bytes) -> Request:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    return Request(scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body)


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


def create_app(state: StripeState) -> ASGIApp:
    """The sandbox as an ASGI app, behind the shared fault injection and request log."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        req = _request(scope, await _read(receive))
        with state.lock:
            resp = handle(state, req)
        raw: list[Any] = [
            (b"content-type", resp.content_type.encode()),
            (b"content-length", str(len(resp.body)).encode()),
        ]
        raw += [(k.encode(), v.encode()) for k, v in resp.headers.items()]
        await send({"type": "http.response.start", "status": resp.status, "headers": raw})
        await send({"type": "http.response.body", "body": resp.body})

    return wrap_asgi(app, state.controls)
