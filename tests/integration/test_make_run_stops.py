"""`make run` (sandbox/devrun.py) serves everything in the foreground and stops everything at Ctrl-C: the API,
the worker, the vendor sandboxes and their background loops (the Stripe sandbox's webhook pump)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sys
from pathlib import Path

import httpx

from sandbox.scratch import Services, scratch_database

ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 120  # a hang detector, not a measurement: startup takes seconds
STOP_LIMIT_S = 60


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(200):
        first = random.randint(20_000, 60_000)
        if all(_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no free ports")


async def test_ctrl_c_stops_everything_make_run_started(services: Services, tmp_path: Path) -> None:
    # A database and queue of its own: its relay and worker must not take the other tests' events.
    async with scratch_database(services, "arbridge_devrun") as settings:
        await _run_and_stop(settings.database_url, settings.redis_url, settings.queue_name, tmp_path)


async def _run_and_stop(database_url: str, redis_url: str, queue_name: str, tmp_path: Path) -> None:
    port, sandbox_port = _free_ports(1), _free_ports(4)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ARBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "ARBRIDGE_PORT": str(port),
        "ARBRIDGE_SANDBOX_PORT": str(sandbox_port),
        "ARBRIDGE_QUEUE": queue_name,
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sandbox.devrun", cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        creds_path = tmp_path / "state" / "demo-credentials.json"
        async with httpx.AsyncClient() as http:
            for _ in range(STARTUP_LIMIT_S * 4):
                if proc.returncode is not None:
                    break
                if creds_path.exists():
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                await asyncio.sleep(0.25)
            assert proc.returncode is None, log.read_text()
            assert json.loads(creds_path.read_text())["base_url"] == f"http://127.0.0.1:{port}"
            assert not _free(sandbox_port + 3)  # the Stripe sandbox is listening

        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = await asyncio.wait_for(proc.wait(), STOP_LIMIT_S)
        assert code == 0, log.read_text()
        assert "stopped." in log.read_text()
        assert _free(port) and all(_free(sandbox_port + i) for i in range(4))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
