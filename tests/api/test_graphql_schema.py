"""The committed SDL matches the code, and the schema builds without deprecated strawberry usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.graphql import export
from api.graphql.scalars import INT64_MAX, INT64_MIN, parse_minor_units, serialize_minor_units

ROOT = Path(__file__).resolve().parents[2]


def test_committed_sdl_matches_the_code() -> None:
    assert export.SDL_PATH.exists(), "run `python -m api.graphql.export` and commit api/graphql/schema.graphql"
    committed = export.SDL_PATH.read_text(encoding="utf-8")
    current = export.render_sdl()
    assert committed == current, (
        "api/graphql/schema.graphql is stale; run `python -m api.graphql.export` and commit it:\n"
        + export.sdl_diff(committed, current)
    )


def test_export_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { gone: Int }\n", encoding="utf-8")
    monkeypatch.setattr(export, "SDL_PATH", stale)
    assert export.main(["--check"]) == 1
    assert export.main([]) == 0
    assert export.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == export.render_sdl()


def test_sdl_declares_the_money_scalar_and_error_unions() -> None:
    sdl = export.render_sdl()
    assert "scalar MinorUnits" in sdl
    assert "amount: MinorUnits!" in sdl
    assert "union CreateInvoiceResult = Invoice | ValidationError | DuplicateInvoiceNumber" in sdl
    assert "union VoidInvoiceResult = Invoice | NotFound | InvalidState" in sdl
    assert "type Subscription" not in sdl


def test_schema_builds_without_deprecation_warnings() -> None:
    # A fresh interpreter: in this one the schema was imported (and warned, if it does) long ago.
    run = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-c", "import api.graphql.endpoint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    ours = [line for line in run.stderr.splitlines() if "DeprecationWarning" in line and "api/graphql" in line]
    assert not ours, run.stderr


@pytest.mark.parametrize("value", [0, 1, -5, 2**31, 10**15, INT64_MAX, INT64_MIN])
def test_minor_units_accepts_64_bit_integers(value: int) -> None:
    assert parse_minor_units(value) == value
    assert serialize_minor_units(value) == value


@pytest.mark.parametrize("value", [1.5, 10.0, "100", None, True, INT64_MAX + 1, INT64_MIN - 1, 10**30])
def test_minor_units_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValueError, match="MinorUnits"):
        parse_minor_units(value)
