"""Run the worker on its own: `python -m workers` (jobs plus the outbox relay), configured from the environment."""

from __future__ import annotations

import logging

from adapters.config import Settings
from workers import event_loop
from workers.settings import build_worker


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # arq's Worker binds to the event loop current when it is built and starts every job on that loop, so it
    # must run on that same loop: Worker.run(), not asyncio.run(worker.main()) (a second loop, on which the
    # jobs were never run). handle_signals must be given at construction: arq installs its SIGTERM/SIGINT
    # handlers (cancel jobs in flight so they go back to the queue, then run on_shutdown) in __init__.
    event_loop.install()
    worker = build_worker(Settings.from_env(), handle_signals=True)
    worker.run()


if __name__ == "__main__":
    main()
