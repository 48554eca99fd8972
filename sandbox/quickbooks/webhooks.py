"""Webhook notifications, signed and shaped exactly as Intuit sends them (Q-WH).

Signature: header `intuit-signature` = base64(HMAC-SHA256(key=verifier token, msg=raw body)). Two shapes:

- legacy: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated"}]}}]}`, one delivery per company (Intuit's docs: the envelope can hold several
  realms but is only ever sent with one);
- CloudEvents (mandatory from 2026): a JSON array of `{"specversion": "1.0", "id", "source",
  "type": "qbo.invoice.created.v1", "datacontenttype", "time", "intuitentityid", "intuitaccountid", "data"}`;
  one delivery may span companies. The verbs are created/updated/deleted/merged [V for created] and `void`
  for voids [S: a public integration checked against Intuit's subscription page; U otherwise].

Every write queues an event on its company; `deliver` sends what is queued and drops it once the receiver
answered 2xx (Intuit retries failed deliveries, so anything else stays queued for the next call).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC
from typing import Any

import httpx

from sandbox.quickbooks.store import ChangeEvent, Company

CLOUD_VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged", "Void": "void"}
SHAPES = ("legacy", "cloudevents")


def sign(body: bytes, verifier_token: str) -> str:
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


def _utc(event: ChangeEvent, digits: str = "milliseconds") -> str:
    return event.at.astimezone(UTC).isoformat(timespec=digits).replace("+00:00", "Z")


def legacy_body(realm_id: str, events: list[ChangeEvent]) -> dict[str, Any]:
    entities = [{"name": e.entity, "id": e.id, "operation": e.operation, "lastUpdated": _utc(e)} for e in events]
    return {"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]}


def cloudevents_body(batch: list[tuple[str, ChangeEvent]], source: str) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": event.event_id,
            "source": source,
            "type": f"qbo.{event.entity.lower()}.{CLOUD_VERBS[event.operation]}.v1",
            "datacontenttype": "application/json",
            "time": _utc(event, "microseconds"),
            "intuitentityid": event.id,
            "intuitaccountid": realm_id,
            "data": {},
        }
        for realm_id, event in batch
    ]


def source_for(client_id: str) -> str:
    """An opaque, stable per-app source like Intuit's `intuit.<base64>`."""
    return "intuit." + base64.b64encode(hashlib.sha256(client_id.encode()).digest()).decode()


def build(
    companies: list[Company], shape: str, verifier_token: str, source: str
) -> list[tuple[bytes, dict[str, str], list[tuple[Company, ChangeEvent]]]]:
    """The deliveries for what is queued: (raw body, headers, the events it carries)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    groups: list[list[tuple[Company, ChangeEvent]]]
    if shape == "legacy":
        groups = [[(c, e) for e in c.events] for c in companies if c.events]
    else:
        everything = sorted(((c, e) for c in companies for e in c.events), key=lambda pair: pair[1].at)
        groups = [everything] if everything else []
    out = []
    for group in groups:
        if shape == "legacy":
            payload: Any = legacy_body(group[0][0].realm_id, [e for _, e in group])
        else:
            payload = cloudevents_body([(c.realm_id, e) for c, e in group], source)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", "intuit-signature": sign(body, verifier_token)}
        out.append((body, headers, group))
    return out


async def deliver(
    companies: list[Company],
    url: str,
    shape: str,
    verifier_token: str,
    source: str,
    transport: httpx.AsyncBaseTransport | None = None,
    wait_seconds: float = 10.0,
) -> list[httpx.Response]:
    responses = []
    async with httpx.AsyncClient(transport=transport, timeout=wait_seconds) as client:
        for body, headers, group in build(companies, shape, verifier_token, source):
            response = await client.post(url, content=body, headers=headers)
            responses.append(response)
            if response.is_success:
                for company, event in group:
                    company.events.remove(event)
    return responses
