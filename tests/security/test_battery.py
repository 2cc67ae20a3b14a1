"""The bad-input battery: hostile inputs against a real server subprocess.

Every case opens its own connection (unauthenticated, or logged in with INBOX selected),
sends its payload, then ``CRLF zz NOOP CRLF``, and reads until the tag ``zz`` is answered
or the server closes the connection. Each case must get a clear answer: a tagged response
for its own tag, an untagged BAD or BYE, or a disconnect; never silence past the timeout.
Throughout, a witness client that logged in before the battery keeps working, and the
server process stays up. Then a slowloris client, and 1,000 parallel connections from one
address.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from security.tlsutil import read_until, write_config
from serverutil import ServerHandle, register_server, start_server

CASE_TIMEOUT = 20.0
CONFIG = """\
[auth]
failure_delay = 0
[timeouts]
unauthenticated = 6
[limits]
max_connections_per_ip = 50
"""


def _cases() -> list[tuple[str, bytes]]:
    c: list[tuple[str, bytes]] = []
    big = b"a LOGIN {%d}\r\n"
    for n in (65537, 10**9, 10**12, 2**64, 10**40):
        c.append((f"oversized literal {n}", big % n))
        c.append((f"oversized literal+ {n}", b"a LOGIN {%d+}\r\n" % n))
    for n in (50 * 1024 * 1024 + 1, 2**63):
        c.append((f"oversized append {n}", b"a APPEND INBOX {%d}\r\n" % n))
        c.append((f"oversized append+ {n}", b"a APPEND INBOX {%d+}\r\n" % n))
    c.append(("endless line", b"a NOOP " + b"x" * 200_000))
    c.append(("endless tag", b"a" * 100_000 + b"\r\n"))
    c.append(("endless line of literals", b"a LOGIN " + b"{1+}\r\nx " * 5000 + b"\r\n"))
    c.append(("many literals", b"a SEARCH" + b" SUBJECT {1+}\r\nx" * 1200 + b"\r\n"))
    for text in (b"a FETCH 1 (FLAGS", b"a FETCH 1 FLAGS)", b"a FETCH 1 ((((FLAGS",
                 b"a SEARCH (OR ALL", b"a SEARCH ALL))", b"a STORE 1 +FLAGS (\\Seen",
                 b"a APPEND INBOX (\\Seen {1}", b"a LIST (\"\" *", b"a STATUS INBOX (MESSAGES",
                 b"((((((((((", b"))))))))))", b"a FETCH 1 BODY[HEADER.FIELDS (A B]"):
        c.append((f"unbalanced {text[:20]!r}", text + b"\r\n"))
    for text in (b"a FETCH 1:4294967295 FLAGS", b"a FETCH 4294967296 FLAGS",
                 b"a FETCH 99999999999999999999 FLAGS", b"a FETCH 0:0 FLAGS",
                 b"a UID FETCH 1:*,*:1,1:4294967295 FLAGS", b"a STORE 1:4294967295 +FLAGS (x)",
                 b"a COPY 1:4294967295 INBOX", b"a UID SEARCH UID 1:4294967295",
                 b"a FETCH " + b",".join(b"%d" % i for i in range(1, 8000)) + b" FLAGS",
                 b"a FETCH " + b",".join(b"%d:%d" % (i, i + 1) for i in range(1, 6000, 2))
                 + b" UID", b"a SEARCH " + b" ".join(b"%d" % i for i in range(1, 5000)),
                 b"a UID SEARCH UID " + b",".join(b"%d" % i for i in range(1, 12000, 2))):
        c.append((f"huge sequence set {text[:28]!r}", text + b"\r\n"))
    for text in (b"a\x00 NOOP", b"a NOOP\x00", b"a LOGIN de\x00mo demo", b"a SELECT IN\x00BOX",
                 b"\x00\x00\x00\x00", b"a LOGIN {5}\r\nde\x00mo demo",
                 b"a CREATE \"x\x00y\"", b"a SEARCH SUBJECT \"\x00\""):
        c.append((f"NUL {text[:16]!r}", text + b"\r\n"))
    for marker in (b"{abc}", b"{}", b"{1", b"{1}}", b"{-1}", b"{1 }", b"{ 1}", b"{0x10}",
                   b"{1++}", b"{+}", b"{1}x", b"{99999999999999999999999999999999999}"):
        c.append((f"malformed literal {marker!r}", b"a LOGIN " + marker + b"\r\n"))
    for depth in (100, 1000, 10_000, 30_000):
        c.append((f"nested search {depth}", b"a SEARCH " + b"(" * depth + b"ALL"
                  + b")" * depth + b"\r\n"))
        c.append((f"NOT chain {depth}", b"a SEARCH " + b"NOT " * depth + b"ALL\r\n"))
        c.append((f"OR chain {depth}", b"a SEARCH " + b"OR ALL " * depth + b"ALL\r\n"))
    c.append(("nested fetch", b"a FETCH 1 " + b"(" * 5000 + b"FLAGS" + b")" * 5000 + b"\r\n"))
    c.append(("nested append flags", b"a APPEND INBOX " + b"(" * 5000 + b" {1}\r\n"))
    for name in (b"&Jjo", b"&-&", b"&AGE-", b"&2D3cAA-", b"&ZeVnLIqe-&", b"&&&", b"&_-",
                 b"../../etc/passwd", b"/etc/passwd", b"INBOX/../..", b"\"a\\\\b\\\"\"",
                 b"\xff\xfe", b"\"\xc3\x28\""):
        c.append((f"odd mailbox {name!r}", b"a CREATE " + name + b"\r\n"))
        c.append((f"odd select {name!r}", b"a SELECT " + name + b"\r\n"))
    for text in (b"a AUTHENTICATE PLAIN " + b"A" * 70_000, b"a AUTHENTICATE PLAIN\r\n"
                 + b"A" * 70_000, b"a AUTHENTICATE SCRAM-SHA-256\r\n"
                 + b"bj0sbj11LHI9" + b"\xff" * 10, b"a AUTHENTICATE CRAM-MD5 =",
                 b"a AUTHENTICATE LOGIN\r\n\r\n", b"a LOGIN \"\\\"", b"a IDLE\r\nx" * 3,
                 b"a UID", b"a UID FOO", b"a ", b" x", b"*", b"+ x",
                 b"a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20]",
                 b"a FETCH 1 BODY[]<4294967295.4294967295>", b"a FETCH 1 BINARY[1]",
                 b"a SEARCH CHARSET x-unknown ALL", b"a SEARCH SINCE 99-Foo-9999",
                 b"a APPEND INBOX \"99-Foo-9999 00:00:00 +0000\" {1}\r\nx",
                 b"a RENAME INBOX INBOX", b"a DELETE INBOX", b"a STATUS INBOX (FOO)"):
        c.append((f"misc {text[:24]!r}", text + b"\r\n"))
    rng = random.Random(20240501)
    for i in range(24):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        c.append((f"random bytes #{i}", junk + b"\r\n"))
    return c


CASES = _cases()


def test_battery_is_big_enough() -> None:
    assert len(CASES) * 2 >= 100  # each case runs unauthenticated and selected


@pytest.fixture(scope="module")
def battery_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    tmp = tmp_path_factory.mktemp("battery")
    args = [*write_config(tmp / "pyimapd.toml", CONFIG), "--workers", "1"]
    handle = start_server(tmp, extra_args=args)
    register_server(request.node, handle)
    with handle.connect() as sock:  # one message, so FETCH and SEARCH have work to do
        read_until(sock, b"\r\n")
        sock.sendall(b"a LOGIN demo demo\r\nb APPEND INBOX {18}\r\n")
        read_until(sock, b"+ ")
        sock.sendall(b"Subject: hi\r\n\r\nyo\r\nc LOGOUT\r\n")
        assert b"b OK" in read_until(sock, b"c OK")
    yield handle
    handle.stop()


class Witness:
    """A logged-in client that must keep working while the battery runs."""

    def __init__(self, server: ServerHandle) -> None:
        self.sock = server.connect(timeout=CASE_TIMEOUT)
        read_until(self.sock, b"\r\n")
        self.n = 0
        assert b"w OK" in self.exchange(b"w LOGIN mrc secret")
        assert b"OK" in self.exchange(b"SELECT INBOX")

    def exchange(self, line: bytes) -> bytes:
        self.n += 1
        tag = line.split(b" ", 1)[0] if line.startswith(b"w ") else b"w%d" % self.n
        if not line.startswith(b"w "):
            line = tag + b" " + line
        self.sock.sendall(line + b"\r\n")
        return read_until(self.sock, tag + b" ")

    def check(self) -> None:
        start = time.monotonic()
        out = self.exchange(b"NOOP")
        assert b" OK NOOP" in out, out
        assert time.monotonic() - start < CASE_TIMEOUT


@pytest.fixture(scope="module")
def witness(battery_server: ServerHandle) -> Iterator[Witness]:
    w = Witness(battery_server)
    yield w
    w.sock.close()


def _run_case(server: ServerHandle, payload: bytes, selected: bool) -> bytes:
    with server.connect(timeout=CASE_TIMEOUT) as sock:
        read_until(sock, b"\r\n")
        if selected:
            sock.sendall(b"s1 LOGIN demo demo\r\ns2 SELECT INBOX\r\n")
            assert b"s2 OK" in read_until(sock, b"s2 ")
        try:
            sock.sendall(payload + b"\r\nzz NOOP\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return b"<disconnected while sending>"
        out = b""
        deadline = time.monotonic() + CASE_TIMEOUT
        while b"\nzz " not in out and time.monotonic() < deadline:
            if _clear(out):  # answered; "zz" may legitimately be swallowed by a
                deadline = min(deadline, time.monotonic() + 1.0)  # literal being skipped
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return out + b"<reset>"
            except TimeoutError:
                break
            if not chunk:
                return out + b"<eof>"
            out += chunk
        return out


_ANSWER = re.compile(rb"^(?!zz )\S+ (OK|NO|BAD)\b|^\* (BAD|BYE)\b", re.M)


def _clear(out: bytes) -> bool:
    """A tagged answer (the tag of random junk is whatever it starts with), an untagged
    BAD or BYE, or a disconnect."""
    if out.endswith((b"<eof>", b"<reset>", b"<disconnected while sending>")):
        return True
    return _ANSWER.search(out) is not None


@pytest.mark.parametrize("selected", [False, True], ids=["unauth", "selected"])
@pytest.mark.parametrize("name,payload", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(
    battery_server: ServerHandle, witness: Witness, name: str, payload: bytes, selected: bool
) -> None:
    out = _run_case(battery_server, payload, selected)
    assert _clear(out), f"{name}: no clear answer, got {out[-400:]!r}"
    assert battery_server.proc is not None and battery_server.proc.poll() is None
    witness.check()


def test_slowloris_is_cut_off(battery_server: ServerHandle, witness: Witness) -> None:
    """One byte every 0.3 s, never finishing a line: BYE once the login deadline (6 s)
    passes, although every single read arrives well within it."""
    start = time.monotonic()
    with battery_server.connect(timeout=30) as sock:
        read_until(sock, b"\r\n")
        sock.settimeout(0.3)
        got = b""
        while time.monotonic() - start < 30:
            try:
                sock.sendall(b"a")
            except OSError:
                break
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        elapsed = time.monotonic() - start
    assert b"* BYE" in got or elapsed < 30, got
    assert 4 < elapsed < 25, elapsed
    witness.check()
    assert "too slow to log in" in battery_server.log_text() or "no login within" in \
        battery_server.log_text()


async def _open(host: str, port: int) -> tuple[str, asyncio.StreamWriter | None]:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    except (OSError, TimeoutError):
        return "refused", None
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
    except (OSError, TimeoutError):
        return "silent", writer
    if line.startswith(b"* OK"):
        return "ok", writer
    if line.startswith(b"* BYE"):
        return "bye", writer
    return ("eof" if not line else "other"), writer


def test_thousand_parallel_connections(battery_server: ServerHandle, witness: Witness) -> None:
    async def flood() -> list[tuple[str, asyncio.StreamWriter | None]]:
        return await asyncio.gather(
            *(_open(battery_server.host, battery_server.port) for _ in range(1000))
        )

    async def run() -> dict[str, int]:
        results = await flood()
        witness.check()  # while all 1,000 are open
        counts: dict[str, int] = {}
        for kind, writer in results:
            counts[kind] = counts.get(kind, 0) + 1
            if writer is not None:
                writer.close()
        return counts

    counts = asyncio.run(run())
    assert counts.get("silent", 0) == 0 and counts.get("other", 0) == 0, counts
    assert counts.get("ok", 0) <= 50, counts  # max_connections_per_ip
    assert counts.get("bye", 0) + counts.get("eof", 0) + counts.get("refused", 0) >= 900, counts
    assert "Too many connections from your address" in battery_server.log_text()
    witness.check()
    deadline = time.monotonic() + 20
    while True:  # the slots come back once the flood is gone
        with battery_server.connect() as sock:
            if read_until(sock, b"\r\n").startswith(b"* OK"):
                break
        assert time.monotonic() < deadline, "connections never released"
        time.sleep(0.2)


def test_server_survived(battery_server: ServerHandle, tmp_path: Path) -> None:
    assert battery_server.proc is not None and battery_server.proc.poll() is None
    assert "crashed" not in battery_server.log_text()
    assert "Traceback" not in battery_server.log_text()
    with socket.create_connection((battery_server.host, battery_server.port), timeout=10) as s:
        assert read_until(s, b"\r\n").startswith(b"* OK")
