"""Optional: sample our server with py-spy while it is under load, and summarise where its time goes.

py-spy is not a project dependency; it is used when found (PY_SPY=/path/to/py-spy, or on PATH). The profile
phases run after the measured ones, so sampling never perturbs the reported figures. For each API this writes
DIR/<api>.collapsed (py-spy's raw collapsed stacks: feed it to flamegraph.pl or speedscope) and
DIR/<api>.summary.txt (on-CPU time of the server process by package, by leaf function and by our functions).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.support.servers import Served

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_OURS = ("api", "adapters", "domain")
_EVENT_LOOP = "event loop, I/O and C extensions (uvloop, asyncpg protocol, httptools)"


def py_spy() -> str | None:
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


def _package(file: str, func: str) -> str:
    """py-spy names files relative to their sys.path entry: the first component is the package."""
    top = file.rsplit("site-packages/", maxsplit=1)[-1].split("/", 1)[0].removesuffix(".py")
    if top in _OURS:
        return f"arbridge {top}/"
    if top == "asyncio" and func == "Runner.run":
        return _EVENT_LOOP  # time in native code called from the loop is charged to its Python caller
    if top in sys.stdlib_module_names:
        return f"stdlib {top}"
    if top in ("graphql", "strawberry", "litestar", "sqlalchemy", "asyncpg", "msgspec", "uvicorn", "anyio"):
        return top
    return top or "?"


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for raw in stack.split(";"):
        m = _FRAME.match(raw.strip())
        out.append((m["func"], m["file"]) if m else (raw.strip(), ""))
    return out


def summarise(collapsed: Path, top: int = 25) -> str:
    by_pkg: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    ours_incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = _frames(stack)
        func, file = frames[-1]
        by_pkg[_package(file, func)] += n
        by_leaf[f"{func} ({file})"] += n
        for f, fl in {(f, fl) for f, fl in frames if fl.split("/", 1)[0] in _OURS}:
            ours_incl[f"{f} ({fl})"] += n
    if not total:
        return "no samples\n"

    def block(title: str, c: Counter[str], k: int) -> list[str]:
        return [title] + [f"  {100 * v / total:5.1f}%  {name}" for name, v in c.most_common(k)] + [""]

    lines = [f"{total} samples of the server's on-CPU time", ""]
    lines += block("self time by package:", by_pkg, top)
    lines += block("self time by leaf function:", by_leaf, top)
    lines += block("inclusive time of our functions:", ours_incl, top)
    return "\n".join(lines)


def profile_phase(
    out_dir: str,
    ours: Served,
    run_load: Callable[[str, str, str], dict[str, Any]],
    plans: dict[str, tuple[str, str, str]],
) -> None:
    exe = py_spy()
    if exe is None:
        print("  --profile: py-spy not found (set PY_SPY or put it on PATH); skipping")
        return
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    for api, (method, path, body) in plans.items():
        out = target / f"{api}.collapsed"
        cmd = [exe, "record", "--pid", str(ours.pid), "--rate", "200", "--nonblocking", "--format", "raw",
               "--output", str(out), "--duration", "12"]  # fmt: skip
        spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        res = run_load(method, path, body)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
        if not out.exists():
            print(f"  profile {api}: py-spy wrote nothing: {spy.stderr.read().decode()[-300:] if spy.stderr else ''}")
            continue
        (target / f"{api}.summary.txt").write_text(summarise(out))
        print(f"  profiled {api} ours ({res['rps']:,.1f} req/s while sampled): {target / (api + '.summary.txt')}")
