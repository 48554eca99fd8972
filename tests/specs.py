"""The vendors' own specs live beside the project (../shared/specs), never inside it. CI lays them out
there; elsewhere ARBRIDGE_SPECS_DIR points at them, and without them the conformance tests skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SPECS_DIR = Path(os.environ.get("ARBRIDGE_SPECS_DIR") or Path(__file__).resolve().parents[2] / "shared" / "specs")


def spec_file(*parts: str) -> Path:
    path = SPECS_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"vendor spec not found at {path} (set ARBRIDGE_SPECS_DIR)")
    return path
