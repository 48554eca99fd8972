"""Per-account request rate limiting, off unless a test configures it.

Stripe allows 25 ops/s per account in test mode (100 live) and answers 429 beyond that. A token bucket per
account, refilled by the sandbox clock, models it: a test can exhaust it with a burst, then advance the
clock to let requests through again without sleeping.
"""

from __future__ import annotations


class RateLimiter:
    def __init__(self) -> None:
        self._limits: dict[str | None, float] = {}  # account id (None: every account) -> ops per second
        self._buckets: dict[str, tuple[float, float]] = {}  # account id -> (tokens left, last refill time)

    def configure(self, ops_per_second: float | None, account: str | None = None) -> None:
        """None switches the limit off (for that account, or the default for all)."""
        if ops_per_second is None:
            self._limits.pop(account, None)
        else:
            self._limits[account] = float(ops_per_second)
        self._buckets.clear()

    def allow(self, account: str, now: float) -> bool:
        if not self._limits:
            return True
        rate = self._limits.get(account, self._limits.get(None))
        if rate is None:
            return True
        tokens, last = self._buckets.get(account, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[account] = (tokens, now)
            return False
        self._buckets[account] = (tokens - 1, now)
        return True
