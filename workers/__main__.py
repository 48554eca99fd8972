"""Run the worker on its own: `python -m workers` (jobs plus the outbox relay), configured from the environment."""

from __future__ import annotations

import asyncio
import logging

from adapters.config import Settings
from workers.settings import build_worker


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    worker = build_worker(Settings.from_env())
    worker.handle_signals = True
    asyncio.run(worker.main())


if __name__ == "__main__":
    main()
