"""Client-side rate limiting per vendor tenant (a QuickBooks realm, a Xero organisation, a Halo instance).

Staying under a vendor's published limits costs less than hitting them: every 429 wastes a round trip and,
at Xero, counts against the daily allowance. A token bucket spaces requests to `rate` per second with
bursts up to `burst`; a semaphore caps requests in flight (Xero allows 5 at once per organisation).
This limits one process; the vendor's 429 + Retry-After (handled by the retry policy) covers the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    rate: float  # requests per second, sustained
    burst: int  # requests allowed back to back
    concurrent: int  # requests in flight at once


# Published limits, with headroom. Halo publishes none; 450 per 5 minutes is a third party's figure.
HALOPSA = Limits(rate=1.4, burst=10, concurrent=5)
QUICKBOOKS = Limits(rate=8.0, burst=10, concurrent=10)  # 500/min and 10/s per realm, 10 concurrent
XERO = Limits(rate=0.95, burst=5, concurrent=5)  # 60/min and 5 concurrent per organisation
STRIPE = Limits(rate=20.0, burst=25, concurrent=25)  # 25/s in test mode


class RateLimiter:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._tokens = float(limits.burst)
        self._updated = clock()
        self._lock = asyncio.Lock()
        self._in_flight = asyncio.Semaphore(limits.concurrent)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.limits.burst, self._tokens + (now - self._updated) * self.limits.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait for a token. Waiters queue on the lock, so they are served in arrival order."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.limits.rate)
                self._refill()
            self._tokens -= 1

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._in_flight:
            await self.acquire()
            yield


class LimiterRegistry:
    """One limiter per (vendor, vendor tenant), created on first use."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, str], RateLimiter] = {}

    def for_tenant(self, vendor: str, vendor_tenant: str, limits: Limits) -> RateLimiter:
        key = (vendor, vendor_tenant)
        if key not in self._limiters:
            self._limiters[key] = RateLimiter(limits)
        return self._limiters[key]
