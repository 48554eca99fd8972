"""Reading an MSP's HaloPSA instance: pages of records and single records (the `HaloReader` port).

Every failure leaves here as `HaloReadFailed` with a reason an MSP can act on. Three layers of retry:
- `send_with_retries` rides out 429 (after Retry-After), 5xx, timeouts and dropped connections;
- a 401 gets one new token (Halo may revoke a token before its expiry), then the call is repeated once;
- a 2xx whose body is not what Halo sends (a proxy's HTML page, a truncated body) is fetched again a few
  times, since proxies in front of Halo answer 200 with their own error pages.
Records stay raw dicts; the mapping layer validates their fields.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import msgspec

from adapters.http.limiter import RateLimiter
from adapters.http.retry import RetryPolicy, Sleep, VendorUnavailable, send_with_retries
from domain.connections import NeedsReauth, VendorRefused
from domain.errors import NotFound
from domain.halopsa import HaloPage, HaloReadFailed, HaloResource
from domain.ports import Clock, ConnectionsUnitOfWork
from domain.usecases.connections import CredentialsFlow, fresh_access_token

# Called with None for any token, or with the token Halo just refused so the source gets a new one.
TokenSource = Callable[[str | None], Awaitable[str]]

LIST_KEYS = {
    HaloResource.CLIENTS: "clients",
    HaloResource.AGREEMENTS: "contracts",
    HaloResource.INVOICES: "invoices",
    HaloResource.PAYMENTS: "payments",
}
# The scope a 403 most likely lacks (payments belong to invoicing) [providers.md §1].
READ_SCOPES = {
    HaloResource.CLIENTS: "read:customers",
    HaloResource.AGREEMENTS: "read:contracts",
    HaloResource.INVOICES: "read:invoices",
    HaloResource.PAYMENTS: "read:invoices",
}
BODY_ATTEMPTS = 3  # fetches of one page or record whose body is not Halo's JSON, before giving up
_decode = msgspec.json.Decoder()
T = TypeVar("T")


class _BadBody(Exception):
    """The answer was 2xx but not Halo's JSON; the message completes "HaloPSA answered <what> with ..."."""


class HaloApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        resource_url: str,
        token: TokenSource,
        *,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.http = http
        self.base = api_base(resource_url)
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self._token_source = token
        self._sleep = sleep
        self._token: str | None = None

    async def page(
        self, resource: HaloResource, page_no: int, page_size: int, params: dict[str, str] | None = None
    ) -> HaloPage:
        # Ours come last so a caller's params cannot turn paging off or move the page.
        query = {**(params or {}), "pageinate": "true", "page_size": str(page_size), "page_no": str(page_no)}
        key = LIST_KEYS[resource]
        page = await self._read(
            resource,
            resource.value,
            query,
            f"page {page_no} of {resource.value}",
            lambda body: _as_page(body, key, page_no, page_size),
        )
        if page is None:
            raise HaloReadFailed(
                f"HaloPSA has no {resource.value} list here (404): check the resource URL", retryable=False
            )
        return page

    async def record(
        self, resource: HaloResource, record_id: int, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        what = f"{resource.value} {record_id}"
        return await self._read(resource, f"{resource.value}/{record_id}", params or {}, what, _as_record)

    async def _read(
        self, resource: HaloResource, path: str, params: dict[str, str], what: str, shape: Callable[[Any], T]
    ) -> T | None:
        """`shape` of the decoded body of a 2xx, or None for a 404. A body that is not Halo's JSON (or not
        the shape `shape` expects) is fetched again: a proxy or a cut connection is the likely cause."""
        for attempt in range(BODY_ATTEMPTS):
            response = await self._fetch(resource, path, params, what)
            if response.status_code == 404:
                return None
            try:
                return shape(_decoded(response))
            except _BadBody as exc:
                problem = str(exc)
            if attempt + 1 < BODY_ATTEMPTS:
                await self._sleep(self.policy.backoff(attempt))
        raise HaloReadFailed(f"HaloPSA answered {what} with {problem} ({BODY_ATTEMPTS} attempts)")

    async def _fetch(self, resource: HaloResource, path: str, params: dict[str, str], what: str) -> httpx.Response:
        """A 2xx or 404 answer; every other outcome is a HaloReadFailed."""
        token = self._token or await self._new_token(None)
        response = await self._send(path, params, token, what)
        if response.status_code == 401:
            response = await self._send(path, params, await self._new_token(token), what)
            if response.status_code == 401:
                raise HaloReadFailed(
                    f"HaloPSA refused arbridge's credentials (401) twice for {what}, even with a new token: check "
                    "that the API application in Halo is active and its client ID and secret are unchanged",
                    retryable=False,
                )
        _check_status(response, resource, what)
        return response

    async def _new_token(self, stale: str | None) -> str:
        # A concurrent call may already have replaced the refused token: use that instead of asking again.
        if self._token is None or self._token == stale:
            try:
                self._token = await self._token_source(stale)
            except NeedsReauth as exc:  # Halo refused the stored credentials for good
                raise HaloReadFailed(str(exc), retryable=False) from exc
            except NotFound as exc:
                raise HaloReadFailed("HaloPSA was disconnected from arbridge during the read", retryable=False) from exc
            except VendorRefused as exc:  # Halo's token endpoint failed for now (down, odd answer)
                raise HaloReadFailed(f"HaloPSA would not issue an access token: {exc}") from exc
        return self._token

    async def _send(self, path: str, params: dict[str, str], token: str, what: str) -> httpx.Response:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
        request = self.http.build_request("GET", f"{self.base}/{path}", params=params, headers=headers)
        try:
            return await send_with_retries(
                self.http, request, policy=self.policy, limiter=self.limiter, sleep=self._sleep
            )
        except VendorUnavailable as exc:
            raise HaloReadFailed(_gave_up(exc, what, self.policy.max_attempts)) from exc
        except httpx.HTTPError as exc:  # not a transport failure send_with_retries retries (e.g. bad encoding)
            raise HaloReadFailed(f"HaloPSA's answer to {what} could not be read ({type(exc).__name__})") from exc


def api_base(resource_url: str) -> str:
    """`https://x.halopsa.com`, with or without a trailing slash or `/api`, to `https://x.halopsa.com/api`."""
    base = resource_url.rstrip("/")
    if base.lower().endswith("/api"):
        base = base[:-4]
    return f"{base}/api"


def _gave_up(exc: VendorUnavailable, what: str, attempts: int) -> str:
    if exc.response is not None:
        status = exc.response.status_code
        note = " (too many requests)" if status == 429 else ""
        return f"HaloPSA kept answering {status}{note} after {attempts} attempts at {what}"
    if isinstance(exc.__cause__, httpx.TimeoutException):
        return f"HaloPSA timed out {attempts} times in a row on {what}"
    cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection failure"
    return f"HaloPSA could not be reached for {what} after {attempts} attempts ({cause})"


def _check_status(response: httpx.Response, resource: HaloResource, what: str) -> None:
    status = response.status_code
    if response.is_success or status == 404:
        return
    if status == 403:
        # Halo sends no body with a 403; the effective permission is the app's scopes and its agent's rights.
        raise HaloReadFailed(
            f"HaloPSA refused access to {resource.value} (403): the API application needs "
            f"{READ_SCOPES[resource]}, and the agent it logs in as must be allowed to see them",
            retryable=False,
        )
    snippet = " ".join(response.content[:300].decode("utf-8", "replace").split())[:200] or "no message"
    # A 5xx that the retry policy does not repeat (501, a CDN's 52x) may still pass; asking later can help.
    raise HaloReadFailed(f"HaloPSA refused {what} ({status}): {snippet}", retryable=status >= 500)


def _decoded(response: httpx.Response) -> Any:
    content = response.content
    if "html" in response.headers.get("content-type", "").lower():
        raise _BadBody("an HTML page instead of JSON")
    try:
        return _decode.decode(content)
    except msgspec.DecodeError as exc:
        # Classified only on failure, so a good body is never scanned or copied twice.
        head = content[:200].lstrip()
        if head[:1] == b"<":
            raise _BadBody("an HTML page instead of JSON") from None
        raise _BadBody("an empty body instead of JSON" if not head else f"malformed JSON ({exc})") from None


def _as_page(body: Any, key: str, page_no: int, page_size: int) -> HaloPage:
    if isinstance(body, list):
        # A bare array means Halo ignored `pageinate` and sent the whole (count-capped) result at once.
        return HaloPage(_records(body), len(body), page_no, page_size)
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise _BadBody(f"JSON that has no '{key}' list")
    count = body.get("record_count")
    if type(count) is not int:
        raise _BadBody("JSON that has no record_count")
    # Halo clamps page_size and says so; the caller must step by what was used, not by what it asked.
    used_no, used_size = body.get("page_no"), body.get("page_size")
    return HaloPage(
        _records(body[key]),
        count,
        used_no if type(used_no) is int else page_no,
        used_size if type(used_size) is int and used_size > 0 else page_size,
    )


def _records(items: list[Any]) -> list[dict[str, Any]]:
    if not all(isinstance(item, dict) for item in items):
        raise _BadBody("a list whose entries are not records")
    return items


def _as_record(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _BadBody("JSON that is not a record")
    return body


def token_source(
    uow_factory: Callable[[], ConnectionsUnitOfWork], clock: Clock, flow: CredentialsFlow, connection_id: uuid.UUID
) -> TokenSource:
    """Tokens from the stored connection; each ask opens its own unit of work, so the row lock of the
    single-flight refresh is held only while a token is fetched, never during a page read."""

    async def source(stale: str | None) -> str:
        async with uow_factory() as uow:
            return await fresh_access_token(uow, clock, flow, connection_id, stale=stale)

    return source
