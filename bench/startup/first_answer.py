"""Benchmark: how long the first answers take when many clients start at once.

How this works: a fresh pyimapd (two workers, the default argon2id cost, one account)
and N clients that connect together, each reading the greeting, then LOGIN and SELECT
INBOX. Per client the time from its connect to the tagged OK of LOGIN and of SELECT is
recorded; the report gives the median, the maximum and how many waited more than 3 s,
which is what a stress tester's 50-client start showed (issue 15).

Usage: .venv/bin/python bench/startup/first_answer.py [--clients 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from serverutil import start_server  # noqa: E402


async def _line(reader: asyncio.StreamReader, tag: bytes) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line.startswith(tag):
            return line


async def client(host: str, port: int) -> tuple[float, float]:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    await _line(reader, b"* ")
    writer.write(b"a LOGIN demo demo\r\n")
    if b"OK" not in await _line(reader, b"a "):
        raise RuntimeError("LOGIN failed")
    login = time.perf_counter() - start
    writer.write(b"b SELECT INBOX\r\n")
    await _line(reader, b"b ")
    select = time.perf_counter() - start
    writer.write(b"c LOGOUT\r\n")
    await writer.drain()
    writer.close()
    return login, select


async def burst(host: str, port: int, n: int) -> list[tuple[float, float]]:
    return await asyncio.gather(*(client(host, port) for _ in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_server(Path(tmp), {"demo": "demo"},
                              extra_args=("--workers", str(args.workers)))
        try:
            times = asyncio.run(burst(handle.host, handle.port, args.clients))
        finally:
            handle.stop()
    for i, name in enumerate(("LOGIN", "SELECT")):
        values = sorted(t[i] for t in times)
        slow = sum(v > 3.0 for v in values)
        print(f"{name:6} done after: median {statistics.median(values) * 1000:.0f} ms, "
              f"max {values[-1] * 1000:.0f} ms, {slow} of {len(values)} over 3 s")


if __name__ == "__main__":
    main()
