"""arq behind a small surface, so a later move to another queue touches only this package and workers/."""

from __future__ import annotations

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings


def redis_settings(url: str) -> RedisSettings:
    """redis://host:port/db, rediss://..., or unix:///path/to/redis.sock (the embedded server)."""
    return RedisSettings.from_dsn(url)


async def connect(url: str) -> ArqRedis:
    return await create_pool(redis_settings(url))


HANDLE_EVENT = "handle_event"
# Events whose handling is long work (a HaloPSA sync runs for minutes) go to a job function of their own, with
# its own timeout, so every other event keeps a short one (arq also waits that long before re-running a job
# whose worker died).
HANDLE_LONG_EVENT = "handle_long_event"
LONG_EVENTS = frozenset({"sync.requested"})


async def enqueue_event(
    redis: ArqRedis, queue_name: str, tenant_id: str, event_id: str, event_type: str | None = None
) -> bool:
    """Enqueue the event job; the job id is the outbox id, so a second enqueue of the same event is a no-op
    while arq still remembers the job (queued, running, or its result kept)."""
    function = HANDLE_LONG_EVENT if event_type in LONG_EVENTS else HANDLE_EVENT
    job = await redis.enqueue_job(function, tenant_id, event_id, _job_id=event_id, _queue_name=queue_name)
    return job is not None
