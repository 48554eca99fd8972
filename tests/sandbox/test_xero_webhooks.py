"""Xero sandbox: signed webhook deliveries and the Intent-to-Receive probe."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import re

import httpx

from sandbox.xero import intent_to_receive, sign
from sandbox.xero.testing import connected_sandbox

HOOK = "https://receiver.example.com/xero/webhooks"


def _receiver(key: str, *, status_ok: int = 200, body_ok: bytes = b"", delay: float = 0.0, check: bool = True):
    """A receiver that verifies x-xero-signature over the raw body, as production code must."""
    received: list[dict] = []

    async def app(scope, receive, send):
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        given = dict(scope["headers"]).get(b"x-xero-signature", b"").decode()
        expected = base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()
        good = hmac.compare_digest(given, expected) or not check
        if good:
            received.append(json.loads(raw))
        await asyncio.sleep(delay)
        status, body = (status_ok, body_ok) if good else (401, b"")
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-length", str(len(body)).encode())]}
        )
        await send({"type": "http.response.body", "body": body})

    return app, received


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"ABC"}'
    expected = base64.b64encode(hmac.new(b"my-key", body, hashlib.sha256).digest()).decode()
    assert sign("my-key", body) == expected
    assert sign("my-key", body + b" ") != expected


async def test_api_writes_queue_signed_events_for_connected_apps() -> None:
    xero = connected_sandbox()
    sub = xero.state.subscribe_webhooks(xero.app, HOOK)
    assert len(sub.key) == 88
    outsider = xero.state.register_app("not-connected")
    xero.state.subscribe_webhooks(outsider, HOOK + "/other")
    made = await xero.put("Invoices", {"Type": "ACCREC", "Contact": {"Name": "New Co"}, "Status": "AUTHORISED",
                                       "LineItems": [{"Description": "x", "UnitAmount": 10, "AccountCode": "200"}]})  # fmt: skip
    invoice_id = made.json()["Invoices"][0]["InvoiceID"]
    await xero.put("Payments", {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Amount": 10,
                                "Date": "2024-01-02"})  # fmt: skip
    receiver, received = _receiver(sub.key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)) as http:
        [delivery] = await xero.state.deliver_webhooks(http)
        assert await xero.state.deliver_webhooks(http) == []  # nothing left, and the outsider got nothing
    assert delivery.delivered and delivery.signature == sign(sub.key, delivery.body)
    [batch] = received
    kinds = [(e["eventCategory"], e["eventType"]) for e in batch["events"]]
    assert kinds == [("CONTACT", "CREATE"), ("INVOICE", "CREATE"), ("INVOICE", "UPDATE")]
    assert (batch["firstEventSequence"], batch["lastEventSequence"]) == (1, 3)
    assert re.fullmatch(r"[A-Z]{20}", batch["entropy"])
    event = batch["events"][1]
    assert event["resourceId"] == invoice_id and event["tenantId"] == str(xero.org.tenant_id)
    assert event["resourceUrl"] == f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}"
    assert event["tenantType"] == "ORGANISATION"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", event["eventDateUtc"])


async def test_failed_deliveries_are_retried_then_the_subscription_is_disabled() -> None:
    xero = connected_sandbox()
    sub = xero.state.subscribe_webhooks(xero.app, HOOK)
    await xero.put("Contacts", {"Name": "First"})
    wrong_key, _ = _receiver("not-the-key")  # verifies with the wrong key, so answers 401
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrong_key)) as http:
        [failed] = await xero.state.deliver_webhooks(http)
        assert not failed.delivered and failed.status == 401 and len(sub.queued) == 1
        xero.state.controls.clock.advance(hours=23)
        await xero.state.deliver_webhooks(http)
        assert not sub.disabled
        xero.state.controls.clock.advance(hours=1)
        await xero.state.deliver_webhooks(http)
        assert sub.disabled
    good, received = _receiver(sub.key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=good)) as http:
        assert await xero.state.deliver_webhooks(http) == [] and received == []


async def test_events_outlive_a_failure_and_are_delivered_later() -> None:
    xero = connected_sandbox()
    sub = xero.state.subscribe_webhooks(xero.app, HOOK, key="fixed-key", categories=["CONTACT"])
    await xero.put("Contacts", {"Name": "One"})
    xero.state.add_invoice(xero.org, xero.state.add_contact(xero.org, "Seeded"), "5.00")  # seeding is silent
    await xero.put("Invoices", {"Type": "ACCREC", "Contact": {"Name": "One"}})  # INVOICE is not subscribed
    broken, _ = _receiver(sub.key, status_ok=500)
    good, received = _receiver(sub.key)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broken)) as http:
        await xero.state.deliver_webhooks(http)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=good)) as http:
        [delivery] = await xero.state.deliver_webhooks(http)
    assert delivery.delivered and [e["eventCategory"] for e in received[0]["events"]] == ["CONTACT"]


async def _probe(app, key: str, **kw):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        return await intent_to_receive(http, HOOK, key, rng=random.Random(5), **kw)


async def test_intent_to_receive_passes_a_correct_receiver() -> None:
    app, received = _receiver("the-key")
    report = await _probe(app, "the-key", good=3, bad=3)
    assert report.passed and len(report.probes) == 6
    assert sorted(p.correctly_signed for p in report.probes) == [False] * 3 + [True] * 3
    assert all(p.status == (200 if p.correctly_signed else 401) for p in report.probes)
    assert all(b["events"] == [] and b["firstEventSequence"] == 0 for b in received)


async def test_intent_to_receive_fails_sloppy_receivers() -> None:
    accepts_all, _ = _receiver("the-key", check=False)
    assert not (await _probe(accepts_all, "the-key")).passed  # never answers 401
    chatty, _ = _receiver("the-key", body_ok=b"ok")
    assert not (await _probe(chatty, "the-key")).passed  # 200 must come with an empty body
    slow, _ = _receiver("the-key", delay=0.2)
    report = await _probe(slow, "the-key", good=1, bad=1, budget=0.1)
    assert not report.passed and all(not p.passed for p in report.probes)
