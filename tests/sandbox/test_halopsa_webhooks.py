"""HaloPSA sandbox: outbound webhooks with Basic or header auth (no HMAC), fired by API and MSP changes."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from sandbox.halopsa import EVENTS, HaloState, bearer_client

LINES = [{"item_shortdescription": "Managed services", "qty_order": 1, "unit_price": 100.0}]


class Receiver:
    """An in-process webhook endpoint that records what arrives and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    @property
    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def state() -> HaloState:
    s = HaloState()
    s.create_client("Acme Corp")
    return s


async def test_basic_auth_delivery_names_event_and_record(state: HaloState) -> None:
    hook = state.add_webhook("https://arbridge.test/hooks/halo", {"invoice_created"}, basic=("halo", "s3cret"))
    inv = state.create_invoice(1, lines=LINES)
    receiver = Receiver()
    sent = await state.webhooks.deliver_pending(receiver.transport)
    [(headers, body)] = receiver.received
    assert headers["authorization"] == "Basic " + base64.b64encode(b"halo:s3cret").decode()
    assert headers["content-type"] == "application/json"
    assert not any("signature" in h for h in headers)  # Halo does not sign outbound webhooks
    payload = json.loads(body)
    assert payload["event"] == "invoice_created" and payload["entity"] == "Invoice"
    assert payload["entity_id"] == inv["id"] and payload["webhook_id"] == hook.id and payload["id"]
    assert sent[0].responsestatus == 200 and not sent[0].error and state.webhooks.pending == []


async def test_header_auth_delivery(state: HaloState) -> None:
    state.add_webhook("https://arbridge.test/hooks/halo", {"invoice_updated"}, header=("X-Arbridge-Key", "k-123"))
    inv = state.create_invoice(1, lines=LINES)
    state.edit_invoice(inv["id"], duedate="2025-05-01")
    receiver = Receiver()
    await state.webhooks.deliver_pending(receiver.transport)
    [(headers, _)] = receiver.received  # the create is not subscribed
    assert headers["x-arbridge-key"] == "k-123" and "authorization" not in headers


async def test_msp_actions_and_api_writes_fire_the_subscribed_events(state: HaloState) -> None:
    state.add_webhook("https://arbridge.test/h", set(EVENTS), basic=("u", "p"))
    inv = state.create_invoice(1, lines=LINES)
    other = state.create_invoice(1, lines=LINES)
    state.record_payment(inv["id"], 40)
    state.void_invoice(other["id"])
    state.delete_invoice(other["id"])
    async with bearer_client(state) as http:
        r = await http.post("/api/Invoice", json=[{"id": inv["id"], "duedate": "2025-06-01"}])
        assert r.status_code == 200
    receiver = Receiver()
    await state.webhooks.deliver_pending(receiver.transport)
    events = [(p["event"], p["entity_id"]) for p in receiver.payloads()]
    assert events == [
        ("invoice_created", inv["id"]),
        ("invoice_created", other["id"]),
        ("invoice_updated", inv["id"]),  # the payment changes the invoice's amounts
        ("payment_created", 1),
        ("invoice_voided", other["id"]),
        ("invoice_deleted", other["id"]),
        ("invoice_updated", inv["id"]),  # the API write
    ]
    assert len({p["id"] for p in receiver.payloads()}) == len(events)


async def test_failed_delivery_is_logged_and_resend_repeats_the_same_event(state: HaloState) -> None:
    state.add_webhook("https://arbridge.test/h", {"client_updated"}, basic=("u", "p"))
    state.edit_client(1, accountsemailaddress="new@acme.test")
    down = Receiver(status=503)
    [failed] = await state.webhooks.deliver_pending(down.transport)
    assert failed.error and failed.responsestatus == 503 and state.webhooks.log == [failed]
    up = Receiver()
    retried = await state.webhooks.resend(failed, up.transport)
    assert not retried.error and up.received[0][1] == down.received[0][1]  # byte-identical, same event id


async def test_unreachable_endpoint_is_an_error_not_an_exception(state: HaloState) -> None:
    state.add_webhook("https://arbridge.test/h", {"client_updated"})

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    state.edit_client(1, name="Acme 2")
    [delivery] = await state.webhooks.deliver_pending(httpx.MockTransport(refuse))
    assert delivery.error and delivery.responsestatus is None and "refused" in delivery.responsebody


async def test_inactive_webhooks_and_unknown_events(state: HaloState) -> None:
    hook = state.add_webhook("https://arbridge.test/h", {"invoice_created"})
    hook.active = False
    state.create_invoice(1, lines=LINES)
    assert state.webhooks.pending == []
    with pytest.raises(ValueError, match="unknown webhook events"):
        state.add_webhook("https://arbridge.test/h", {"invoice_exploded"})
