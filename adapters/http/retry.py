"""One retry policy for every vendor call.

- 429: always retried (the vendor refused the request, so it did not run), after Retry-After when given.
- 5xx, timeouts, dropped connections: retried only when repeating is safe: the method is idempotent
  (GET, HEAD, PUT, DELETE, OPTIONS) or the call carries an idempotency key the vendor honours. A POST
  without a key may have run; repeating it could charge or post twice, so its failure goes to the caller.
- Backoff: exponential with full jitter, capped; Retry-After (seconds or an HTTP date) wins when present.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from adapters.http.limiter import RateLimiter

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
Sleep = Callable[[float], Awaitable[None]]


class VendorUnavailable(Exception):
    """Retries ran out (or were not safe); `response` is the last answer, if any."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # never park a worker longer than this on one Retry-After
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 500, 502, 503, 504}))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^attempt)] (attempt counts from 0)."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return (rng or random).uniform(0, ceiling)

    def delay_for(self, attempt: int, response: httpx.Response | None, rng: random.Random | None = None) -> float:
        after = retry_after_seconds(response) if response is not None else None
        if after is not None:
            return min(after, self.max_retry_after)
        return self.backoff(attempt, rng)


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def safe_to_repeat(method: str, idempotency_key: str | None) -> bool:
    return method.upper() in IDEMPOTENT_METHODS or bool(idempotency_key)


async def send_with_retries(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    idempotency_key: str | None = None,
    limiter: RateLimiter | None = None,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> httpx.Response:
    """Send `request` under the policy. Returns the first non-retryable response (2xx or a 4xx the caller
    must handle); raises VendorUnavailable when retries run out, or transport errors that are unsafe to
    repeat. The caller sets the idempotency header itself; `idempotency_key` only tells us it is there."""
    repeatable = safe_to_repeat(request.method, idempotency_key)
    last: httpx.Response | None = None
    for attempt in range(policy.max_attempts):
        try:
            if limiter is not None:
                async with limiter.slot():
                    response = await client.send(request)
            else:
                response = await client.send(request)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            if not repeatable:
                raise
            if attempt + 1 == policy.max_attempts:
                raise VendorUnavailable(f"{request.method} {request.url.path}: {type(exc).__name__}") from exc
            await sleep(policy.backoff(attempt, rng))
            continue
        if response.status_code not in policy.retry_statuses:
            return response
        last = response
        if response.status_code != 429 and not repeatable:
            return response  # a 5xx on a POST without a key: it may have run; the caller decides
        await response.aread()
        if attempt + 1 < policy.max_attempts:
            await sleep(policy.delay_for(attempt, response, rng))
    raise VendorUnavailable(
        f"{request.method} {request.url.path}: still {last.status_code if last else '?'} after "
        f"{policy.max_attempts} attempts",
        last,
    )
