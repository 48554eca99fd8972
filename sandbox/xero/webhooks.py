"""Webhooks as Xero sends them [V X-WH, xero-webhooks.yaml], and the Intent-to-Receive check.

Each app may have one subscription (URL, key, categories). Writes made through the API queue events for every
subscription whose app is connected to the tenant; `deliver` POSTs the queued events in one batch:
`{"events":[...], "firstEventSequence", "lastEventSequence", "entropy"}` with
`x-xero-signature = base64(HMAC-SHA256(key, raw body))`. A delivery counts only when the receiver answers 200
within 5 s; failed events stay queued and are retried on the next delivery, and a subscription still failing
24 h after its first failure is disabled, as Xero disables it.

Intent to Receive: before enabling a webhook Xero POSTs several empty batches (`events: []`, sequences 0),
some signed with the right key and some not; the endpoint passes only if it answers every good one with 200
and an empty body (no cookies) and every bad one with 401, each within 5 s. Those probe payloads are outside
the published schema (sequence 0 < minimum 1), exactly as Xero sends them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx

from .context import Event
from .formats import encode_json, event_time

if TYPE_CHECKING:
    from .state import XeroState

RESOURCE_PATH = {"INVOICE": "Invoices", "CONTACT": "Contacts"}


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def new_key(rng: random.Random) -> str:
    """Xero's webhook keys are 88-character base64 strings (64 random bytes)."""
    return base64.b64encode(rng.randbytes(64)).decode()


def entropy(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(20))


@dataclass
class WebhookSubscription:
    client_id: str
    url: str
    key: str
    categories: frozenset[str] = frozenset({"INVOICE", "CONTACT"})
    queued: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 0
    failing_since: datetime | None = None
    disabled: bool = False


@dataclass(frozen=True)
class Delivery:
    body: bytes
    signature: str
    status: int | None  # None: no answer in time (or the connection failed)
    delivered: bool


def queue_events(state: XeroState, tenant_id: UUID, events: list[Event]) -> None:
    clients = {c.client_id for c in state.identity.connections.values() if c.tenant_id == tenant_id}
    moment = event_time(state.now())
    for sub in state.webhook_subscriptions.values():
        if sub.client_id not in clients or sub.disabled:
            continue
        for category, kind, resource_id in dict.fromkeys(events):  # one event per change, in order
            if category in sub.categories:
                sub.sequence += 1
                sub.queued.append({
                    "resourceUrl": f"https://api.xero.com/api.xro/2.0/{RESOURCE_PATH[category]}/{resource_id}",
                    "resourceId": str(resource_id), "tenantId": str(tenant_id), "tenantType": "ORGANISATION",
                    "eventCategory": category, "eventType": kind, "eventDateUtc": moment, "_sequence": sub.sequence,
                })  # fmt: skip


def payload(events: list[dict[str, Any]], first: int, last: int, noise: str) -> bytes:
    clean = [{k: v for k, v in e.items() if k != "_sequence"} for e in events]
    doc = {"events": clean, "firstEventSequence": first, "lastEventSequence": last, "entropy": noise}
    return encode_json(doc)


async def deliver(state: XeroState, sub: WebhookSubscription, http: httpx.AsyncClient) -> Delivery | None:
    """POST what is queued for `sub` (up to the configured batch size); None when there is nothing to send."""
    if sub.disabled or not sub.queued:
        return None
    batch = sub.queued[: state.config.webhook_batch_size]
    body = payload(batch, batch[0]["_sequence"], batch[-1]["_sequence"], entropy(state.rng))
    signature = sign(sub.key, body)
    headers = {"content-type": "application/json", "x-xero-signature": signature}
    try:
        answer = await http.post(sub.url, content=body, headers=headers, timeout=state.config.webhook_timeout)
        status: int | None = answer.status_code
    except httpx.HTTPError:
        status = None
    if status == 200:
        del sub.queued[: len(batch)]
        sub.failing_since = None
    else:
        sub.failing_since = sub.failing_since or state.now()
        sub.disabled = state.now() - sub.failing_since >= timedelta(hours=24)
    return Delivery(body, signature, status, status == 200)


@dataclass(frozen=True)
class ProbeResult:
    correctly_signed: bool
    status: int | None
    body: bytes
    seconds: float
    passed: bool


@dataclass(frozen=True)
class IntentToReceiveReport:
    probes: list[ProbeResult]

    @property
    def passed(self) -> bool:
        return bool(self.probes) and all(p.passed for p in self.probes)


async def intent_to_receive(
    http: httpx.AsyncClient, url: str, key: str, *, rng: random.Random, good: int = 2, bad: int = 2,
    budget: float = 5.0,
) -> IntentToReceiveReport:  # fmt: skip
    """Xero's Intent-to-Receive probe: `good` correctly signed and `bad` wrongly signed empty batches, in a
    shuffled order. Timing is wall-clock: the receiver's 5 s budget is real time, not the sandbox clock."""
    order = [True] * good + [False] * bad
    rng.shuffle(order)
    probes = []
    for correct in order:
        body = payload([], 0, 0, entropy(rng))
        signature = sign(key if correct else new_key(rng), body)
        started, status, answer_body, cookies = time.monotonic(), None, b"", False
        try:
            answer = await http.post(
                url, content=body, headers={"content-type": "application/json", "x-xero-signature": signature},
                timeout=budget,
            )  # fmt: skip
            status, answer_body, cookies = answer.status_code, answer.content, "set-cookie" in answer.headers
        except httpx.HTTPError:
            pass
        seconds = time.monotonic() - started
        ok = status == 200 and answer_body == b"" and not cookies if correct else status == 401
        probes.append(ProbeResult(correct, status, answer_body, seconds, ok and seconds <= budget))
    return IntentToReceiveReport(probes)
