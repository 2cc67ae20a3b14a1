"""MULTIAPPEND (RFC 3502) in the session: all messages stored in one step with
consecutive UIDs, or none (quota, TOOBIG, bad syntax, missing mailbox)."""

from __future__ import annotations

from harness import Harness
from pyimapd.storage.interface import QuotaLimits

M1 = "Subject: one\r\n\r\nfirst\r\n"
M2 = "Subject: two\r\n\r\nsecond\r\n"


def lit(message: str) -> str:
    return f"{{{len(message)}+}}\r\n{message}"


async def test_two_messages_one_command(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    c.send(f'a APPEND INBOX (\\Seen) {lit(M1)} "7-Feb-1994 22:43:04 -0800" {lit(M2)}\r\n')
    out = await c.read_until(rb"^a .*\r\n")
    assert out.startswith(b"a OK [APPENDUID ") and out.endswith(b" 1:2] APPEND completed\r\n")
    await c.command("b SELECT INBOX")
    out = await c.command("c FETCH 1:2 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[TEXT])")
    assert b'* 1 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE "' in out
    assert b'* 2 FETCH (FLAGS (\\Recent) INTERNALDATE "07-Feb-1994 22:43:04 -0800"' in out
    assert b"BODY[TEXT] {7}\r\nfirst\r\n" in out and b"BODY[TEXT] {8}\r\nsecond\r\n" in out


async def test_synchronising_literals_get_one_plus_each(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    c.send(f"a APPEND INBOX {{{len(M1)}}}\r\n")
    assert await c.read_until(rb"^\+ .*\r\n") == b"+ Ready for literal data\r\n"
    c.send(f"{M1} {{{len(M2)}}}\r\n")
    assert await c.read_until(rb"^\+ .*\r\n") == b"+ Ready for literal data\r\n"
    c.send(M2 + "\r\n")
    assert b"a OK [APPENDUID" in await c.read_until(rb"^a .*\r\n")


async def test_all_or_nothing(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await harness.backend.users.set_quota("demo", QuotaLimits(messages=1))
    c.send(f"a APPEND INBOX {lit(M1)} {lit(M2)}\r\n")
    assert (await c.read_until(rb"^a .*\r\n")).startswith(b"a NO [OVERQUOTA] ")
    c.send(f"b APPEND INBOX {lit(M1)} (\\Recent) {lit(M2)}\r\n")
    assert await c.read_until(rb"^b .*\r\n") == b"b BAD Unexpected data after APPEND message\r\n"
    big = "x" * (harness.config.limits.max_append + 1)
    c.send(f"c APPEND INBOX {lit(M1)} {{{len(big)}}}\r\n")
    assert await c.read_until(rb"^c .*\r\n") == b"c NO [TOOBIG] Message too large\r\n"
    assert await c.command("d STATUS INBOX (MESSAGES UIDNEXT)") == (
        b"* STATUS INBOX (MESSAGES 0 UIDNEXT 1)\r\nd OK STATUS completed\r\n")
    c.send(f"e APPEND Nowhere {lit(M1)} {lit(M2)}\r\n")
    assert (await c.read_until(rb"^e .*\r\n")).startswith(b"e NO [TRYCREATE] ")
    assert await c.command("f NOOP") == b"f OK NOOP completed\r\n"  # still in step


async def test_selected_session_sees_both(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("a SELECT INBOX")
    c.send(f"b APPEND INBOX {lit(M1)} {lit(M2)}\r\n")
    out = await c.read_until(rb"^b .*\r\n")
    assert b"* 2 EXISTS\r\n" in out and b"b OK [APPENDUID " in out
