"""Apply Alembic migrations programmatically (the dev runner, the CLI and the test suite use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]


def upgrade(owner_url: str, revision: str = "head") -> None:
    """Synchronous (Alembic runs its own event loop): call it via asyncio.to_thread from async code."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["owner_url"] = owner_url
    command.upgrade(cfg, revision)
