"""The HaloPSA sandbox over real HTTP for benchmarks/halopsa_sync.py, and the fetch-only baseline.

`halo_sandbox` serves benchmarks/support/halo_server.py with uvicorn in its own process on a loopback port;
`sandbox_call` drives its benchmark controls (/bench/...); `reader` is the engine's own HaloApi over a real
httpx client; `fetch_only` pages through everything a full sync reads, decoding each page, and stores nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx

from adapters.halopsa.api import HaloApi
from benchmarks.support.halo_bench_cpu import OtherCpu
from benchmarks.support.halo_bench_measure import Measured, measuring
from benchmarks.support.servers import Served, uvicorn_server
from domain.halopsa import HaloResource
from domain.halosync.phases import phase_for
from domain.halosync.runs import PHASES, SyncMode


@contextlib.contextmanager
def halo_sandbox(name: str, clients: int, invoices: int, lines: int, latency_ms: float = 0) -> Iterator[Served]:
    """A seeded sandbox; `latency_ms` delays each of its /api/... answers (BENCH_HALO_LATENCY_MS)."""
    server_env = {
        **os.environ,
        "BENCH_HALO_CLIENTS": str(clients),
        "BENCH_HALO_INVOICES": str(invoices),
        "BENCH_HALO_LINES": str(lines),
        "BENCH_HALO_LATENCY_MS": str(latency_ms),
    }
    # Seeding happens in the factory, before the server answers /health: allow for 50k+ invoices.
    with uvicorn_server(name, "benchmarks.support.halo_server:create_app", server_env, timeout=180) as served:
        yield served


async def sandbox_call(served: Served, method: str, path: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(300.0)) as http:
        r = await http.request(method, served.url + path, params=params)
    r.raise_for_status()
    return dict(r.json())


async def sandbox_stats(served: Served) -> dict[str, Any]:
    """Record counts, the server's RSS, its request log's length and the latency it applies."""
    return await sandbox_call(served, "GET", "/bench/stats")


def reader(served: Served) -> tuple[HaloApi, httpx.AsyncClient]:
    """The engine's production reader (retries, 401 handling, msgspec decoding) over a real HTTP client."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(60.0))

    async def token(_stale: str | None) -> str:
        r = await http.post(served.url + "/bench/token")
        r.raise_for_status()
        return str(r.json()["token"])

    return HaloApi(http, served.url, token), http


def engine_params(resource: HaloResource) -> dict[str, str]:
    """What a full sync asks Halo for, from the engine itself, so the baseline cannot drift from it."""
    phase = phase_for(resource, SyncMode.FULL, {}, timedelta(0))
    assert phase is not None
    return dict(phase.params)


async def fetch_only(served: Served, page_size: int) -> Measured:
    """The floor: every page of the four resources read and decoded exactly as the engine reads them, one
    after another, with no database."""
    api, http = reader(served)
    pages: dict[str, int] = {}
    records: dict[str, int] = {}
    try:
        with OtherCpu(None, served.pid) as other:
            async with measuring() as m:
                await _read_everything(api, page_size, pages, records)
    finally:
        await http.aclose()
    m.extra = {"pages": pages, "records": records, **other.as_json()}
    return m


async def _read_everything(api: HaloApi, page_size: int, pages: dict[str, int], records: dict[str, int]) -> None:
    for resource in PHASES:
        params = engine_params(resource)
        page_no = 1
        while True:
            page = await api.page(resource, page_no, page_size, params)
            pages[resource.value] = pages.get(resource.value, 0) + 1
            records[resource.value] = records.get(resource.value, 0) + len(page.records)
            if len(page.records) < page.page_size or page_no * page.page_size >= page.record_count:
                break
            page_no += 1
