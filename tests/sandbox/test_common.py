"""The shared sandbox machinery: request log, faults, clock."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar, post

from sandbox.common import Fault, SandboxControls, wrap_asgi


@post("/echo", status_code=200)
async def echo(data: dict[str, object]) -> dict[str, object]:
    return data


def _client(controls: SandboxControls) -> httpx.AsyncClient:
    app = wrap_asgi(Litestar([echo]), controls)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


async def test_log_records_body_and_status() -> None:
    controls = SandboxControls()
    async with _client(controls) as c:
        r = await c.post("/echo?x=1", json={"a": 1})
    assert r.json() == {"a": 1}
    [entry] = controls.requests("POST", "/echo")
    assert entry.json() == {"a": 1} and entry.status == 200 and entry.query == "x=1"


async def test_faults_apply_then_expire() -> None:
    controls = SandboxControls()
    controls.inject(Fault("status", status=429, headers={"Retry-After": "7"}, times=2))
    controls.inject(Fault("html", path_prefix="/other"))
    async with _client(controls) as c:
        first, second, third = [await c.post("/echo", json={}) for _ in range(3)]
        html = await c.post("/other", json={})
    assert first.status_code == second.status_code == 429 and first.headers["retry-after"] == "7"
    assert third.status_code == 200
    assert html.status_code == 200 and html.text.startswith("<!DOCTYPE html>")
    assert [e.status for e in controls.log] == [429, 429, 200, 200]


async def test_malformed_and_clock() -> None:
    controls = SandboxControls()
    controls.inject(Fault("malformed"))
    async with _client(controls) as c:
        r = await c.post("/echo", json={})
    with pytest.raises(ValueError):
        r.json()
    before = controls.clock.now()
    controls.clock.advance(hours=2)
    assert (controls.clock.now() - before).total_seconds() >= 7200
    with pytest.raises(ValueError):
        controls.clock.advance(-1)
