"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections over raw asyncio streams.

Run it in a process of its own so it never shares the server's event loop:

    python -m benchmarks.support.loadgen < spec.json > result.json

The spec holds host, port, method, path, headers, body, concurrency, warmup and duration (seconds). Each
connection sends a request, reads the whole response (Content-Length or chunked), and sends the next. Only
responses completed inside the measurement window count; a 200 is a success, anything else an error (counted
by status or exception type). The run is bounded: it stops itself after warmup + duration (+ a short grace).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

GRACE_SECONDS = 5.0
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_snapshot(pid: int | None) -> tuple[float, float, float, float] | None:
    """(server process CPU s, machine busy CPU s, machine total CPU s, our own CPU s), or None off Linux."""
    try:
        fields = open("/proc/stat").readline().split()[1:]  # noqa: SIM115
        ticks = [int(x) for x in fields]
        idle = ticks[3] + ticks[4]  # idle + iowait
        server = 0.0
        if pid:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
            server = (int(stat[11]) + int(stat[12])) / TICKS  # utime + stime
        return server, (sum(ticks[:8]) - idle) / TICKS, sum(ticks[:8]) / TICKS, time.process_time()
    except (OSError, ValueError, IndexError):
        return None


def cpu_usage(a: tuple[float, ...] | None, b: tuple[float, ...] | None, completed: int) -> dict[str, Any]:
    """CPU use inside the window: what contention cannot hide is the server's CPU time per request."""
    if a is None or b is None:
        return {}
    wall = b[2] - a[2] or 1.0  # machine CPU seconds elapsed (all cores)
    cores = os.cpu_count() or 1
    return {
        "server_cpu_ms_per_request": round(1000 * (b[0] - a[0]) / completed, 3) if completed else None,
        "server_cpu_share": round((b[0] - a[0]) / (wall / cores), 3),  # of one core
        "loadgen_cpu_share": round((b[3] - a[3]) / (wall / cores), 3),
        "machine_busy": round((b[1] - a[1]) / wall, 3),  # of all cores
    }


@dataclass
class Window:
    start: float = 0.0  # perf_counter at which measuring starts
    end: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    stop: bool = False


def build_request(spec: dict[str, Any]) -> bytes:
    body = spec.get("body", "").encode()
    lines = [f"{spec['method']} {spec['path']} HTTP/1.1", f"Host: {spec['host']}:{spec['port']}"]
    lines += [f"{k}: {v}" for k, v in spec.get("headers", {}).items()]
    if body or spec["method"] in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """(status, body bytes, server will close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = -1, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        return status, await _read_chunked(reader), close
    if length >= 0:
        await reader.readexactly(length)
        return status, length, close
    raise ConnectionError("response without a length")


async def _read_chunked(reader: asyncio.StreamReader) -> int:
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        total += size
        if size == 0:
            return total


async def connection(spec: dict[str, Any], request: bytes, w: Window) -> None:
    writer: asyncio.StreamWriter | None = None
    while not w.stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            t0 = time.perf_counter()
            writer.write(request)
            status, size, close = await read_response(reader)
            t1 = time.perf_counter()
            if w.start <= t1 <= w.end:
                if status == 200:
                    w.latencies_ns.append(int((t1 - t0) * 1e9))
                    w.bytes_read += size
                else:
                    w.errors[f"http_{status}"] += 1
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            if w.start <= time.perf_counter() <= w.end:
                w.errors[type(exc).__name__] += 1
            if writer is not None:
                writer.close()
                writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k] / 1e6


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    request = build_request(spec)
    now = time.perf_counter()
    w = Window(start=now + spec["warmup"], end=now + spec["warmup"] + spec["duration"])
    tasks = [asyncio.create_task(connection(spec, request, w)) for _ in range(spec["concurrency"])]
    await asyncio.sleep(max(0.0, w.start - time.perf_counter()))
    cpu_a = cpu_snapshot(spec.get("server_pid"))
    await asyncio.sleep(max(0.0, w.end - time.perf_counter()))
    cpu_b = cpu_snapshot(spec.get("server_pid"))
    w.stop = True
    _, pending = await asyncio.wait(tasks, timeout=GRACE_SECONDS)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    lat = sorted(w.latencies_ns)
    completed = len(lat) + sum(w.errors.values())
    return {
        "requests": len(lat),
        "seconds": spec["duration"],
        "rps": len(lat) / spec["duration"],
        "p50_ms": percentile(lat, 0.50),
        "p90_ms": percentile(lat, 0.90),
        "p99_ms": percentile(lat, 0.99),
        "max_ms": lat[-1] / 1e6 if lat else float("nan"),
        "mean_ms": sum(lat) / len(lat) / 1e6 if lat else float("nan"),
        "errors": dict(w.errors),
        "unfinished": len(pending),
        "mean_body_bytes": w.bytes_read / len(lat) if lat else 0,
        "concurrency": spec["concurrency"],
        "cpu": cpu_usage(cpu_a, cpu_b, completed),
    }


def cli() -> None:
    spec = json.load(sys.stdin)
    try:
        import uvloop

        result = uvloop.run(run(spec))
    except ImportError:
        result = asyncio.run(run(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    cli()
