from __future__ import annotations

from harness import Harness


async def test_login_select_append_fetch(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    c.send("A1 APPEND INBOX (\\Flagged) {23}\r\n")
    await c.read_until(rb"^\+ .*\r\n")
    c.send("Subject: hi\r\n\r\nhello\r\n\r\n")
    out = await c.read_until(rb"^A1 .*\r\n")
    assert b"A1 OK [APPENDUID" in out, out
    out = await c.command("A2 SELECT INBOX")
    assert b"* 1 EXISTS" in out and b"A2 OK [READ-WRITE] SELECT completed" in out, out
    out = await c.command("A3 FETCH 1 (FLAGS BODY[])")
    assert b"BODY[] {" in out and b"\\Seen" in out, out
    out = await c.command("A4 LOGOUT")
    assert b"* BYE" in out
