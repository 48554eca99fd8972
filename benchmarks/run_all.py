"""Run every benchmark in turn: each top-level `benchmarks/*.py` that defines `main()` (`make bench`).

Helpers live in benchmarks/support/ and are never run directly. Each benchmark runs in its own process
(`python -m benchmarks.<name>`), prints its table and writes benchmarks/results/<name>.json. Extra arguments
are passed to every benchmark (e.g. `--duration 5`). Exit status: non-zero when any benchmark failed;
missing a target is reported by the benchmark, not treated as a failure.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SELF = Path(__file__).stem


def defines_main(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "main" for n in tree.body)


def benchmarks() -> list[str]:
    return [
        p.stem for p in sorted(HERE.glob("*.py")) if p.stem != SELF and not p.stem.startswith("_") and defines_main(p)
    ]


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    names = benchmarks()
    if not names:
        print("no benchmarks found")
        return 1
    outcomes: list[tuple[str, int, float]] = []
    for name in names:
        print(f"=== {name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *extra], cwd=HERE.parent)
        outcomes.append((name, code, time.perf_counter() - started))
        print(flush=True)
    print("=== summary ===")
    for name, code, seconds in outcomes:
        print(f"{name:<30} {'ok' if code == 0 else f'FAILED (exit {code})':<18} {seconds:6.0f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
