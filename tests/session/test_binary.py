"""BINARY (RFC 3516) in the session: decoded sections, partial ranges over the decoded
data, BINARY.SIZE, literal8 for NUL, UNKNOWN-CTE, \\Seen, APPEND with literal8, and a
large base64 part streamed."""

from __future__ import annotations

import base64
import os
import re

from harness import Client, Harness

PAYLOAD = bytes(range(256)) * 4  # holds NUL
MESSAGE = (
    "From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "caf=C3=A9 au lait=\r\n, s'il vous pla=C3=AEt   \r\nfin\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(PAYLOAD).decode().replace("\n", "\r\n")
    + "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    "begin 644 x\r\n`\r\nend\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nplain 7bit\r\n"
    "--b--\r\n"
)
QP_DECODED = "café au lait, s'il vous plaît\r\nfin".encode()


async def _setup(harness: Harness, message: str = MESSAGE) -> Client:
    c = await harness.connect(("demo", "demo"))
    data = message.encode()
    c.send(b"a APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
    assert b"a OK" in await c.read_until(rb"^a .*\r\n")
    await c.command("b SELECT INBOX")
    return c


async def test_decoded_sections(harness: Harness) -> None:
    c = await _setup(harness)
    out = await c.command("c FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
    expected = b"BINARY[1] {%d}\r\n" % len(QP_DECODED) + QP_DECODED
    assert expected + b" BINARY.SIZE[1] %d)" % len(QP_DECODED) in out, out
    out = await c.command("d FETCH 1 (BINARY.PEEK[2])")
    assert b"BINARY[2] ~{1024}\r\n" + PAYLOAD + b")\r\n" in out  # NUL: literal8
    out = await c.command("e FETCH 1 (BINARY.PEEK[2]<10.10> BINARY.PEEK[1]<0.4>)")
    assert b"BINARY[2]<10> {10}\r\n" + PAYLOAD[10:20] in out, out  # no NUL in range
    assert b"BINARY[1]<0> {4}\r\ncaf\xc3" in out
    out = await c.command("f FETCH 1 (BINARY.PEEK[4] BINARY.SIZE[4] BINARY.PEEK[9])")
    assert b"BINARY[4] {10}\r\nplain 7bit BINARY.SIZE[4] 10 BINARY[9] \"\")" in out, out
    out = await c.command("g FETCH 1 (FLAGS)")
    assert b"\\Seen" not in out


async def test_binary_sets_seen_and_unknown_cte(harness: Harness) -> None:
    c = await _setup(harness)
    out = await c.command("c FETCH 1 (BINARY[4])")
    assert b"FLAGS (\\Seen \\Recent)" in out and b"c OK" in out
    out = await c.command("d FETCH 1 (UID BINARY.PEEK[3])")
    assert out == b"d NO [UNKNOWN-CTE] Cannot decode the X-UUENCODE content transfer encoding\r\n"
    assert (await c.command("e FETCH 1 BINARY.SIZE[3]")).startswith(b"e NO [UNKNOWN-CTE]")
    assert (await c.command("f FETCH 1 BINARY[1.TEXT]")).startswith(b"f BAD ")
    assert (await c.command("g FETCH 1 BINARY.SIZE[1]<0.1>")).startswith(b"g BAD ")


async def test_append_literal8_keeps_nul(harness: Harness) -> None:
    """RFC 3516 section 4.4: the part holding NUL is stored base64-encoded, so BINARY[1]
    gives the octets sent while BODY[] and BINARY[] (the message itself has no encoding)
    carry no NUL in their ``{n}`` literals (section 4.3)."""
    c = await harness.connect(("demo", "demo"))
    data = b"Subject: nul\r\n\r\na\x00b\r\n"
    c.send(b"a APPEND INBOX ~{%d}\r\n" % len(data))
    assert await c.read_until(rb"^\+ .*\r\n") == b"+ Ready for literal data\r\n"
    c.send(data + b"\r\n")
    assert b"a OK [APPENDUID" in await c.read_until(rb"^a .*\r\n")
    await c.command("b SELECT INBOX")
    out = await c.command("c FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BODY.PEEK[])")
    assert b"BINARY[1] ~{5}\r\na\x00b\r\n BINARY.SIZE[1] 5 " in out, out
    stored = b"Subject: nul\r\nContent-Transfer-Encoding: base64\r\n\r\nYQBiDQo="
    assert b"BODY[] {%d}\r\n" % len(stored) + stored + b")" in out, out


async def test_large_base64_part_is_streamed(harness: Harness) -> None:
    blob = os.urandom(300_000)
    message = (
        'Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: application/x-blob\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(blob).decode().replace("\n", "\r\n"))
    c = await _setup(harness, message)
    out = await c.command("c FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<299990.100>)")
    assert b"BINARY.SIZE[1] 300000 " in out
    m = re.search(rb"BINARY\[1\] (~?)\{300000\}\r\n", out)
    assert m is not None
    assert out[m.end() : m.end() + 300000] == blob
    assert b"BINARY[1]<299990> " in out and out.endswith(b")\r\nc OK FETCH completed\r\n")
    tail = out[out.index(b"BINARY[1]<299990> ") :]
    assert tail.split(b"\r\n", 1)[1][:10] == blob[-10:]


async def test_append_literal8_binary_part_keeps_bare_lf(harness: Harness) -> None:
    """The issue's case: a ``binary`` part of 7 octets with NUL and bare LFs comes back
    from BINARY[1] as those 7 octets (not 9, with the LFs made CRLF), BINARY.SIZE agrees,
    and BODY[1] is its base64 form, which BODYSTRUCTURE describes."""
    c = await harness.connect(("demo", "demo"))
    payload = b"a\x00b\nc\nd"
    data = (b"Subject: binary\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
            b"--x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + payload + b"\r\n--x--\r\n")
    c.send(b"a APPEND INBOX ~{%d+}\r\n" % len(data) + data + b"\r\n")
    assert b"a OK [APPENDUID" in await c.read_until(rb"^a .*\r\n")
    await c.command("b SELECT INBOX")
    out = await c.command("c FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BODY.PEEK[1] BODYSTRUCTURE)")
    assert b"BINARY[1] ~{7}\r\n" + payload + b" BINARY.SIZE[1] 7 " in out, out
    assert b'BODY[1] {12}\r\nYQBiCmMKZA== ' in out, out
    assert b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "base64" 12 NIL' in out, out
    assert b"\x00" not in out.replace(b"~{7}\r\n" + payload, b"")


async def test_failed_binary_fetch_does_not_set_seen(harness: Harness) -> None:
    """RFC 3516 section 4.3: BINARY of a part with an unknown encoding fails the FETCH
    (UNKNOWN-CTE); a FETCH that failed must not have set \\Seen on the way, neither on
    that message nor on the others of its set."""
    c = await _setup(harness)
    c.send(b"z APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE.encode() + b"\r\n")
    assert b"z OK" in await c.read_until(rb"^z .*\r\n")
    out = await c.command("c FETCH 1:* (BINARY[3])")
    assert out.endswith(b"c NO [UNKNOWN-CTE] Cannot decode the X-UUENCODE content transfer "
                        b"encoding\r\n"), out
    assert b"\\Seen" not in out
    out = await c.command("d FETCH 1:* (FLAGS)")
    assert b"\\Seen" not in out, out
