"""The sync's shortcuts give exactly what the plain ways give: amounts, dates, ids, and the page pipeline."""

from __future__ import annotations

import asyncio
import pickle
import random
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from domain.halopsa import HaloPage, HaloResource
from domain.halosync.ids import IdSource, new_ids
from domain.halosync.pages import NextPage, overlapped
from domain.halosync.records import BadRecord, date_of, decimal_of, instant_of, minor_of
from domain.halosync.settings import SyncSettings


def _by_decimal(value: object, currency: str) -> int:
    """minor_of as it was: the exact decimal text, scaled and rounded half-up."""
    exponent = {"USD": 2, "JPY": 0, "KWD": 3}[currency]
    return int(decimal_of(value, "x").scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_amounts_read_fast_are_the_amounts_read_through_their_decimal_text() -> None:
    rng = random.Random(7)
    values: list[object] = [rng.uniform(-1e6, 1e6) for _ in range(3000)]
    values += [round(rng.uniform(0, 1e9), 2) for _ in range(3000)] + [round(rng.uniform(0, 99), 3) for _ in range(500)]
    values += [0.0, -0.0, 0.005, 1.005, 2.675, 0.1 + 0.2, 12.5, 9_999_999_999.99, 3, -7, 10**10, "12.34", "7"]
    for currency in ("USD", "JPY", "KWD"):
        for value in values:
            fast = minor_of(value, "x", currency, allow_negative=True)
            assert fast == _by_decimal(value, currency), (value, currency)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, None, "12,5", 1e300])
def test_what_is_not_an_amount_is_still_a_bad_record(value: object) -> None:
    with pytest.raises(BadRecord):
        minor_of(value, "total", "USD")


def test_dates_read_through_the_cache_are_the_dates_read_in_full() -> None:
    for text in ("2025-11-25T00:00:00Z", "2025-11-25T23:30:00-02:00", "2025-11-25", " 2025-11-25T10:00:00Z "):
        assert date_of(text, "duedate") == instant_of(text, "duedate").date()
    assert date_of("2025-11-25T23:30:00-02:00", "duedate").isoformat() == "2025-11-26"  # in UTC
    assert instant_of("2025-11-25T22:07:25.870Z", "x") == datetime(2025, 11, 25, 22, 7, 25, 870000, tzinfo=UTC)
    for bad in ("25/11/2025", "", 20251125):
        with pytest.raises(BadRecord):
            date_of(bad, "duedate")


def test_ids_made_a_block_at_a_time_are_uuid7_unique_and_in_order() -> None:
    ids = new_ids(5000)  # more than the 12-bit counter holds: the next millisecond is borrowed
    assert len(set(ids)) == 5000 and ids == sorted(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert all(uuid.UUID(str(i)) == i and hash(uuid.UUID(int=i.int)) == hash(i) for i in ids[:50])
    assert pickle.loads(pickle.dumps(ids[0])) == ids[0]
    source = IdSource(block=3)
    handed = [source() for _ in range(7)]
    assert len(set(handed)) == 7 and handed[:3] == sorted(handed[:3])


async def test_the_next_page_is_mapped_while_the_statement_runs() -> None:
    steps: list[str] = []
    answer = asyncio.get_running_loop().create_future()

    async def statement() -> str:
        steps.append("sent")
        return await answer

    def meanwhile() -> None:
        steps.append("mapped")
        answer.set_result("written")

    assert await overlapped(statement(), meanwhile) == "written"
    assert steps == ["sent", "mapped"]


async def test_a_page_not_fetched_in_time_is_mapped_when_taken() -> None:
    raw = {"id": 1, "name": "Acme", "inactive": False}
    fetch = asyncio.get_running_loop().create_future()
    ahead = NextPage(fetch, HaloResource.CLIENTS, SyncSettings())
    ahead.prepare_now()  # not fetched yet: nothing to map
    assert ahead.prepared is None
    fetch.set_result(HaloPage([raw, "not a record"], 2, 1, 100))
    page, prepared = await ahead.page()
    assert page.records[0] is raw and prepared.raws == [raw] and prepared.mapped[0].name == "Acme"

    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(RuntimeError("Halo is down"))
    broken = NextPage(failed, HaloResource.CLIENTS, SyncSettings())
    broken.prepare_now()  # a failed fetch is left for the page loop to raise
    with pytest.raises(RuntimeError):
        await broken.page()
