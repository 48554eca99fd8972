"""QuickBooks sandbox: webhook events from writes, both payload shapes, intuit-signature, delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from sandbox.common import Receive, Scope, Send
from sandbox.quickbooks.testing import Connected, connected

TOKEN = "verifier-token-for-tests"


def expected_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(TOKEN.encode(), body, hashlib.sha256).digest()).decode()


class Receiver:
    """A webhook endpoint as production code would write one: verify the raw body, then answer."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.bodies, self.verified = status, [], []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.bodies.append(body)
        self.verified.append(hmac.compare_digest(headers[b"intuit-signature"].decode(), expected_signature(body)))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def q() -> Connected:
    qbo = connected()
    qbo.state.webhook_verifier_token = TOKEN
    return qbo


async def write_things(q: Connected) -> tuple[str, str]:
    customer = q.company.add_customer("Acme")  # seeding: no event
    line = [{"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]
    async with q.client() as http:
        invoice = await http.post(q.path("invoice"), json={"CustomerRef": {"value": customer["Id"]}, "Line": line})
        invoice_id = invoice.json()["Invoice"]["Id"]
        await http.post(q.path("invoice", operation="void"), json={"Id": invoice_id, "SyncToken": "0"})
        await http.post(q.path("invoice", operation="delete"), json={"Id": invoice_id, "SyncToken": "1"})
    return customer["Id"], invoice_id


async def test_legacy_shape_and_signature(q: Connected) -> None:
    _, invoice_id = await write_things(q)
    [(body, headers)] = q.state.webhook_requests("legacy")
    assert headers["intuit-signature"] == expected_signature(body)
    payload = json.loads(body)
    [notification] = payload["eventNotifications"]
    assert notification["realmId"] == q.realm
    entities = notification["dataChangeEvent"]["entities"]
    assert [(e["name"], e["id"], e["operation"]) for e in entities] == [
        ("Invoice", invoice_id, "Create"), ("Invoice", invoice_id, "Void"), ("Invoice", invoice_id, "Delete")]  # fmt: skip
    assert entities[0]["lastUpdated"].endswith("Z")


async def test_cloudevents_shape_spans_companies(q: Connected) -> None:
    await write_things(q)
    other = q.state.add_company()
    other.add_customer("Elsewhere", emit=True)
    [(body, headers)] = q.state.webhook_requests("cloudevents")
    events = json.loads(body)
    assert headers["intuit-signature"] == expected_signature(body)
    assert isinstance(events, list) and len(events) == 4
    first = events[0]
    assert first["specversion"] == "1.0" and first["type"] == "qbo.invoice.created.v1"
    assert first["intuitaccountid"] == q.realm and first["datacontenttype"] == "application/json"
    assert first["source"].startswith("intuit.") and first["data"] == {}
    assert [e["type"] for e in events[1:]] == ["qbo.invoice.void.v1", "qbo.invoice.deleted.v1",
                                               "qbo.customer.created.v1"]  # fmt: skip
    assert events[-1]["intuitaccountid"] == other.realm_id
    assert len({e["id"] for e in events}) == 4


async def test_payment_touches_the_invoice_in_events(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    invoice = q.company.add_invoice(customer["Id"], 50)
    q.company.add_payment(customer["Id"], {invoice["Id"]: 50}, emit=True)
    ops = [(e.entity, e.operation) for e in q.state.pending_events()]
    assert ops == [("Invoice", "Update"), ("Payment", "Create")]


async def test_delivery_in_process_and_retry_on_failure(q: Connected) -> None:
    await write_things(q)
    failing = Receiver(status=500)
    responses = await q.state.deliver_webhooks("https://arbridge.test/webhooks/quickbooks",
                                               transport=httpx.ASGITransport(app=failing))  # fmt: skip
    assert [r.status_code for r in responses] == [500] and failing.verified == [True]
    assert len(q.state.pending_events()) == 3  # still queued for the next attempt
    receiver = Receiver()
    await q.state.deliver_webhooks("https://arbridge.test/webhooks/quickbooks", shape="cloudevents",
                                   transport=httpx.ASGITransport(app=receiver))  # fmt: skip
    assert receiver.verified == [True] and len(json.loads(receiver.bodies[0])) == 3
    assert q.state.pending_events() == []


async def test_a_tampered_body_fails_verification(q: Connected) -> None:
    await write_things(q)
    [(body, headers)] = q.state.webhook_requests("legacy")
    tampered = body.replace(b"Create", b"Update")
    assert headers["intuit-signature"] != expected_signature(tampered)
    q.state.webhook_verifier_token = "another-token"
    [(_, resigned)] = q.state.webhook_requests("legacy")
    assert resigned["intuit-signature"] != headers["intuit-signature"]
