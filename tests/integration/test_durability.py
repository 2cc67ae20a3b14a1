"""Crash safety: every APPEND the server answered OK survives SIGKILL, byte for byte.

One connection appends messages of varied sizes and line endings as fast as the server
acknowledges them; right after one OK the server is killed with SIGKILL (no chance to
flush or shut down), with the next APPEND already on the wire.  After a restart on the
same data dir, every acknowledged message must be there with exactly the bytes sent (the
server stores CRLF line ends, so bare-LF input is compared after CRLF normalisation); an
APPEND that was in flight may or may not be there, but if it is, it must be whole.
The same then holds for flag changes (STORE) and EXPUNGE answered OK before a kill.
"""

from __future__ import annotations

import random
import re

import pytest

from integration.clienthelp import CRLF, RawIMAP, to_crlf
from serverutil import ServerHandle

pytestmark = pytest.mark.timeout(120)

TOTAL = 120
KILL_AFTER = 90


def message(i: int, rng: random.Random) -> bytes:
    size = rng.choice([0, 10, 200, 5000, 70000])
    body = "".join(f"{i:05d} line {n} {'x' * rng.randint(0, 60)}\n" for n in range(size // 40 + 1))
    text = f"Subject: durability {i:05d}\nMessage-ID: <dur-{i}@example.org>\n\n{body}"
    data = text.encode()
    return data if i % 3 == 0 else to_crlf(data)  # every third with bare LF line ends


def append(conn: RawIMAP, mailbox: str, msg: bytes, flags: str = "") -> str:
    """Send an APPEND up to and including the literal; return its tag."""
    tag = conn.tag()
    conn.send(f"{tag} APPEND {mailbox} {flags}{{{len(msg)}}}".encode() + CRLF)
    line = conn.readline()
    assert line.startswith(b"+"), line
    conn.send(msg + CRLF)
    return tag


def login(server: ServerHandle) -> RawIMAP:
    conn = RawIMAP(server.host, server.port)
    assert conn.readline().startswith(b"* OK")
    _, done = conn.command("LOGIN demo demo")
    assert done.split()[1] == b"OK", done
    return conn


def fetch_all(conn: RawIMAP, mailbox: str) -> dict[int, tuple[bytes, bytes]]:
    """Message number -> (FLAGS, BODY[]) after SELECT."""
    _, done = conn.command(f"SELECT {mailbox}")
    assert done.split()[1] == b"OK", done
    untagged, done = conn.command("FETCH 1:* (FLAGS BODY.PEEK[])")
    assert done.split()[1] == b"OK", done
    out: dict[int, tuple[bytes, bytes]] = {}
    for line in untagged:
        m = re.match(rb"\* (\d+) FETCH \(", line)
        if not m:
            continue
        flags = re.search(rb"FLAGS \(([^)]*)\)", line)
        body = re.search(rb"BODY\[\] \{(\d+)\}\r\n", line)
        assert flags and body, line[:200]
        start = body.end()
        out[int(m.group(1))] = (flags.group(1), line[start : start + int(body.group(1))])
    return out


def test_appends_acknowledged_before_sigkill_survive(server: ServerHandle) -> None:
    rng = random.Random(1996)
    msgs = [message(i, rng) for i in range(TOTAL)]
    conn = login(server)
    caps, _ = conn.command("CAPABILITY")
    literal_plus = b"LITERAL+" in b" ".join(caps).split()
    acked: list[int] = []
    in_flight: int | None = None
    try:
        for i, msg in enumerate(msgs):
            tag = append(conn, "INBOX", msg, r"(\Flagged) " if i % 5 == 0 else "")
            _, done = conn.until_tagged(tag)
            assert done.split()[1] == b"OK", done
            acked.append(i)
            if i == KILL_AFTER:
                in_flight = i + 1
                next_msg = msgs[in_flight]
                # With LITERAL+ the whole next message is on the wire when the kill comes.
                plus = "+" if literal_plus else ""
                head = f"{conn.tag()} APPEND INBOX {{{len(next_msg)}{plus}}}".encode() + CRLF
                conn.send(head + (next_msg + CRLF if literal_plus else b""))
                server.kill()
                break
    finally:
        conn.close()
    assert in_flight is not None

    server.start()
    conn = login(server)
    try:
        stored = fetch_all(conn, "INBOX")
    finally:
        conn.close()
    bodies = [body for _flags, body in stored.values()]
    for i in acked:
        want = to_crlf(msgs[i])
        assert want in bodies, f"acknowledged message {i} lost or altered after SIGKILL"
    assert len(stored) in (len(acked), len(acked) + 1), len(stored)
    if len(stored) == len(acked) + 1:
        assert bodies[-1] == to_crlf(msgs[in_flight]), "a half-written message survived"
    for n, (flags, body) in stored.items():
        i = int(re.search(rb"durability (\d+)", body).group(1))  # type: ignore[union-attr]
        assert (b"\\Flagged" in flags.split()) == (i % 5 == 0 and i in acked), (n, flags)


def test_store_and_expunge_acknowledged_before_sigkill_survive(server: ServerHandle) -> None:
    rng = random.Random(3501)
    msgs = [to_crlf(message(i, rng)) for i in range(10)]
    conn = login(server)
    try:
        for msg in msgs:
            _, done = conn.until_tagged(append(conn, "INBOX", msg))
            assert done.split()[1] == b"OK", done
        _, done = conn.command("SELECT INBOX")
        assert done.split()[1] == b"OK", done
        _, done = conn.command(r"STORE 1:5 +FLAGS.SILENT (\Seen $Kept)")
        assert done.split()[1] == b"OK", done
        _, done = conn.command(r"STORE 2,4 +FLAGS.SILENT (\Deleted)")
        assert done.split()[1] == b"OK", done
        untagged, done = conn.command("EXPUNGE")
        assert done.split()[1] == b"OK", done
        expunged = [line for line in untagged if line.endswith(b" EXPUNGE")]
        assert expunged in ([b"* 2 EXPUNGE", b"* 3 EXPUNGE"], [b"* 4 EXPUNGE", b"* 2 EXPUNGE"])
        _, done = conn.command("COPY 1:2 INBOX")
        assert done.split()[1] == b"OK", done
        server.kill()
    finally:
        conn.close()

    server.start()
    conn = login(server)
    try:
        stored = fetch_all(conn, "INBOX")
    finally:
        conn.close()
    want = [msgs[i] for i in (0, 2, 4, 5, 6, 7, 8, 9, 0, 2)]
    assert [body for _f, body in stored.values()] == want
    seen = [
        b"\\Seen" in flags.split() and b"$Kept" in flags.split() for flags, _ in stored.values()
    ]
    assert seen == [True, True, True, False, False, False, False, False, True, True]
