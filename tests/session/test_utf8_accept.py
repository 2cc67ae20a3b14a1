"""UTF8=ACCEPT (RFC 6855) on every backend: ENABLE, UTF-8 mailbox names with both
spellings naming one mailbox, UTF-8 headers in APPEND (refused without ENABLE), the
``UTF8 (~{n})`` data item, and SEARCH without CHARSET."""

from __future__ import annotations

import dataclasses

import pytest

from harness import Client, Harness

HEADER_8BIT = "Subject: café olé\r\nFrom: josé@example.com\r\n\r\nbody\r\n".encode()
BODY_8BIT = "Subject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncafé\r\n".encode()


@pytest.fixture
def harness(harness: Harness) -> Harness:
    """The server with ``utf8_accept`` set (it is off by default)."""
    harness.ctx.config = dataclasses.replace(harness.ctx.config, utf8_accept=True)
    return harness


async def _append(c: Client, data: bytes, utf8: bool = False, tag: str = "ap") -> bytes:
    head = b"%s APPEND INBOX " % tag.encode()
    literal = b"UTF8 (~{%d+}\r\n" % len(data) if utf8 else b"{%d+}\r\n" % len(data)
    c.send(head + literal + data + (b")" if utf8 else b"") + b"\r\n")
    return await c.read_until(rb"^%s .*\r\n" % tag.encode())


async def test_enable_and_capability(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b" UTF8=ACCEPT" in await c.command("a CAPABILITY")
    assert b"* ENABLED UTF8=ACCEPT\r\n" in await c.command("b ENABLE utf8=accept")
    assert b"* ENABLED\r\n" in await c.command("c ENABLE UTF8=ACCEPT")  # once only


async def test_8bit_headers_need_enable(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    out = await _append(c, HEADER_8BIT)
    assert out.startswith(b"ap NO [CANNOT]") and b"UTF8=ACCEPT" in out, out
    assert b"ap2 OK" in await _append(c, BODY_8BIT, tag="ap2")  # 8-bit body: fine
    assert (await _append(c, HEADER_8BIT, utf8=True, tag="ap3")).startswith(b"ap3 NO [CANNOT]")
    await c.command("e ENABLE UTF8=ACCEPT")
    assert b"ap4 OK" in await _append(c, HEADER_8BIT, utf8=True, tag="ap4")
    assert b"ap5 OK" in await _append(c, HEADER_8BIT, tag="ap5")
    await c.command("s SELECT INBOX")
    out = await c.command("f FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert "Subject: café olé\r\n".encode() in out, out
    out = await c.command('g SEARCH SUBJECT "olé"')
    assert b"* SEARCH 2 3\r\n" in out, out
    assert (await c.command("h SEARCH CHARSET UTF-8 ALL")).startswith(b"h BAD")
    assert b"* SEARCH 1 2 3\r\n" in await c.command("i SEARCH ALL")


async def test_off_by_default_8bit_headers_are_stored(harness: Harness) -> None:
    harness.ctx.config = dataclasses.replace(harness.ctx.config, utf8_accept=False)
    c = await harness.connect(("demo", "demo"))
    assert b"UTF8=ACCEPT" not in await c.command("a CAPABILITY")
    assert b"* ENABLED\r\n" in await c.command("b ENABLE UTF8=ACCEPT")
    assert b"ap OK" in await _append(c, HEADER_8BIT)


async def test_search_charset_before_enable(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("s SELECT INBOX")
    assert b"a OK" in await c.command("a SEARCH CHARSET UTF-8 ALL")


async def test_mailbox_names(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("e ENABLE UTF8=ACCEPT")
    assert b"a OK" in await c.command('a CREATE "Entwürfe"')
    out = await c.command('b LIST "" "Entw*"')
    assert '* LIST (\\HasNoChildren) "/" "Entwürfe"\r\n'.encode() in out, out
    assert b"c OK" in await c.command("c SELECT Entw&APw-rfe")  # the same mailbox
    out = await c.command('d STATUS "Entwürfe" (MESSAGES)')
    assert '* STATUS "Entwürfe" (MESSAGES 0)\r\n'.encode() in out, out
    c.send(b'f SELECT "Entw\xfcrfe"\r\n')  # Latin-1, not UTF-8
    assert (await c.read_until(rb"^f .*\r\n")).startswith(b"f BAD")
    legacy = await harness.connect(("demo", "demo"))
    out = await legacy.command('g LIST "" "Entw*"')
    assert b'* LIST (\\HasNoChildren) "/" Entw&APw-rfe\r\n' in out, out
