"""The committed SDL, `api/graphql/schema.graphql`: front-ends generate their types from it and reviewers
see schema changes in the diff. A test fails when it drifts from the code.

    python -m api.graphql.export          # rewrite the file after changing the schema
    python -m api.graphql.export --check  # exit 1 and print a diff when the file is stale
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

SDL_PATH = Path(__file__).with_name("schema.graphql")


def render_sdl() -> str:
    from api.graphql.schema import schema  # imported here so `--help` works without building the schema

    return schema.as_str() + "\n"


def sdl_diff(committed: str, current: str) -> str:
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{SDL_PATH.name} (committed)",
            tofile=f"{SDL_PATH.name} (from code)",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the committed GraphQL SDL.")
    parser.add_argument("--check", action="store_true", help="fail instead of writing when the file is stale")
    args = parser.parse_args(argv)
    current = render_sdl()
    committed = SDL_PATH.read_text(encoding="utf-8") if SDL_PATH.exists() else ""
    if args.check:
        if committed != current:
            sys.stdout.write(sdl_diff(committed, current))
            sys.stdout.write("\nThe SDL is stale: run `python -m api.graphql.export`.\n")
            return 1
        return 0
    if committed != current:
        SDL_PATH.write_text(current, encoding="utf-8")
        sys.stdout.write(f"wrote {SDL_PATH}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
