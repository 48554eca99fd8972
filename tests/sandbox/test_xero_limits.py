"""Xero sandbox: per-tenant and app-wide rate limits with Xero's headers."""

from __future__ import annotations

import asyncio

from sandbox.xero import XeroConfig, XeroLimits
from sandbox.xero.testing import connected_sandbox


def _sandbox(**limits: int):
    return connected_sandbox(XeroConfig(limits=XeroLimits(**limits)))


async def test_every_tenant_call_carries_the_remaining_counts() -> None:
    xero = connected_sandbox()
    answers = [await xero.get("Accounts") for _ in range(3)]
    assert [a.headers["x-minlimit-remaining"] for a in answers] == ["59", "58", "57"]
    assert answers[-1].headers["x-daylimit-remaining"] == "4997"
    assert answers[-1].headers["x-appminlimit-remaining"] == "9997"
    assert "retry-after" not in answers[-1].headers


async def test_minute_limit_rolls_over_by_the_sandbox_clock() -> None:
    xero = _sandbox(minute=3)
    clock = xero.state.controls.clock
    await xero.get("Accounts")
    clock.advance(20)
    await xero.get("Accounts")
    await xero.get("Accounts")
    refused = await xero.get("Accounts")
    assert refused.status_code == 429
    assert refused.headers["x-rate-limit-problem"] == "minute"
    assert refused.headers["retry-after"] == "40"  # the first call leaves the window 60 s after it was made
    assert refused.headers["x-minlimit-remaining"] == "0"
    clock.advance(40)
    assert (await xero.get("Accounts")).status_code == 200
    assert (await xero.get("Accounts")).status_code == 429  # the two later calls are still in the window


async def test_day_limit_and_refusals_do_not_count() -> None:
    xero = _sandbox(day=2)
    assert [(await xero.get("Accounts")).status_code for _ in range(4)] == [200, 200, 429, 429]
    refused = await xero.get("Accounts")
    assert refused.headers["x-rate-limit-problem"] == "day" and int(refused.headers["retry-after"]) == 86_400
    xero.state.controls.clock.advance(hours=24)
    token = xero.state.connect(xero.app, [xero.org])["access_token"]  # the old one expired meanwhile
    ok = await xero.get("Accounts", headers=xero.headers(token=token))
    assert ok.status_code == 200 and ok.headers["x-daylimit-remaining"] == "1"


async def test_limits_are_per_tenant_and_the_app_minute_spans_tenants() -> None:
    xero = _sandbox(minute=2, app_minute=3)
    xero.state.connect(xero.app, [xero.other])
    assert [(await xero.get("Accounts")).status_code for _ in range(3)] == [200, 200, 429]
    other = await xero.get("Accounts", headers=xero.headers(xero.other))
    assert other.status_code == 200 and other.headers["x-minlimit-remaining"] == "1"  # its own minute window
    app_wide = await xero.get("Accounts", headers=xero.headers(xero.other))
    assert app_wide.status_code == 429 and app_wide.headers["x-rate-limit-problem"] == "appminute"
    second_app = xero.state.register_app("other-app")
    tokens = xero.state.connect(second_app, [xero.org])
    fresh = await xero.get("Accounts", headers=xero.headers(token=tokens["access_token"]))
    assert fresh.status_code == 200  # limits belong to (app, tenant)


async def test_concurrency_limit() -> None:
    xero = connected_sandbox(XeroConfig(limits=XeroLimits(concurrent=2), latency=0.15))
    answers = await asyncio.gather(*(xero.get("Accounts") for _ in range(3)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["x-rate-limit-problem"] == "concurrent" and refused.headers["retry-after"] == "1"
    assert (await xero.get("Accounts")).status_code == 200  # slots are given back
