"""Events: every state change records one, shaped like the fixture, in the account it happened in.

`data.object` is a snapshot, so it is stored as already-encoded JSON (`msgspec.Raw`): taking the snapshot
is a single encode, and a later change to the live object cannot leak into an old event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from sandbox.stripe_sandbox import fixtures
from sandbox.stripe_sandbox.forms import Params, get_list, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj


def record(op: Op, type_: str, obj: Obj, previous: dict[str, Any] | None = None) -> Obj:
    evt = fixtures.new("event")
    data: dict[str, Any] = {"object": msgspec.Raw(msgspec.json.encode(obj))}
    if previous:
        data["previous_attributes"] = previous
    evt["id"] = op.new_id("evt")
    evt["created"] = op.now()
    evt["type"] = type_
    evt["data"] = data
    evt["api_version"] = op.st.api_version  # events render in the account's version, not the request's
    evt["request"] = {"id": op.request_id, "idempotency_key": op.idempotency_key}
    if not op.part.is_platform:
        evt["account"] = op.part.account_id  # Connect events name the connected account
    evt["pending_webhooks"] = op.st.webhooks.enqueue(op.part, evt)
    op.part.table("event").add(evt)
    return evt


def to_dict(evt: Obj) -> Obj:
    """A plain-JSON copy of a stored event (decodes the snapshot), for tests and the webhook sender."""
    out: Obj = msgspec.json.decode(msgspec.json.encode(evt))
    return out


def _type_matcher(pattern: str) -> Any:
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda t: t.startswith(prefix)
    return lambda t: t == pattern


def list_events(op: Op, params: Params) -> Obj:
    matchers = [_type_matcher(p) for p in get_list(params, "types")]
    single = get_str(params, "type")
    if single:
        matchers.append(_type_matcher(single))
    rest = {k: v for k, v in params.items() if k not in ("type", "types", "delivery_success")}

    def keep(evt: Obj) -> bool:
        return not matchers or any(m(evt["type"]) for m in matchers)

    return list_objects(op, "event", rest, "/v1/events", keep=keep)


def retrieve_event(op: Op, params: Params, event_id: str) -> Obj:
    return op.part.require("event", event_id)
