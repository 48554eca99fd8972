"""arq's worker, claiming the jobs it picks in one Redis round trip per poll instead of four per job.

arq starts each job it read from the queue with WATCH, EXISTS, ZSCORE and MULTI/PSETEX/EXEC: four round trips,
job after job, before the job runs. For short jobs (a payment is a few milliseconds of our CPU) that is a good
part of the worker's time. `ClaimingWorker.start_jobs` makes the same check-and-claim for every job it has room
for in one Lua script (atomic in Redis, as WATCH/MULTI is): a job is claimed when no worker holds it (no
in-progress key), it is still queued, and it is due; its in-progress key is then set with arq's own timeout.
Everything after the claim (running, retrying, finishing, results) is arq's.

Lanes: a job whose id starts with a lane's prefix (`lanes={"payment-run:": 3}`) runs only while fewer than the
lane's limit of them are running here; the others are left in the queue, unclaimed, for a later poll. Long jobs
of one kind (autopay's runs) thus never fill the worker's max_jobs slots while they wait their turn: the slots
stay free for every other job (the outbox's events, webhooks). A poll reads at most queue_read_limit due jobs,
so a queue holding more of a lane's jobs than that, due before the others, still delays the others until the
lane drains below it.

`close` is arq's too, with one difference: arq's gathers the jobs it has just cancelled and re-raises a
cancellation, so a job cancelled while recording its result made stopping the worker fail half-way (the
engine and the Redis pool left open). Here a cancelled job is what stopping means, not an error.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

# KEYS: the queue, then each job's in-progress key; ARGV: now (ms), the in-progress timeout (ms), the job ids.
# Returns the claimed jobs as [id, score, id, score, ...].
_CLAIM = """
local claimed = {}
for i = 3, #ARGV do
    local key = KEYS[i - 1]
    if redis.call('EXISTS', key) == 0 then
        local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
        if score and tonumber(score) <= tonumber(ARGV[1]) then
            redis.call('PSETEX', key, ARGV[2], '1')
            claimed[#claimed + 1] = ARGV[i]
            claimed[#claimed + 1] = score
        end
    end
end
return claimed
"""


class ClaimingWorker(Worker):
    def __init__(self, *args: Any, lanes: dict[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claim: Any = None
        self.lanes = dict(lanes or {})  # job id prefix -> how many such jobs may run here at once
        self.lane_running = dict.fromkeys(self.lanes, 0)

    def lane_of(self, job_id: str) -> str | None:
        return next((prefix for prefix in self.lanes if job_id.startswith(prefix)), None)

    def _admitted(self, job_ids: list[str]) -> list[str]:
        """The ids this poll may claim, in order: a lane's beyond its free room stay queued for a later poll."""
        room = {prefix: limit - self.lane_running[prefix] for prefix, limit in self.lanes.items()}
        admitted = []
        for job_id in job_ids:
            lane = self.lane_of(job_id)
            if lane is not None:
                if room[lane] <= 0:
                    continue
                room[lane] -= 1
            admitted.append(job_id)
        return admitted

    def _lane_done(self, lane: str, _task: object) -> None:
        self.lane_running[lane] -= 1

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """For the job ids read from the queue, in order (those of a full lane left queued): take a slot (waiting
        for one while max_jobs run, as arq does), then every other free slot without waiting; claim that many
        jobs at once; start them."""
        pending = self._admitted([j.decode() for j in job_ids])
        while pending:
            await self.sem.acquire()
            room = self.max_jobs - self.job_counter
            if room <= 0:
                self.sem.release()
                return
            taken = 1
            while taken < min(room, len(pending)) and not self.sem.locked():
                await self.sem.acquire()  # free: returns at once
                taken += 1
            batch, pending = pending[:taken], pending[taken:]
            self.job_counter += taken
            try:
                claimed = await self._claim_jobs(batch)
            except BaseException:  # Redis unreachable: give the slots back, as if nothing was claimed
                self.job_counter -= taken
                for _ in range(taken):
                    self.sem.release()
                raise
            for _ in range(taken - len(claimed)):  # already running elsewhere, finished, or deferred meanwhile
                self.job_counter -= 1
                self.sem.release()
            for job_id, score in claimed:
                t = self.loop.create_task(self.run_job(job_id, score))
                t.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
                if (lane := self.lane_of(job_id)) is not None:
                    self.lane_running[lane] += 1
                    t.add_done_callback(functools.partial(self._lane_done, lane))
                self.tasks[job_id] = t

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)  # cancels the jobs in flight: arq hands them back to the queue
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None

    async def _claim_jobs(self, job_ids: list[str]) -> list[tuple[str, int]]:
        if self._claim is None:
            self._claim = self.pool.register_script(_CLAIM)  # EVALSHA, loading the script when Redis lacks it
        keys = [self.queue_name, *(in_progress_key_prefix + j for j in job_ids)]
        args = [timestamp_ms(), int(self.in_progress_timeout_s * 1000), *job_ids]
        flat = await self._claim(keys=keys, args=args)
        return [(_text(flat[i]), int(float(_text(flat[i + 1])))) for i in range(0, len(flat), 2)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
