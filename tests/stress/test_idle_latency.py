"""IDLE latency across worker processes (issue 4): a change made through one worker
reaches IDLE sessions on the other within 100 ms at the 99th percentile.

The clock starts when the writer sends its STORE (so the latency includes the commit and
its fsync) and stops when an idler reads the unsolicited FETCH. Connections are assigned
to workers by the kernel (SO_REUSEPORT); /proc tells which worker holds each one.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from serverutil import ServerHandle, start_server
from stress.conftest import wait_workers
from stress.procnet import owner_pid
from stress.wire import Connection

SAMPLES = 60
PER_WORKER = 3
P99_LIMIT = 0.100


async def _logged_in(handle: ServerHandle) -> Connection:
    conn = await Connection.open(handle.host, handle.port)
    for command in ("LOGIN demo demo", "SELECT INBOX"):
        _, tagged = await conn.command(command)
        assert tagged.status() == "OK", tagged.raw
    return conn


def _worker_of(conn: Connection, pids: list[int]) -> int | None:
    return owner_pid(conn.writer.get_extra_info("sockname")[1], pids)


async def _spread(handle: ServerHandle, pids: list[int]) -> dict[int, list[Connection]]:
    """Connections until each worker holds PER_WORKER of them (extras are closed)."""
    by_worker: dict[int, list[Connection]] = {pid: [] for pid in pids}
    for _ in range(200):
        if all(len(v) >= PER_WORKER for v in by_worker.values()):
            return by_worker
        conn = await _logged_in(handle)
        pid = _worker_of(conn, pids)
        if pid is None or len(by_worker[pid]) >= PER_WORKER:
            await conn.close()
        else:
            by_worker[pid].append(conn)
    raise AssertionError(f"connections did not reach every worker: {by_worker}")


async def test_idle_latency_across_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    handle = start_server(tmp_path, extra_args=("--workers", "2"))
    try:
        pids = wait_workers(handle, 2)
        await _measure(handle, pids)
    finally:
        handle.stop()


async def _measure(handle: ServerHandle, pids: list[int]) -> None:
    setup = await _logged_in(handle)
    _, tagged = await setup.command("APPEND INBOX ()", literal=b"Subject: x\r\n\r\nbody\r\n")
    assert tagged.status() == "OK"
    await setup.close()
    by_worker = await _spread(handle, pids)
    writer = by_worker[pids[0]].pop()
    idlers = [(pid, c) for pid, conns in by_worker.items() for c in conns]
    for _, conn in idlers:
        await conn.command("NOOP")
        conn.send(b"i IDLE\r\n")
        assert (await conn.read_response()).tag == "+"
    cross: list[float] = []
    same: list[float] = []
    for n in range(SAMPLES):
        sign = "+" if n % 2 == 0 else "-"
        start = time.monotonic()
        stored = asyncio.ensure_future(writer.command(f"STORE 1 {sign}FLAGS (\\Flagged)"))
        for pid, conn in idlers:
            resp = await conn.read_response(timeout=5)
            assert b"FETCH" in resp.raw and b"FLAGS" in resp.raw, resp.raw
            (same if pid == pids[0] else cross).append(time.monotonic() - start)
        _, tagged = await stored
        assert tagged.status() == "OK", tagged.raw
    for _, conn in idlers:
        conn.send(b"DONE\r\n")
        assert (await conn.read_response()).status() == "OK"
        await conn.close()
    await writer.close()
    cross.sort()
    p99 = cross[int(len(cross) * 0.99) - 1] if len(cross) >= 100 else cross[-1]
    print(
        f"IDLE latency, other worker: median {statistics.median(cross) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {cross[-1] * 1000:.1f} ms ({len(cross)} samples); "
        f"same worker: median {statistics.median(same) * 1000:.1f} ms"
    )
    assert len(cross) >= SAMPLES * PER_WORKER
    assert p99 < P99_LIMIT, f"p99 {p99 * 1000:.1f} ms across workers"
