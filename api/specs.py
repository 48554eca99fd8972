"""The committed API specs, generated from the code: `python -m api.specs` (or `make specs`) rewrites them;
tests/architecture/test_spec_drift.py fails when they differ from what the code generates."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.config import Settings
from api.app import create_app
from api.graphql.schema import schema

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_PATH = ROOT / "openapi" / "openapi.json"
SDL_PATH = ROOT / "api" / "graphql" / "schema.graphql"

# Building the app opens no connection; these values only satisfy the constructor.
_DOC_SETTINGS = Settings(
    database_url="postgresql://docs@localhost/docs",
    redis_url="redis://localhost:6379/0",
    app_database_url="postgresql://docs@localhost/docs",
    encryption_keys="docs:" + "A" * 43,
)


def openapi_document() -> str:
    spec = create_app(_DOC_SETTINGS).openapi_schema.to_schema()
    return json.dumps(spec, indent=2, sort_keys=True, default=str) + "\n"


def graphql_sdl() -> str:
    return schema.as_str() + "\n"


def main() -> None:
    OPENAPI_PATH.parent.mkdir(exist_ok=True)
    OPENAPI_PATH.write_text(openapi_document())
    SDL_PATH.write_text(graphql_sdl())
    print(f"wrote {OPENAPI_PATH.relative_to(ROOT)} and {SDL_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
