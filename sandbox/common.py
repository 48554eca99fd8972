"""What every vendor sandbox shares: a controllable clock, fault injection, and a request log.

Each vendor sandbox (sandbox/<vendor>/) is a stateful ASGI app built around one state object that owns a
`SandboxControls`. Tests hold the state object and drive it directly (advance the clock, switch faults on,
read the log); `wrap_asgi` puts the faults and the log in front of the vendor's routes so every request
passes through them exactly as it would through the vendor's edge.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Clock:
    """The sandbox's idea of now: real time plus an offset tests can move forward (tokens expire, ACH
    settles, rate windows roll over), or frozen at an instant."""

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._offset = timedelta()
        self._frozen = frozen_at

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float = 0, **delta: float) -> None:
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta():
            raise ValueError("the sandbox clock only moves forward")
        if self._frozen is not None:
            self._frozen += step
        else:
            self._offset += step

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen = at or self.now()


@dataclass
class Fault:
    """One injected misbehaviour. `times` counts how many matching requests it hits (None: until cleared).

    kind:
      "status"    answer `status` with `body` (bytes or JSON-able) and `headers` (e.g. 429 + Retry-After)
      "slow"      wait `delay` seconds, then answer normally
      "timeout"   wait `delay` seconds (make it longer than the client's timeout) and answer 504
      "malformed" answer `status` (default 200) with a truncated JSON body
      "html"      answer `status` (default 200) with an HTML error page, as a proxy in front of a vendor does
      "reset"     close the connection without an answer (the ASGI server drops it)
      "lost"      let the vendor do the work, then drop the answer (the caller cannot know it happened)
    """

    kind: str
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1
    method: str | None = None  # only requests with this method
    path_prefix: str = ""  # only requests whose path starts with this

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.path_prefix)


@dataclass
class LoggedRequest:
    at: datetime
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


class SandboxControls:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.matches(method, path):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self.faults.remove(f)
                    return f
        return None

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[LoggedRequest]:
        return [r for r in self.log if (method is None or r.method == method) and r.path.startswith(path_prefix)]


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks, messages = [], []
    while True:
        msg = await receive()
        messages.append(msg)
        if msg["type"] == "http.request":
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        else:
            break
    return b"".join(chunks), messages


async def _answer(send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def wrap_asgi(app: ASGIApp, controls: SandboxControls) -> ASGIApp:
    """Log every HTTP request (with its body and final status) and apply injected faults before routing."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body, messages = await _read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        entry = LoggedRequest(
            controls.clock.now(), scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body
        )
        controls.log.append(entry)

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        fault = controls.take_fault(scope["method"], scope["path"])
        replay = iter(messages)
        if fault is not None and fault.kind == "lost":

            async def swallow(message: Message) -> None:
                if message["type"] == "http.response.start":
                    entry.status = message["status"]

            await app(scope, lambda: _next(replay, receive), swallow)
            raise ConnectionResetError("sandbox fault: the answer was lost after the work was done")
        if fault is not None and await _apply(fault, send_logged):
            return

        await app(scope, lambda: _next(replay, receive), send_logged)

    return wrapped


async def _next(replay: Iterator[Message], receive: Receive) -> Message:
    """The body already read, then whatever the server sends next (a disconnect)."""
    try:
        return next(replay)
    except StopIteration:
        return await receive()


async def _apply(fault: Fault, send: Send) -> bool:
    """Perform the fault; True when it answered (or dropped) the request, False to let it through."""
    if fault.kind == "slow":
        await asyncio.sleep(fault.delay)
        return False
    if fault.kind == "timeout":
        await asyncio.sleep(fault.delay)
        await _answer(send, 504, b"", "text/plain", {})
        return True
    if fault.kind == "reset":
        raise ConnectionResetError("sandbox fault: connection reset")
    if fault.kind == "malformed":
        await _answer(
            send,
            fault.status if fault.status != 500 else 200,
            b'{"truncated": [1, 2',
            "application/json",
            fault.headers,
        )
        return True
    if fault.kind == "html":
        page = (
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
        )
        await _answer(
            send, fault.status if fault.status != 500 else 200, page, "text/html; charset=utf-8", fault.headers
        )
        return True
    body = fault.body if isinstance(fault.body, bytes) else json.dumps(fault.body or {}).encode()
    await _answer(send, fault.status, body, "application/json", fault.headers)
    return True
