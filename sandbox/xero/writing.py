"""PUT/POST: body parsing, batches and summarizeErrors, Idempotency-Key replay.

Bodies are `{"Invoices": [...]}` (the key matched case-insensitively) or one bare object; unreadable JSON is
400 `PostDataInvalidException` (ErrorNumber 14) [S]. With `summarizeErrors=true` (Xero's default) a batch with
any invalid item is refused whole: 400 `ValidationException` (ErrorNumber 10) listing the failed items, each
echoed with its `ValidationErrors`, and nothing is saved [U - all-or-nothing is the safe reading: a client
that retries the whole batch then cannot duplicate]. With `summarizeErrors=false` the answer is 200 and every
item comes back, failed ones with `StatusAttributeString: "ERROR"`, their flag (`HasErrors` on invoices,
`HasValidationErrors` on payments and contacts) and `ValidationErrors`; the valid ones are saved.

Idempotency-Key (<= 128 characters) [V spec]: per tenant and app, the first 200 or 400 answer to a key is
stored with a fingerprint of the request (method, path, query, body) and replayed byte for byte to a retry
(retries still count against the rate limits [S]). Reusing a key for a different request is refused with a
400 ValidationException [U - Xero does not document this case]. Keys are kept for 24 hours [U].
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from .context import NotFound, Outcome, WriteContext
from .formats import CENT, decode_json, lower_keys
from .http import JSON, Request, Response, json_response, text_response
from .listing import NOT_FOUND, envelope
from .models import Organisation, StoredResponse
from .resources import Resource, Writer
from .webhooks import queue_events

if TYPE_CHECKING:
    from .state import XeroState


def validation_error(elements: list[dict[str, Any]]) -> Response:
    doc = {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred"}
    return json_response(400, {**doc, "Elements": elements})


def _echo(res: Resource, original: Any, errors: list[str]) -> dict[str, Any]:
    doc = dict(original) if isinstance(original, dict) else {}
    if res.error_flag:
        doc[res.error_flag] = True
    doc["StatusAttributeString"] = "ERROR"
    doc["ValidationErrors"] = [{"Message": m} for m in errors]
    return doc


def _ok(doc: dict[str, Any] | None) -> dict[str, Any]:
    return {**(doc or {}), "StatusAttributeString": "OK"}


def _items(res: Resource, body: bytes) -> list[Any] | None:
    try:
        raw = decode_json(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(raw, dict) and not res.single_body:
        for key, value in raw.items():
            if key.lower() == res.key.lower():
                return value if isinstance(value, list) else None
        return [raw]
    return [raw] if isinstance(raw, dict) else None


def run_write(
    state: XeroState, res: Resource, writer: Writer, org: Organisation, req: Request, *, provider: str,
    path_id: UUID | None, create_only: bool,
) -> Response:  # fmt: skip
    items = _items(res, req.body)
    if items is None:
        doc = {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": "JSON request body could not be read"}
        return json_response(400, doc)
    summarize = (req.param("summarizeErrors") or "true").lower() != "false"
    places = Decimal("0.0001") if req.param("unitdp") == "4" else CENT
    ctx = WriteContext(org, state.now(), state.new_id, places)
    saved = org.snapshot() if summarize and len(items) > 1 else None  # rules only change state on success
    results: list[tuple[Any, Outcome]] = []
    try:
        for original in items:
            if not isinstance(original, dict):
                results.append((original, Outcome(None, ["Each item must be a JSON object"])))  # [U]
                continue
            item = lower_keys(original)
            results.append((original, writer(ctx, item, path_id=path_id, create_only=create_only)))
    except NotFound:
        if saved is not None:
            org.restore(saved)
        return text_response(404, NOT_FOUND)
    failures = [(o, r) for o, r in results if r.errors]
    if failures and summarize:
        if saved is not None:
            org.restore(saved)
        return validation_error([_echo(res, o, r.errors) for o, r in failures])
    docs = [_echo(res, o, r.errors) if r.errors else _ok(r.doc) for o, r in results]
    queue_events(state, org.tenant_id, ctx.events)
    return json_response(200, envelope(state, provider, res.key, docs))


def _fingerprint(req: Request) -> str:
    digest = hashlib.sha256()
    for part in (req.method, req.path.lower(), req.query_string):
        digest.update(part.encode() + b"\0")
    digest.update(req.body)
    return digest.hexdigest()


def idempotent(state: XeroState, org: Organisation, client_id: str, req: Request, run: Any) -> Response:
    """Run the write once per Idempotency-Key; replay its stored answer to retries."""
    key = req.header("idempotency-key")
    if key is None:
        return run()  # type: ignore[no-any-return]
    if not key.strip() or len(key) > 128:
        return validation_error([{"ValidationErrors": [{"Message": "Idempotency-Key must be 1 to 128 characters"}]}])
    now, slot = state.now(), (client_id, key)
    stored = org.idempotency.get(slot)
    if stored is not None and now - stored.stored_at >= state.config.idempotency_ttl:
        stored = None
    fingerprint = _fingerprint(req)
    if stored is not None:
        if stored.fingerprint != fingerprint:
            message = "This Idempotency-Key has already been used for a different request"  # [U]
            return validation_error([{"ValidationErrors": [{"Message": message}]}])
        return Response(stored.status, stored.body, JSON)
    answer: Response = run()
    if answer.status in (200, 400):
        org.idempotency[slot] = StoredResponse(fingerprint, answer.status, answer.body, now)
    return answer
