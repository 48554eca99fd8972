"""`/v1/webhook_endpoints`: register endpoints through the API as well as with the state helper.

The signing secret is returned only by create, as by Stripe. `connect=true` makes a Connect endpoint
(events of connected accounts); an endpoint created under a Stripe-Account header hears that account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import fixtures
from sandbox.stripe_sandbox.errors import invalid
from sandbox.stripe_sandbox.forms import Params, apply_metadata, check_allowed, get_bool, get_list, get_str
from sandbox.stripe_sandbox.listing import list_objects

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj
    from sandbox.stripe_sandbox.webhooks import WebhookEndpoint

_UPDATE = frozenset({"url", "enabled_events", "description", "metadata", "disabled"})


def _endpoint(op: Op, endpoint_id: str) -> tuple[Obj, WebhookEndpoint]:
    obj = op.part.require("webhook_endpoint", endpoint_id)
    return obj, next(e for e in op.st.webhooks.endpoints if e.id == endpoint_id)


def create(op: Op, params: Params) -> Obj:
    check_allowed(params, _UPDATE - {"disabled"} | {"connect", "api_version"})
    url = get_str(params, "url", need=True) or ""
    events = [str(e) for e in get_list(params, "enabled_events")]
    if not events:
        raise invalid("Missing required param: enabled_events.", param="enabled_events", code="parameter_missing")
    connect = get_bool(params, "connect")
    ep = op.st.webhooks.add_endpoint(
        url, events=events, connect=connect, account=None if op.part.is_platform else op.part.account_id
    )
    obj = fixtures.new("webhook_endpoint")
    obj.update(
        id=ep.id,
        url=url,
        enabled_events=events,
        created=op.now(),
        description=get_str(params, "description"),
        api_version=get_str(params, "api_version"),
        status="enabled",
        metadata={},
    )
    apply_metadata(obj, params)
    op.store("webhook_endpoint", obj)
    return {**obj, "secret": ep.secret}


def retrieve(op: Op, params: Params, endpoint_id: str) -> Obj:
    return _endpoint(op, endpoint_id)[0]


def update(op: Op, params: Params, endpoint_id: str) -> Obj:
    check_allowed(params, _UPDATE)
    obj, ep = _endpoint(op, endpoint_id)
    if url := get_str(params, "url"):
        obj["url"] = ep.url = url
    if "enabled_events" in params:
        obj["enabled_events"] = [str(e) for e in get_list(params, "enabled_events")]
        ep.enabled_events = tuple(obj["enabled_events"])
    if "description" in params:
        obj["description"] = get_str(params, "description")
    if "disabled" in params:
        ep.enabled = not get_bool(params, "disabled")
        obj["status"] = "enabled" if ep.enabled else "disabled"
    apply_metadata(obj, params)
    return obj


def delete(op: Op, params: Params, endpoint_id: str) -> Obj:
    obj, ep = _endpoint(op, endpoint_id)
    op.st.webhooks.endpoints.remove(ep)
    obj["deleted"] = True
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def list_endpoints(op: Op, params: Params) -> Obj:
    return list_objects(op, "webhook_endpoint", params, "/v1/webhook_endpoints")
