"""Xero's API limits [V X-LIM]: per app and tenant 60 calls a minute, 5,000 a day and 5 in flight; per app
10,000 calls a minute across tenants. All configurable.

Windows are rolling (a call counts for exactly 60 s / 24 h after it was admitted) [U - Xero does not say
rolling or fixed; rolling never lets a burst of 2x the limit through at a window edge, so a client that
copes with it copes with either]. Every admitted or refused tenant call carries X-DayLimit-Remaining,
X-MinLimit-Remaining and X-AppMinLimit-Remaining; a refusal is 429 with Retry-After (whole seconds until
the window frees a slot; 1 for the concurrency limit [U]) and X-Rate-Limit-Problem naming the limit hit:
day, appminute, minute or concurrent, checked in that order (the longest wait wins) [S values]. Refused
calls are not counted [U].
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from uuid import UUID

MINUTE, DAY = 60.0, 86_400.0


@dataclass
class XeroLimits:
    minute: int = 60
    day: int = 5_000
    concurrent: int = 5
    app_minute: int = 10_000


@dataclass
class Admission:
    problem: str | None
    headers: dict[str, str]

    @property
    def admitted(self) -> bool:
        return self.problem is None


def _prune(window: deque[float], now: float, span: float) -> deque[float]:
    while window and window[0] <= now - span:
        window.popleft()
    return window


@dataclass
class RateLimiter:
    limits: XeroLimits
    _minute: defaultdict[tuple[str, UUID], deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _day: defaultdict[tuple[str, UUID], deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _app: defaultdict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _in_flight: defaultdict[tuple[str, UUID], int] = field(default_factory=lambda: defaultdict(int))

    def admit(self, client_id: str, tenant_id: UUID, now: float) -> Admission:
        """Count one call, or refuse it. An admitted call must be `release`d when answered."""
        key, lim = (client_id, tenant_id), self.limits
        minute = _prune(self._minute[key], now, MINUTE)
        day = _prune(self._day[key], now, DAY)
        app = _prune(self._app[client_id], now, MINUTE)
        problem, wait = None, 0.0
        if len(day) >= lim.day:
            problem, wait = "day", day[0] + DAY - now
        elif len(app) >= lim.app_minute:
            problem, wait = "appminute", app[0] + MINUTE - now
        elif len(minute) >= lim.minute:
            problem, wait = "minute", minute[0] + MINUTE - now
        elif self._in_flight[key] >= lim.concurrent:
            problem, wait = "concurrent", 1.0
        if problem is None:
            minute.append(now)
            day.append(now)
            app.append(now)
            self._in_flight[key] += 1
        headers = {
            "X-DayLimit-Remaining": str(max(lim.day - len(day), 0)),
            "X-MinLimit-Remaining": str(max(lim.minute - len(minute), 0)),
            "X-AppMinLimit-Remaining": str(max(lim.app_minute - len(app), 0)),
        }
        if problem is not None:
            headers |= {"Retry-After": str(max(math.ceil(wait), 1)), "X-Rate-Limit-Problem": problem}
        return Admission(problem, headers)

    def release(self, client_id: str, tenant_id: UUID) -> None:
        key = (client_id, tenant_id)
        self._in_flight[key] = max(self._in_flight[key] - 1, 0)
