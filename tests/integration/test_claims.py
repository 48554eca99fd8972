"""The worker claims the jobs it picks in one round trip, with arq's rules: a job another worker holds, one
deferred or finished since it was read, is left alone; every other job runs once; at most max_jobs at a time."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import func
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.worker import Function

from tests.integration import outbox_support
from tests.integration.outbox_support import WAIT, Queue, run_burst_worker
from workers.settings import build_worker

queue = outbox_support.queue  # the fixture: a queue of the test's own

RAN: list[str] = []
RUNNING: list[int] = [0, 0]  # now, most at once


def _counted(name: str, running: list[int], seconds: float) -> Function:
    """A job `name` that takes `seconds`, counting in `running` how many of it run now and at most."""

    async def job(ctx: dict[str, Any], label: str) -> str:
        running[0] += 1
        running[1] = max(running)
        await asyncio.sleep(seconds)
        running[0] -= 1
        RAN.append(label)
        return label

    return func(job, name=name)


note = _counted("note", RUNNING, 0.01)


async def _forget(queue: Queue, ids: list[str]) -> None:
    prefixes = (job_key_prefix, result_key_prefix, retry_key_prefix, in_progress_key_prefix)
    await queue.redis.delete(*(p + j for j in ids for p in prefixes))


async def test_every_job_runs_once_and_no_more_than_max_jobs_at_a_time(queue: Queue) -> None:
    RAN.clear()
    RUNNING[:] = [0, 0]
    ids = [f"claims-{queue.name}-{i}" for i in range(30)]
    for i, job_id in enumerate(ids):
        assert await queue.redis.enqueue_job("note", f"job-{i}", _job_id=job_id, _queue_name=queue.name)
    try:
        worker = await run_burst_worker(queue, functions=[note], max_jobs=7, poll_delay=0.01)
        assert sorted(RAN) == sorted(f"job-{i}" for i in range(30))
        assert worker.jobs_complete == 30 and worker.jobs_failed == worker.jobs_retried == 0
        assert RUNNING[1] <= 7
    finally:
        await _forget(queue, ids)


async def test_held_deferred_and_finished_jobs_are_not_claimed(queue: Queue) -> None:
    RAN.clear()
    names = ("due", "held", "deferred", "finished")
    ids = {n: f"claims-{queue.name}-{n}" for n in names}
    for n in names:  # all read as due by the worker's poll, then things changed before it claimed them:
        assert await queue.redis.enqueue_job("note", n, _job_id=ids[n], _queue_name=queue.name)
    await queue.redis.psetex(in_progress_key_prefix + ids["held"], 60_000, b"1")  # another worker runs it
    await queue.redis.zadd(queue.name, {ids["deferred"]: 2**50})  # deferred (a retry's backoff)
    await queue.redis.zrem(queue.name, ids["finished"])  # done and removed by another worker
    worker = build_worker(
        queue.settings, burst=True, run_relay_task=False, functions=[note], cron_jobs=[], redis_pool=queue.redis
    )
    try:
        await worker.start_jobs([ids[n].encode() for n in names])
        assert list(worker.tasks) == [ids["due"]] and worker.job_counter == 1
        await asyncio.wait_for(asyncio.gather(*worker.tasks.values()), WAIT)
        assert RAN == ["due"] and worker.job_counter == 0
        for n in ("deferred", "finished"):
            assert await queue.redis.get(in_progress_key_prefix + ids[n]) is None
    finally:
        await _forget(queue, list(ids.values()))


async def test_closing_with_a_job_cancelled_mid_finish_still_closes_everything(queue: Queue) -> None:
    """Stopping cancels the jobs in flight; one cancelled while recording its result ends cancelled. That is
    what stopping means: close() still runs the worker's shutdown and closes its Redis pool."""
    shut_down: list[bool] = []

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        shut_down.append(True)

    worker = build_worker(queue.settings, burst=True, run_relay_task=False, cron_jobs=[], on_shutdown=on_shutdown)
    await worker.main()  # an empty queue: connects, then returns
    unfinished = asyncio.create_task(asyncio.sleep(60))  # stands for a job still finishing when stop comes
    worker.tasks["finishing"] = unfinished
    await worker.close()
    assert unfinished.cancelled() and shut_down == [True] and worker._pool is None


async def test_a_claim_that_fails_gives_its_slots_back(queue: Queue) -> None:
    worker = build_worker(queue.settings, burst=True, run_relay_task=False, cron_jobs=[], max_jobs=3)

    async def unreachable(job_ids: list[str]) -> list[tuple[str, int]]:
        raise ConnectionError("Redis went away")

    worker._claim_jobs = unreachable  # type: ignore[method-assign]
    free = worker.sem._value  # arq's semaphore holds max_jobs + 1
    try:
        await worker.start_jobs([b"a", b"b", b"c"])
    except ConnectionError:
        pass
    else:
        raise AssertionError("the claim's error must reach the poll loop")
    assert worker.job_counter == 0 and worker.sem._value == free  # every slot free again


LANE: list[int] = [0, 0]  # lane jobs running now, most at once
long_run = _counted("long_run", LANE, 0.05)


async def test_a_lanes_jobs_never_run_more_than_its_limit_and_leave_the_other_slots_free(queue: Queue) -> None:
    """Ten long jobs of a lane limited to 2, queued before five others: never more than 2 of them run at once,
    and the others are not kept waiting behind them (each poll claims them past the lane's queued jobs)."""
    RAN.clear()
    LANE[:] = [0, 0]
    lane_ids = [f"lane:{queue.name}-{i}" for i in range(10)]
    other_ids = [f"claims-{queue.name}-other-{i}" for i in range(5)]
    for i, job_id in enumerate(lane_ids):
        assert await queue.redis.enqueue_job("long_run", f"run-{i}", _job_id=job_id, _queue_name=queue.name)
    for i, job_id in enumerate(other_ids):
        assert await queue.redis.enqueue_job("note", f"other-{i}", _job_id=job_id, _queue_name=queue.name)
    try:
        worker = await run_burst_worker(
            queue, functions=[note, long_run], max_jobs=20, poll_delay=0.01, lanes={"lane:": 2}
        )
        assert worker.jobs_complete == 15 and worker.jobs_failed == worker.jobs_retried == 0
        assert LANE[1] == 2  # the lane filled, never beyond
        # The other jobs ran while the lane's first jobs were still running, not after all ten.
        assert max(RAN.index(f"other-{i}") for i in range(5)) < RAN.index("run-2")
        assert worker.lane_running == {"lane:": 0}
    finally:
        await _forget(queue, lane_ids + other_ids)
