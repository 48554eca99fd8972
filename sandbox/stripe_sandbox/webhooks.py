"""Webhook endpoints and a sender that signs exactly as Stripe does.

`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(whsec secret, f"{t}.{raw body}")>`; stripe-python's
`Webhook.construct_event` accepts any matching v1 (secret rotation) within 300 s of its own clock and
has no check on future timestamps. The timestamp here comes from the sandbox clock, which only runs ahead
of real time, so deliveries made after advancing the clock still verify; `stale_by` backdates one.

Platform endpoints receive the platform account's events; Connect endpoints (`connect=True`) receive
events of connected accounts, which carry a top-level `account`. Events queue per endpoint when recorded;
`flush()` delivers them (in order, reversed or shuffled), `redeliver()` sends one again (duplicates are
normal for Stripe), and every attempt lands in `deliveries`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import msgspec

from sandbox.common import Clock

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.store import Obj, Partition

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class WebhookEndpoint:
    id: str
    url: str
    secret: str
    enabled_events: tuple[str, ...] = ("*",)
    connect: bool = False
    enabled: bool = True
    account: str | None = None  # the account that owns it (None: the platform)

    def wants(self, part: Partition, event_type: str) -> bool:
        """A Connect endpoint hears the platform's connected accounts; an account endpoint, its owner."""
        if self.connect:
            source_ok = not part.is_platform
        else:
            source_ok = part.is_platform if self.account is None else part.account_id == self.account
        return source_ok and self.enabled and ("*" in self.enabled_events or event_type in self.enabled_events)


@dataclass
class Delivery:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    body: bytes
    signature: str
    status: int | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def compute_signature(payload: bytes | str, secret: str, timestamp: int) -> str:
    body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def signature_header(payload: bytes | str, secrets: Iterable[str], timestamp: int) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={compute_signature(payload, s, timestamp)}" for s in secrets)])


