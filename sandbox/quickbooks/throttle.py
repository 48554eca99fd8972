"""Per-company throttling as Intuit documents it (Q-LIM): 500 requests a minute per realm and 10 requests
in flight per realm (the 2016 concurrency rule), optionally 10 a second; over a limit the answer is 429.

The minute window slides on the sandbox clock, so a test can exhaust it and then `clock.advance(60)`
instead of sleeping. Only admitted requests count toward the window [U].
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


class ThrottleLimits(Protocol):
    per_minute: int | None
    per_second: int | None
    concurrent: int | None


@dataclass
class Throttle:
    limits: ThrottleLimits  # read on every request, so a test may lower a limit mid-way
    _seen: dict[str, deque[datetime]] = field(default_factory=dict)
    _in_flight: dict[str, int] = field(default_factory=dict)

    def admit(self, realm_id: str, now: datetime) -> bool:
        """Count the request and take a concurrency slot, or refuse it (the caller answers 429)."""
        seen = self._seen.setdefault(realm_id, deque())
        while seen and seen[0] <= now - timedelta(minutes=1):
            seen.popleft()
        if self.limits.per_minute is not None and len(seen) >= self.limits.per_minute:
            return False
        if self.limits.per_second is not None:
            cutoff, last_second = now - timedelta(seconds=1), 0
            for moment in reversed(seen):
                if moment <= cutoff:
                    break
                last_second += 1
            if last_second >= self.limits.per_second:
                return False
        if self.limits.concurrent is not None and self._in_flight.get(realm_id, 0) >= self.limits.concurrent:
            return False
        seen.append(now)
        self._in_flight[realm_id] = self._in_flight.get(realm_id, 0) + 1
        return True

    def release(self, realm_id: str) -> None:
        self._in_flight[realm_id] -= 1

    def in_flight(self, realm_id: str) -> int:
        return self._in_flight.get(realm_id, 0)
