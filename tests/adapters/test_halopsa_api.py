"""The HaloPSA read adapter against the Halo sandbox, in process: paging, records, faults, tokens."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from adapters.halopsa.api import BODY_ATTEMPTS, HaloApi, api_base
from adapters.http.retry import RetryPolicy
from domain.halopsa import HaloReadFailed, HaloResource
from sandbox.common import Fault
from sandbox.halopsa import ApiApplication, HaloLimits, HaloState, create_app

INVOICES = HaloResource.INVOICES


class SandboxTransport(httpx.AsyncBaseTransport):
    """The sandbox in process, plus what a real socket adds and ASGITransport does not: the client's read
    timeout, and a connection the server drops surfacing as httpx's own error rather than the app's."""

    def __init__(self, state: HaloState) -> None:
        self.inner = httpx.ASGITransport(app=create_app(state))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(timeout):
                return await self.inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("sandbox: no answer in time", request=request) from None
        except ConnectionResetError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc


class Tokens:
    """A token source over the sandbox's own token store; remembers what it was asked."""

    def __init__(self, state: HaloState, app: ApiApplication) -> None:
        self.state, self.app = state, app
        self.asked: list[str | None] = []

    async def __call__(self, stale: str | None) -> str:
        self.asked.append(stale)
        return self.state.issue_token(self.app).token


class Sleeps:
    def __init__(self, state: HaloState | None = None) -> None:
        self.calls: list[float] = []
        self.state = state

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.state is not None:  # time passes for Halo too (rate windows roll over)
            self.state.controls.clock.advance(seconds)


class Halo:
    def __init__(self, scopes: str = "all", timeout: float = 5.0, **limits: Any) -> None:
        self.state = HaloState(tenant="acme", limits=HaloLimits(**limits))
        self.tokens = Tokens(self.state, self.state.add_application(scopes))
        self.sleeps = Sleeps(self.state)
        http = httpx.AsyncClient(transport=SandboxTransport(self.state), timeout=timeout)
        self.api = HaloApi(http, "https://acme.halopsa.test/api/", self.tokens, sleep=self.sleeps)

    def statuses(self) -> list[int]:
        return [r.status for r in self.state.controls.requests("GET")]

    def inject(self, kind: str, **kw: Any) -> None:
        self.state.controls.inject(Fault(kind, path_prefix="/api/", **kw))


async def test_pages_through_250_invoices() -> None:
    halo = Halo()
    halo.state.seed(clients=10, invoices=250)
    pages = [await halo.api.page(INVOICES, n, 100) for n in (1, 2, 3)]
    assert [len(p.records) for p in pages] == [100, 100, 50]
    assert {p.record_count for p in pages} == {250} and [p.page_no for p in pages] == [1, 2, 3]
    ids = [r["id"] for p in pages for r in p.records]
    assert len(set(ids)) == 250 and set(ids) == set(halo.state.invoices.rows)
    assert all("lines" not in r for p in pages for r in p.records)

    first = halo.state.controls.requests("GET")[0]
    assert first.path == "/api/Invoice" and "pageinate=true" in first.query and "page_size=100" in first.query
    assert first.headers["accept"] == "application/json" and first.headers["authorization"].startswith("Bearer ")
    assert halo.tokens.asked == [None]  # one token for the whole run
    assert (await halo.api.page(INVOICES, 1, 500)).page_size == 100  # Halo clamps; the page says so


@pytest.mark.parametrize("resource", list(HaloResource))
async def test_each_resource_lists_under_its_key(resource: HaloResource) -> None:
    halo = Halo()
    halo.state.seed(clients=5, invoices=20, paid_fraction=0.5)
    page = await halo.api.page(resource, 1, 50)
    assert page.records and page.record_count == len(page.records)


async def test_params_pass_through_and_single_records() -> None:
    halo = Halo()
    halo.state.seed(clients=3, invoices=5)
    with_lines = await halo.api.page(INVOICES, 1, 10, {"includelines": "true", "page_no": "9"})
    assert with_lines.page_no == 1 and all(r["lines"] for r in with_lines.records)

    invoice_id = with_lines.records[0]["id"]
    one = await halo.api.record(INVOICES, invoice_id, {"includedetails": "true"})
    assert one is not None and one["id"] == invoice_id and one["lines"] and "payments" in one
    assert await halo.api.record(INVOICES, 99_999) is None


async def test_rate_limit_waits_for_retry_after() -> None:
    halo = Halo(rate_limit=2, rate_window_seconds=60)
    for n in (1, 2, 3):
        await halo.api.page(INVOICES, n, 10)
    assert halo.statuses() == [200, 200, 429, 200]
    assert halo.sleeps.calls == [60.0]  # Halo's Retry-After, not our own backoff


async def test_5xx_timeouts_dropped_connections_and_html_are_ridden_out() -> None:
    halo = Halo(timeout=0.05)
    halo.inject("status", status=503, times=2)
    assert (await halo.api.page(INVOICES, 1, 10)).record_count == 0
    halo.inject("timeout", delay=2.0)  # longer than the client waits
    await halo.api.page(INVOICES, 1, 10)
    halo.inject("reset")
    await halo.api.page(INVOICES, 1, 10)
    halo.inject("html")  # a proxy's error page, with status 200
    await halo.api.page(INVOICES, 1, 10)
    # the timed-out and dropped requests never got a status
    assert halo.statuses() == [503, 503, 200, 0, 200, 0, 200, 200, 200]
    assert len(halo.sleeps.calls) == 5 and halo.tokens.asked == [None]