class WebhookHub:
    def __init__(self, clock: Clock, new_id: Callable[[str, int], str], lock: threading.RLock, seed: int | None):
        self._clock = clock
        self._new_id = new_id
        self._lock = lock
        self._rng = random.Random(seed)  # noqa: S311 - shuffles deliveries and names test secrets
        self.endpoints: list[WebhookEndpoint] = []
        self.pending: deque[tuple[WebhookEndpoint, Obj]] = deque()
        self.deliveries: list[Delivery] = []
        self._delivered: set[tuple[str, str]] = set()  # (event, endpoint) pairs already acknowledged
        # Failed deliveries wait here for a retry: (due time, attempts so far, endpoint, event).
        self.retries: list[tuple[float, int, WebhookEndpoint, Obj]] = []
        self.max_attempts = 8
        self.transport: httpx.AsyncBaseTransport | None = None  # e.g. httpx.ASGITransport(app=receiver)
        self.timeout = 10.0

    def add_endpoint(
        self,
        url: str,
        *,
        secret: str | None = None,
        events: Iterable[str] = ("*",),
        connect: bool = False,
        account: str | None = None,
    ) -> WebhookEndpoint:
        with self._lock:
            ep = WebhookEndpoint(
                id=self._new_id("we", 24),
                url=url,
                secret=secret or "whsec_" + "".join(self._rng.choices(_ALNUM, k=32)),
                enabled_events=tuple(events),
                connect=connect,
                account=account,
            )
            self.endpoints.append(ep)
            return ep

    def enqueue(self, part: Partition, evt: Obj) -> int:
        """Called as each event is recorded; returns its pending_webhooks count."""
        count = 0
        for ep in self.endpoints:
            if ep.wants(part, evt["type"]):
                self.pending.append((ep, evt))
                count += 1
        return count

    @staticmethod
    def payload(evt: Obj) -> bytes:
        """Stripe sends events pretty-printed; the signature covers these exact bytes."""
        return msgspec.json.format(msgspec.json.encode(evt), indent=2)

    def sign(
        self, payload: bytes | str, secret: str, *, timestamp: int | None = None, extra: Iterable[str] = ()
    ) -> str:
        ts = int(self._clock.timestamp()) if timestamp is None else timestamp
        return signature_header(payload, [secret, *extra], ts)

    async def flush(self, *, order: str = "fifo", client: httpx.AsyncClient | None = None) -> list[Delivery]:
        """Deliver everything queued, plus failed deliveries whose retry is due. Like Stripe, a failure
        (no 2xx) is retried with exponential backoff (1 min, 2 min, 4 min, ... by the sandbox clock).
        order: "fifo", "reverse" or "shuffle" (out-of-order delivery)."""
        now = self._clock.timestamp()
        with self._lock:
            due = [r for r in self.retries if r[0] <= now]
            self.retries = [r for r in self.retries if r[0] > now]
            attempts = {(ep.id, evt["id"]): n for _, n, ep, evt in due}
            live = {ep.id for ep in self.endpoints}  # a deleted endpoint gets nothing more
            batch = [(ep, evt) for _, _, ep, evt in due] + list(self.pending)
            batch = [(ep, evt) for ep, evt in batch if ep.id in live]
            self.pending.clear()
        if order == "reverse":
            batch.reverse()
        elif order == "shuffle":
            self._rng.shuffle(batch)
        elif order != "fifo":
            raise ValueError(f"unknown order {order!r}")
        out = []
        for ep, evt in batch:
            delivery = await self.deliver(evt, ep, client=client)
            tries = attempts.get((ep.id, evt["id"]), 0) + 1
            if not delivery.ok and tries < self.max_attempts:
                with self._lock:
                    self.retries.append((self._clock.timestamp() + 60 * 2 ** (tries - 1), tries, ep, evt))
            out.append(delivery)
        return out

    async def redeliver(self, evt: Obj, endpoint: WebhookEndpoint | None = None, **kw: object) -> Delivery:
        """Send an event again (to the endpoint it last went to), as Stripe does after a timeout or a manual
        resend."""
        if endpoint is None:
            by_id = {e.id: e for e in self.endpoints}
            endpoint = next(by_id[d.endpoint_id] for d in reversed(self.deliveries) if d.event_id == evt["id"])
        ep = endpoint
        return await self.deliver(evt, ep, **kw)  # type: ignore[arg-type]

    async def deliver(
        self,
        evt: Obj,
        endpoint: WebhookEndpoint,
        *,
        client: httpx.AsyncClient | None = None,
        secret: str | None = None,
        extra_secrets: Iterable[str] = (),
        stale_by: int = 0,
        timestamp: int | None = None,
    ) -> Delivery:
        """One signed POST. `secret` overrides the endpoint's (a wrong-secret delivery), `extra_secrets`
        add v1 values (rotation), `stale_by` backdates the timestamp by that many seconds."""
        body = self.payload(evt)
        ts = (int(self._clock.timestamp()) if timestamp is None else timestamp) - stale_by
        header = signature_header(body, [secret or endpoint.secret, *extra_secrets], ts)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": header,
            "Cache-Control": "no-cache",
            "Accept": "*/*; q=0.5, application/xml",
        }
        delivery = Delivery(evt["id"], evt["type"], endpoint.id, endpoint.url, body, header, headers=headers)
        own = client is None
        http = client or httpx.AsyncClient(transport=self.transport, timeout=self.timeout)
        try:
            response = await http.post(endpoint.url, content=body, headers=headers)
            delivery.status = response.status_code
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        finally:
            if own:
                await http.aclose()
        with self._lock:
            self.deliveries.append(delivery)
            first = (evt["id"], endpoint.id) not in self._delivered
            if delivery.ok and first:
                self._delivered.add((evt["id"], endpoint.id))
                evt["pending_webhooks"] = max(0, evt.get("pending_webhooks", 0) - 1)
        return delivery
