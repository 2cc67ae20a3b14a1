"""LIST patterns built to make a matcher backtrack, against a real server on each store.

Issue "No input may freeze a worker": after ``CREATE Work/aaaa...``, the pattern
``*a*a*a...*aX`` took seconds of CPU (14 repetitions: more than 30 s) because it became a
regex of ``.*`` runs. The matcher (``storage/names.py``) is now linear; this proves it on the
wire with 1,000 wildcards against 1,000 mailboxes, for every backend.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Harness
from serverutil import ServerHandle, read_tagged, register_server, start_server

MAILBOXES = 1000
BOUND = 0.050



def _names() -> list[str]:
    return [f"Work/{'a' * (i % 40 + 1)}{i}" for i in range(MAILBOXES - 1)] + ["Work/" + "a" * 40]


FLOODS = [
    (b"*a" * 1000 + b"X", 0),
    (b"%a" * 1000 + b"X", 0),
    (b"Work/" + b"*a" * 1000 + b"X", 0),
    (b"\"" + b"%a" * 20 + b"\"", 0),
    (b"\"Work/" + b"*a" * 40 + b"\"", 1),
    (b"\"Work/" + b"%a" * 40 + b"\"", 1),
    # Forty "a"s anywhere: the 24 names of forty "a"s and digits, and the bare one.
    (b"\"*" + b"a*" * 40 + b"\"", 25),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crowded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerHandle, socket.socket]]:
    """A server whose demo user has 1,000 mailboxes, and a logged-in connection to it."""
    handle = start_server(tmp_path_factory.mktemp("lists"), store=request.param)
    register_server(request.node, handle)
    sock = handle.connect(timeout=60)
    sock.recv(4096)
    sock.sendall(b"L LOGIN demo demo\r\n")
    assert b"L OK" in read_tagged(sock, b"L")
    names = _names()
    sock.sendall(b"".join(b"C%d CREATE \"%s\"\r\n" % (i, n.encode()) for i, n in enumerate(names)))
    out = read_tagged(sock, b"C%d" % (len(names) - 1))
    assert out.count(b" OK ") == len(names), out[-500:]
    yield handle, sock
    sock.close()
    handle.stop()


def _timed_list(sock: socket.socket, pattern: bytes) -> tuple[float, bytes]:
    """The best of three round trips: one slow scheduling slice on a shared machine must
    not fail the test, a matcher that backtracks fails all three."""
    best, out = float("inf"), b""
    for attempt in range(3):
        tag = b"P%d" % attempt
        started = time.perf_counter()
        sock.sendall(tag + b" LIST \"\" " + pattern + b"\r\n")
        out = read_tagged(sock, tag)
        best = min(best, time.perf_counter() - started)
    return best, out


@pytest.mark.parametrize(("pattern", "expected"), FLOODS)
def test_wildcard_floods_answer_fast(
    crowded: tuple[ServerHandle, socket.socket], pattern: bytes, expected: int
) -> None:
    _, sock = crowded
    elapsed, out = _timed_list(sock, pattern)
    assert b" OK " in out.splitlines()[-1]
    assert out.count(b"* LIST ") == expected, out[:500]
    assert elapsed < BOUND, f"LIST took {elapsed * 1000:.1f} ms"


def test_connection_still_usable_after_floods(
    crowded: tuple[ServerHandle, socket.socket], tmp_path: Path
) -> None:
    _, sock = crowded
    sock.sendall(b"N NOOP\r\n")
    assert b"N OK" in read_tagged(sock, b"N")
    sock.sendall(b"S LIST \"\" \"Work/%\"\r\n")
    assert read_tagged(sock, b"S").count(b"* LIST ") == MAILBOXES


async def test_wildcard_floods_on_the_memory_store(tmp_path: Path) -> None:
    """The memory store runs in-process (its accounts live only there), through the harness."""
    harness = Harness(tmp_path, "memory")
    await harness.start({"demo": "demo"})
    try:
        client = await harness.connect(("demo", "demo"))
        for i, name in enumerate(_names()):
            assert b" OK " in await client.command(f'C{i} CREATE "{name}"')
        for pattern, expected in FLOODS:
            started = time.perf_counter()
            out = await client.command("P LIST \"\" " + pattern.decode())
            elapsed = time.perf_counter() - started
            assert out.count(b"* LIST ") == expected and b"P OK" in out
            assert elapsed < BOUND, f"LIST took {elapsed * 1000:.1f} ms"
    finally:
        await harness.close()
