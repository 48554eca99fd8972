"""The shared retry policy and rate limiter, against a sandbox app with injected faults."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from litestar import Litestar, get, post

from adapters.http.limiter import Limits, RateLimiter
from adapters.http.retry import RetryPolicy, VendorUnavailable, retry_after_seconds, send_with_retries
from sandbox.common import Fault, SandboxControls, wrap_asgi
from tests.live import live_server


@get("/thing")
async def read_thing() -> dict[str, str]:
    return {"ok": "yes"}


@post("/charge", status_code=200)
async def charge() -> dict[str, str]:
    return {"charged": "once"}


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _setup() -> tuple[SandboxControls, httpx.AsyncClient]:
    controls = SandboxControls()
    app = wrap_asgi(Litestar([read_thing, charge]), controls)
    return controls, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vendor")


async def _send(
    client: httpx.AsyncClient, method: str, path: str, sleeps: Sleeps, key: str | None = None, attempts: int = 4
) -> httpx.Response:
    request = client.build_request(method, path, headers={"Idempotency-Key": key} if key else None)
    return await send_with_retries(
        client,
        request,
        policy=RetryPolicy(max_attempts=attempts),
        idempotency_key=key,
        sleep=sleeps,
        rng=random.Random(1),
    )


async def test_429_honours_retry_after_even_for_posts() -> None:
    controls, client = _setup()
    controls.inject(Fault("status", status=429, headers={"Retry-After": "7"}, times=2))
    sleeps = Sleeps()
    r = await _send(client, "POST", "/charge", sleeps)
    assert r.status_code == 200 and sleeps.calls == [7.0, 7.0]
    assert [e.status for e in controls.log] == [429, 429, 200]


async def test_5xx_retried_with_backoff_for_get_and_keyed_post() -> None:
    controls, client = _setup()
    controls.inject(Fault("status", status=503, times=2))
    sleeps = Sleeps()
    assert (await _send(client, "GET", "/thing", sleeps)).status_code == 200
    assert len(sleeps.calls) == 2 and all(0 <= s <= RetryPolicy().max_delay for s in sleeps.calls)
    controls.inject(Fault("status", status=502, times=1, path_prefix="/charge"))
    assert (await _send(client, "POST", "/charge", Sleeps(), key="attempt-1")).status_code == 200


async def test_5xx_on_unkeyed_post_is_not_repeated() -> None:
    controls, client = _setup()
    controls.inject(Fault("status", status=500, times=3, path_prefix="/charge"))
    r = await _send(client, "POST", "/charge", Sleeps())
    assert r.status_code == 500
    assert len(controls.requests("POST", "/charge")) == 1  # it may have run: never sent twice


async def test_gives_up_after_max_attempts() -> None:
    controls, client = _setup()
    controls.inject(Fault("status", status=503, times=None))
    with pytest.raises(VendorUnavailable) as exc:
        await _send(client, "GET", "/thing", Sleeps(), attempts=3)
    assert exc.value.response is not None and exc.value.response.status_code == 503
    assert len(controls.log) == 3


async def test_timeouts_retried_only_when_safe() -> None:
    controls = SandboxControls()
    app = wrap_asgi(Litestar([read_thing, charge]), controls)
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=0.1) as slow:
        controls.inject(Fault("slow", delay=0.5, times=1))
        assert (await _send(slow, "GET", "/thing", Sleeps())).status_code == 200
        controls.inject(Fault("slow", delay=0.5, times=1, path_prefix="/charge"))
        with pytest.raises(httpx.TimeoutException):
            await _send(slow, "POST", "/charge", Sleeps())
    assert len(controls.requests("POST", "/charge")) == 1


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_seconds(httpx.Response(429)) is None
    assert RetryPolicy(max_retry_after=60).delay_for(0, httpx.Response(429, headers={"Retry-After": "3600"})) == 60


async def test_rate_limiter_spaces_requests_and_caps_concurrency() -> None:
    now = [0.0]
    limiter = RateLimiter(Limits(rate=10.0, burst=2, concurrent=2), clock=lambda: now[0])
    await limiter.acquire()
    await limiter.acquire()  # the burst is spent
    waited = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert not waited.done()  # a third request must wait for a token
    now[0] += 0.1
    await asyncio.wait_for(waited, 1)

    in_flight, peak = 0, 0
    limiter2 = RateLimiter(Limits(rate=1000.0, burst=100, concurrent=2))

    async def one() -> None:
        nonlocal in_flight, peak
        async with limiter2.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(one() for _ in range(8)))
    assert peak == 2
