"""Outbound webhooks as Halo sends them: a JSON POST authenticated with Basic or a custom header, no HMAC.

Halo documents no signature on outbound webhooks (its `algorithm`/`digest`/`signature_prefix` fields belong
to *inbound* verification) [U providers.md §1 "Webhooks"]; a receiver authenticates the sender by the
shared secret in Basic auth or a header, then re-fetches the record by id. So the payload is deliberately
thin: which event, which record [U: Halo's exact payload shape is not documented; ours names the event,
the entity and its id, with an event id a receiver can de-duplicate on].

Writes enqueue events synchronously (the MSP helpers are plain methods); `deliver_pending` sends them with
httpx, so a test can deliver in-process through an `httpx.ASGITransport`. Each attempt is logged in the
shape of Halo's `/WebhookEvent` delivery log.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.common import Clock
from sandbox.halopsa.fields import format_datetime

EVENTS = frozenset(
    f"{entity}_{verb}"
    for entity in ("invoice", "client", "contract", "payment")
    for verb in ("created", "updated", "deleted")
) | {"invoice_voided"}


@dataclass
class WebhookConfig:
    """One row of Halo's `/Webhook` config: where to send which events, and how to authenticate."""

    url: str
    events: frozenset[str]
    basic_username: str | None = None
    basic_password: str | None = None
    header_name: str | None = None  # Halo's "authentication_header" style: a fixed header and value
    header_value: str | None = None
    name: str = "arbridge"
    active: bool = True
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def auth_headers(self) -> dict[str, str]:
        if self.basic_username is not None:
            pair = f"{self.basic_username}:{self.basic_password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if self.header_name and self.header_value is not None:
            return {self.header_name: self.header_value}
        return {}


@dataclass
class Delivery:
    """A queued or attempted delivery; fields echo Halo's WebhookEvent (requestbody, responsestatus, ...)."""

    id: str
    webhook: WebhookConfig
    event: str
    entity_id: int
    requestbody: bytes
    timestamp: str
    responsestatus: int | None = None
    responsebody: str = ""
    error: bool = False
    requestheaders: dict[str, str] = field(default_factory=dict)


class WebhookHub:
    def __init__(self, clock: Clock, *, naive: bool = False) -> None:
        self._clock = clock
        self._naive = naive
        self.configs: list[WebhookConfig] = []
        self.pending: list[Delivery] = []
        self.log: list[Delivery] = []

    def add(self, config: WebhookConfig) -> WebhookConfig:
        unknown = config.events - EVENTS
        if unknown:
            raise ValueError(f"unknown webhook events: {sorted(unknown)}")
        self.configs.append(config)
        return config

    def emit(self, event: str, entity: str, entity_id: int) -> None:
        """Queue one delivery per active webhook subscribed to `event`."""
        for config in self.configs:
            if not config.active or event not in config.events:
                continue
            event_id = str(uuid.uuid4())
            stamp = format_datetime(self._clock.now(), naive=self._naive, millis=True)
            payload: dict[str, Any] = {
                "id": event_id,
                "webhook_id": config.id,
                "event": event,
                "entity": entity,
                "entity_id": entity_id,
                "timestamp": stamp,
            }
            body = json.dumps(payload, separators=(",", ":")).encode()
            self.pending.append(Delivery(event_id, config, event, entity_id, body, stamp))

    async def deliver_pending(
        self, transport: httpx.AsyncBaseTransport | None = None, request_timeout: float = 10.0
    ) -> list[Delivery]:
        """Send everything queued, in order; failures are logged, not retried (retry policy is [U])."""
        batch, self.pending = self.pending, []
        async with httpx.AsyncClient(transport=transport, timeout=request_timeout) as client:
            for delivery in batch:
                await self._send(client, delivery)
        return batch

    async def resend(self, delivery: Delivery, transport: httpx.AsyncBaseTransport | None = None) -> Delivery:
        """Deliver the same bytes again (same event id): receivers must tolerate duplicates."""
        again = Delivery(
            delivery.id,
            delivery.webhook,
            delivery.event,
            delivery.entity_id,
            delivery.requestbody,
            delivery.timestamp,
        )
        async with httpx.AsyncClient(transport=transport) as client:
            await self._send(client, again)
        return again

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        headers = {"Content-Type": "application/json", **delivery.webhook.auth_headers()}
        delivery.requestheaders = headers
        try:
            response = await client.post(delivery.webhook.url, content=delivery.requestbody, headers=headers)
        except httpx.HTTPError as exc:
            delivery.error, delivery.responsebody = True, repr(exc)
        else:
            delivery.responsestatus, delivery.responsebody = response.status_code, response.text
            delivery.error = not response.is_success
        self.log.append(delivery)
