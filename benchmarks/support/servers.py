"""Serve an ASGI app with uvicorn in a subprocess (uvloop, httptools, one worker, no access log)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Served:
    name: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f} s")


@contextlib.contextmanager
def uvicorn_server(name: str, factory: str, env: dict[str, str], timeout: float = 30.0) -> Iterator[Served]:
    """`factory` is "module:function" returning the app. Stops the server (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--lifespan", "on", "--no-access-log",
        "--log-level", "warning", "--timeout-graceful-shutdown", "3",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)})
    try:
        _wait_ready(proc, f"http://{HOST}:{port}/health", timeout)
        yield Served(name, port, proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def env_without_pythonpath() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
