"""REPLACE (RFC 8508) on every backend: another session sees the new message and the
old one go together; a failed append removes nothing; QRESYNC gets VANISHED."""

from __future__ import annotations

from harness import Harness
from session.test_search_extensions import append, msg


def _replace(verb: str, mailbox: str, text: str) -> bytes:
    data = text.replace("\n", "\r\n").encode()
    return f"R {verb} {mailbox} {{{len(data)}+}}\r\n".encode() + data + b"\r\n"


async def test_other_session_sees_replacement(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    other = await harness.connect(("demo", "demo"))
    for n in (1, 2):
        await append(c, msg(n, "draft"))
    await c.command("s SELECT INBOX")
    await other.command("s SELECT INBOX")
    c.send(_replace("UID REPLACE 1", "INBOX", msg(3, "draft v2")))
    out = await c.read_until(rb"^R .*\r\n")
    assert b"* OK [APPENDUID " in out and b" 3] " in out and b"* 1 EXPUNGE\r\n" in out, out
    assert out.endswith(b"R OK UID REPLACE completed\r\n"), out
    out = await other.command("n NOOP")
    assert b"* 1 EXPUNGE\r\n" in out and b"* 2 EXISTS\r\n" in out, out
    out = await other.command("f UID FETCH 1:* (UID)")
    assert b"UID 2)" in out and b"UID 3)" in out and b"UID 1)" not in out, out


async def test_failed_append_keeps_the_old_message(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await append(c, msg(1))
    await c.command("s SELECT INBOX")
    c.send(_replace("REPLACE 1", "Missing", msg(2)))
    out = await c.read_until(rb"^R .*\r\n")
    assert out.startswith(b"R NO [TRYCREATE] "), out
    out = await c.command("f FETCH 1 (UID)")
    assert b"* 1 FETCH (UID 1)" in out, out


async def test_qresync_gets_vanished(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await append(c, msg(1))
    await c.command("e ENABLE QRESYNC")
    await c.command("s SELECT INBOX")
    c.send(_replace("REPLACE 1", "INBOX", msg(2)))
    out = await c.read_until(rb"^R .*\r\n")
    assert b"* VANISHED 1\r\n" in out and b"* 1 EXISTS\r\n" in out, out
