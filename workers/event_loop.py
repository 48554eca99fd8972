"""The worker's event loop: uvloop's.

A worker's jobs are mostly I/O on sockets (PostgreSQL, Redis, the vendors' HTTP APIs), several round trips per
job, so the event loop's own overhead per read and write is a large share of its CPU. uvloop (libuv, in C;
installed with uvicorn[standard], which serves the API) does that work for a fraction of asyncio's pure-Python
selector loop. arq binds a worker to the loop current when the worker is built, so the loop is installed first.
"""

from __future__ import annotations

import asyncio

import uvloop


def install() -> asyncio.AbstractEventLoop:
    """A new uvloop loop, made the current one (build the arq worker after this)."""
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop
