"""QuickBooks sandbox: minorversion, requestid replay, throttling, injected faults, request log, isolation."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.common import Fault
from sandbox.quickbooks import Limits
from sandbox.quickbooks.testing import Connected, connected


@pytest.fixture
def q() -> Connected:
    return connected()


def invoice_body(q: Connected, amount: float = 10) -> dict:
    customer = q.company.add_customer(f"Customer {q.company.next_id}")
    return {"CustomerRef": {"value": customer["Id"]},
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}  # fmt: skip


async def test_minorversion_is_required_and_has_a_floor(q: Connected) -> None:
    async with q.client() as http:
        missing = await http.get(q.path("preferences", minorversion=None))
        low = await http.get(q.path("preferences", minorversion=74))
        ok = await http.get(q.path("preferences", minorversion=75))
        q.state.limits.minorversion_policy, q.state.limits.require_minorversion = "ignore", False
        ignored = await http.get(q.path("preferences", minorversion=4))
        absent = await http.get(q.path("preferences", minorversion=None))
    for response in (missing, low):
        assert response.status_code == 400
        error = response.json()["Fault"]["Error"][0]
        assert error["element"] == "minorversion" and response.json()["Fault"]["type"] == "ValidationFault"
    assert ok.status_code == ignored.status_code == absent.status_code == 200
    assert ok.json()["Preferences"]["SalesFormsPrefs"]["CustomTxnNumbers"] is True


async def test_requestid_replays_the_stored_answer_without_running_again(q: Connected) -> None:
    body = invoice_body(q)
    async with q.client() as http:
        first = await http.post(q.path("invoice", requestid="pay-attempt-1"), json=body)
        q.state.controls.clock.advance(2)
        again = await http.post(q.path("invoice", requestid="pay-attempt-1"), json=body)
        other = await http.post(q.path("invoice", requestid="pay-attempt-2"), json=body)
        too_long = await http.post(q.path("invoice", requestid="x" * 51), json=body)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content  # byte for byte, "time" included
    assert other.json()["Invoice"]["Id"] != first.json()["Invoice"]["Id"]
    assert len(q.company.records["Invoice"]) == 2
    assert too_long.status_code == 400


async def test_requestid_replays_faults_and_is_scoped_per_company(q: Connected) -> None:
    second = q.state.add_company()
    tokens = q.state.connect(q.app.client_id, second.realm_id)
    customer = q.company.add_customer("Acme")
    async with q.client() as http:
        stale_body = {"Id": customer["Id"], "SyncToken": "9", "sparse": True}
        stale = await http.post(q.path("customer", requestid="r1"), json=stale_body)
        replay = await http.post(q.path("customer", requestid="r1"), json={"DisplayName": "Different"})
    async with q.client(token=tokens.access_token) as http:
        elsewhere = await http.post(f"/v3/company/{second.realm_id}/customer?minorversion=75&requestid=r1",
                                    json={"DisplayName": "Different"})  # fmt: skip
    assert stale.status_code == replay.status_code == 400 and replay.content == stale.content
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"
    assert elsewhere.status_code == 200


async def test_429_after_the_per_minute_limit_then_the_window_rolls(q: Connected) -> None:
    q.state.limits.per_minute = 5
    async with q.client() as http:
        statuses = [(await http.get(q.path("preferences"))).status_code for _ in range(6)]
        throttled = await http.get(q.path("preferences"))
        q.state.controls.clock.advance(61)
        after = await http.get(q.path("preferences"))
    assert statuses == [200] * 5 + [429]
    assert "retry-after" not in throttled.headers
    assert throttled.headers["content-type"] == "application/xml" and "ThrottleExceeded" in throttled.text
    assert after.status_code == 200


async def test_throttle_json_body_and_per_company_windows(q: Connected) -> None:
    q.state.limits.per_minute, q.state.limits.throttle_body = 1, "json"
    other = q.state.add_company()
    tokens = q.state.connect(q.app.client_id, other.realm_id)
    async with q.client() as http:
        await http.get(q.path("preferences"))
        throttled = await http.get(q.path("preferences"))
    async with q.client(token=tokens.access_token) as http:
        elsewhere = await http.get(f"/v3/company/{other.realm_id}/preferences?minorversion=75")
    assert throttled.status_code == 429 and throttled.json()["Fault"]["Error"][0]["code"] == "3001"
    assert elsewhere.status_code == 200


async def test_more_than_ten_in_flight_is_429() -> None:
    q = connected(limits=Limits(processing_delay=0.2))
    async with q.client() as http:
        responses = await asyncio.gather(*(http.get(q.path("preferences")) for _ in range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 10 + [429] * 2
    assert q.state.throttle.in_flight(q.realm) == 0


async def test_http_200_with_a_fault_body(q: Connected) -> None:
    q.state.fault_with_200(code="6000", path_prefix=f"/v3/company/{q.realm}/invoice")
    async with q.client() as http:
        odd = await http.post(q.path("invoice"), json=invoice_body(q))
        normal = await http.post(q.path("invoice"), json=invoice_body(q))
    assert odd.status_code == 200 and odd.json()["Fault"]["Error"][0]["code"] == "6000"
    assert "Invoice" in normal.json()
    assert len(q.company.records["Invoice"]) == 1  # the faulted request never reached the company


async def test_common_faults_and_request_log(q: Connected) -> None:
    q.state.controls.inject(Fault("status", status=503, body=b"Service Unavailable", times=1))
    q.state.controls.inject(Fault("html", path_prefix="/v3/", times=1))
    async with q.client() as http:
        unavailable = await http.get(q.path("preferences"))
        proxy_page = await http.get(q.path("preferences"))
        fine = await http.get(q.path("preferences", requestid="abc"))
    assert (unavailable.status_code, proxy_page.status_code, fine.status_code) == (503, 200, 200)
    assert proxy_page.text.startswith("<!DOCTYPE html>")
    log = q.state.controls.requests("GET", f"/v3/company/{q.realm}/preferences")
    assert [e.status for e in log] == [503, 200, 200] and "requestid=abc" in log[-1].query
    assert log[-1].headers["authorization"].startswith("Bearer ")


async def test_two_instances_share_nothing() -> None:
    first, second = connected(), connected()
    first.company.add_customer("Only Here")
    assert "only here" not in second.company.names["Customer"]
    async with first.client(token=second.tokens.access_token) as http:
        assert (await http.get(first.path("preferences"))).status_code == 401


def test_bulk_seeding_builds_consistent_records() -> None:
    q = connected()
    ids = q.company.seed_bulk(customers=200, invoices_per_customer=25, amount=12.5)
    invoices = q.company.records["Invoice"]
    assert len(ids) == 200 and len(invoices) == 5000
    assert q.company.records["Customer"][ids[0]]["Balance"] == 312.5
    assert len({i["DocNumber"] for i in invoices.values()}) == 5000
    assert q.company.events == []
