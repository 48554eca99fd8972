"""Idempotency-Key on POSTs: the first response is stored and replayed; a reused key with another body is refused.

The key row, the work and the stored response share one transaction: a crash leaves no key behind (the
retry runs the work), and a concurrent twin blocks on the key until the first commits, then replays it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Request, Response

from adapters.db.idempotency import SqlIdempotencyKeys
from adapters.db.uow import SqlUnitOfWork
from api.rest.problems import Problem
from api.rest.security import services_of

MAX_KEY_LENGTH = 255


def required_key(key: str | None, what: str) -> str:
    """For a POST that moves money: the Idempotency-Key is not optional (`what`: "charge", "refund")."""
    if key is None:
        raise Problem(
            400, "idempotency_key_required", f"Send an Idempotency-Key header: retries with it never {what} twice."
        )
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise Problem(400, "validation_failed", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
    return key


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted") if body else b""
    except msgspec.DecodeError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


async def respond_once(
    request: Request[Any, Any, Any],
    uow: SqlUnitOfWork,
    work: Callable[[], Awaitable[Any]],
    status_code: int = 201,
) -> Response[bytes]:
    """Run `work` (a use case returning a response Struct) and commit, at most once per Idempotency-Key."""
    key = request.headers.get("idempotency-key")
    if key is None:
        body = msgspec.json.encode(await work())
        await uow.commit()
        return Response(body, status_code=status_code, media_type="application/json")
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise Problem(400, "validation_failed", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")

    services = services_of(request.app.state)
    store = SqlIdempotencyKeys(uow.conn, uow.tenant_id)
    fingerprint = request_fingerprint(request.method, request.url.path, await request.body())
    ttl = timedelta(seconds=services.settings.idempotency_ttl_seconds)
    key_id = await store.claim(key, request.method, request.url.path, fingerprint, services.clock.now(), ttl)
    if key_id is None:
        stored = await store.stored(key)
        if stored is None:  # expired and purged between our two statements: ask for a retry
            raise Problem(409, "idempotency_key_in_use", "The key changed hands; retry the request.")
        if stored.request_hash != fingerprint:
            raise Problem(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=stored.content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    body = msgspec.json.encode(await work())
    await store.complete(key_id, status_code, body, "application/json")
    await uow.commit()
    return Response(body, status_code=status_code, media_type="application/json")