@pytest.mark.parametrize(("kind", "said"), [("malformed", "malformed JSON"), ("html", "an HTML page instead of JSON")])
async def test_persistently_bad_bodies_fail_retryably(kind: str, said: str) -> None:
    halo = Halo()
    halo.inject(kind, times=None)
    with pytest.raises(HaloReadFailed) as exc:
        await halo.api.page(INVOICES, 3, 100)
    assert exc.value.retryable and f"HaloPSA answered page 3 of Invoice with {said}" in exc.value.reason
    assert len(halo.statuses()) == BODY_ATTEMPTS


async def test_unexpected_shapes() -> None:
    halo = Halo()
    halo.inject("status", status=200, body=[{"id": 1}, {"id": 2}])  # paging ignored: a bare array
    page = await halo.api.page(INVOICES, 1, 100)
    assert [r["id"] for r in page.records] == [1, 2] and page.record_count == 2
    halo.inject("status", status=200, body={"record_count": 1, "clients": []}, times=None)
    with pytest.raises(HaloReadFailed, match="has no 'invoices' list") as exc:
        await halo.api.page(INVOICES, 1, 100)
    assert exc.value.retryable
    halo.state.controls.clear_faults()
    halo.inject("status", status=200, body=[1, 2], times=None)
    with pytest.raises(HaloReadFailed, match="JSON that is not a record"):
        await halo.api.record(INVOICES, 1)


async def test_gives_up_on_persistent_503_retryably() -> None:
    halo = Halo()
    halo.inject("status", status=503, times=None)
    with pytest.raises(HaloReadFailed) as exc:
        await halo.api.page(INVOICES, 1, 100)
    assert exc.value.retryable and "HaloPSA kept answering 503 after 5 attempts" in exc.value.reason


async def test_persistent_timeouts_say_so() -> None:
    halo = Halo(timeout=0.02)
    halo.api.policy = RetryPolicy(max_attempts=2)
    halo.inject("timeout", delay=1.0, times=None)
    with pytest.raises(HaloReadFailed, match="HaloPSA timed out 2 times in a row on page 1 of Invoice") as exc:
        await halo.api.page(INVOICES, 1, 100)
    assert exc.value.retryable


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_refused_token_is_replaced_once(how: str) -> None:
    halo = Halo()
    halo.state.seed(clients=3, invoices=30)
    await halo.api.page(INVOICES, 1, 10)
    first = halo.state.controls.requests("GET")[0].headers["authorization"].removeprefix("Bearer ")
    if how == "expired":
        halo.state.controls.clock.advance(seconds=halo.state.limits.token_ttl_seconds + 1)
    else:
        halo.state.revoke_tokens()  # Halo may drop a token before its expiry
    page = await halo.api.page(INVOICES, 2, 10)
    assert len(page.records) == 10
    assert halo.tokens.asked == [None, first]  # told which token was refused
    assert halo.statuses() == [200, 401, 200]


async def test_second_401_is_not_retryable() -> None:
    halo = Halo()

    async def dud(stale: str | None) -> str:
        halo.tokens.asked.append(stale)
        return f"not-a-token-{len(halo.tokens.asked)}"

    halo.api = HaloApi(halo.api.http, "https://acme.halopsa.test", dud, sleep=halo.sleeps)
    with pytest.raises(HaloReadFailed) as exc:
        await halo.api.record(INVOICES, 1)
    assert not exc.value.retryable and "credentials" in exc.value.reason
    assert halo.tokens.asked == [None, "not-a-token-1"] and halo.statuses() == [401, 401]


async def test_missing_scope_is_not_retryable() -> None:
    halo = Halo(scopes="read:customers")
    halo.state.seed(clients=3, invoices=3)
    assert (await halo.api.page(HaloResource.CLIENTS, 1, 10)).records
    with pytest.raises(HaloReadFailed) as exc:
        await halo.api.page(INVOICES, 1, 10)
    assert not exc.value.retryable
    assert exc.value.reason.startswith(
        "HaloPSA refused access to Invoice (403): the API application needs read:invoices"
    )
    assert halo.statuses() == [200, 403] and halo.sleeps.calls == []


async def test_other_4xx_carries_halos_message() -> None:
    halo = Halo()
    with pytest.raises(HaloReadFailed) as exc:
        await halo.api.page(INVOICES, 1, 10, {"order": "nope"})
    assert not exc.value.retryable and exc.value.reason.endswith("(400): Cannot order Invoice by 'nope'.")


def test_api_base_accepts_the_forms_msps_paste() -> None:
    for url in (
        "https://x.halopsa.com",
        "https://x.halopsa.com/",
        "https://x.halopsa.com/api",
        "https://x.halopsa.com/API/",
    ):
        assert api_base(url) == "https://x.halopsa.com/api"
