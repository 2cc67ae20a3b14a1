"""PostgreSQL restarts under load (issue 9, acceptance 3).

Clients APPEND through a real server while PostgreSQL is stopped the hard way
(``pg_ctl stop -m immediate``: a crash, recovered from the WAL at the next start) and
started again. Every APPEND answered OK must be in the mailbox afterwards; an APPEND
that failed must have failed with ``NO [UNAVAILABLE]`` (never a crash, BAD or SERVERBUG);
and the same server process must accept APPENDs again once PostgreSQL is back.

This test runs its own cluster (fsync on), so it can restart it without disturbing the
shared one.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgutil import ALLOW_MISSING, PgCluster, PgUnavailable, new_cluster
from serverutil import register_server, run_cli, start_server
from stress.wire import Connection

APPENDERS = 4
USERS = {"demo": "demo"}


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    try:
        c = new_cluster(fsync=True)
    except PgUnavailable as exc:
        if os.environ.get(ALLOW_MISSING) == "1":
            pytest.skip(f"PostgreSQL unavailable: {exc}")
        pytest.fail(f"PostgreSQL could not be started: {exc}", pytrace=False)
    yield c
    c.destroy()


class Appender:
    """Appends numbered messages until told to stop; reconnects after connection loss."""

    def __init__(self, index: int, host: str, port: int) -> None:
        self.index, self.host, self.port = index, host, port
        self.acked: set[str] = set()
        self.refused: list[bytes] = []
        self.acked_at: list[float] = []
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        conn: Connection | None = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = await self._connect()
                    if conn is None:
                        await asyncio.sleep(0.1)
                        continue
                await self._append_one(conn)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                conn = None  # the server closed on us: that is allowed, but retry
        if conn is not None:
            await conn.close()

    async def _connect(self) -> Connection | None:
        conn = await Connection.open(self.host, self.port)
        _, tagged = await conn.command("LOGIN demo demo")
        if tagged.status() == "OK":
            return conn
        self._refusal(tagged.raw)
        await conn.close()
        return None

    async def _append_one(self, conn: Connection) -> None:
        self.sent += 1
        name = f"c{self.index}-{self.sent}"
        body = f"Subject: {name}\r\n\r\n{'x' * (self.sent % 7 * 1000)}\r\n".encode()
        _, tagged = await conn.command("APPEND INBOX ()", literal=body, timeout=30)
        if tagged.status() == "OK":
            self.acked.add(name)
            self.acked_at.append(time.monotonic())
        else:
            self._refusal(tagged.raw)
            await asyncio.sleep(0.05)

    def _refusal(self, raw: bytes) -> None:
        assert raw.split(b" ")[1] == b"NO" and b"[UNAVAILABLE]" in raw, raw
        self.refused.append(raw)


def _subjects(host: str, port: int) -> set[str]:
    conn = imaplib.IMAP4(host, port, timeout=30)
    conn.login("demo", "demo")
    typ, data = conn.select("INBOX")
    assert typ == "OK"
    typ, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    conn.logout()
    found = set()
    for item in data:
        if isinstance(item, tuple):
            m = re.search(rb"Subject: (\S+)", item[1])
            if m:
                found.add(m.group(1).decode())
    return found


async def test_acknowledged_appends_survive_a_postgres_crash(
    cluster: PgCluster, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    url = cluster.dsn
    run_cli("db", "migrate", "--store", url)
    run_cli("user", "add", "demo", "--password-stdin", "--store", url, stdin="demo")
    handle = start_server(tmp_path, USERS, store=url)
    register_server(request.node, handle)
    assert handle.proc is not None
    pid = handle.proc.pid
    try:
        stop = asyncio.Event()
        team = [Appender(i, handle.host, handle.port) for i in range(APPENDERS)]
        tasks = [asyncio.ensure_future(a.run(stop)) for a in team]
        await asyncio.sleep(1.5)
        await asyncio.to_thread(cluster.stop, "immediate")
        await asyncio.sleep(1.0)  # PostgreSQL is down: appends must fail cleanly
        await asyncio.to_thread(cluster.start)
        back = time.monotonic()
        await asyncio.sleep(3.0)
        stop.set()
        await asyncio.gather(*tasks)
        acked = set().union(*(a.acked for a in team))
        refused = sum(len(a.refused) for a in team)
        after = sum(1 for a in team for t in a.acked_at if t > back)
        print(f"{len(acked)} APPENDs acknowledged, {refused} refused with NO [UNAVAILABLE],"
              f" {after} acknowledged after PostgreSQL came back")
        assert refused > 0, "no APPEND ran into the outage: the test proved nothing"
        assert after > 0, "the server did not recover by itself"
        assert handle.proc is not None and handle.proc.poll() is None and handle.proc.pid == pid
        missing = acked - await asyncio.to_thread(_subjects, handle.host, handle.port)
        assert not missing, f"acknowledged but lost: {sorted(missing)[:20]}"
        assert "SERVERBUG" not in handle.log_text()
    finally:
        handle.stop()
