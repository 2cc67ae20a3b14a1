"""sent_date and search_fields (values for SEARCH, RFC 3501 6.4.4)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta, timezone

from mime.mime_helpers import parse_bytes
from pyimapd.mime import search_fields, sent_date


def fields(data: bytes, max_text: int = 1_000_000) -> tuple[dict[str, str], str]:
    return search_fields(io.BytesIO(data), parse_bytes(data), max_text)


def test_sent_date(corpus) -> None:
    _, root = corpus("01_plain")
    assert sent_date(root) == datetime(2022, 2, 7, 10, 11, 12, tzinfo=timezone(timedelta(hours=1)))
    _, root = corpus("03_mixed_attachment")
    assert sent_date(root) is None
    bad = parse_bytes(b"Date: yesterday-ish\r\n\r\n")
    assert sent_date(bad) is None
    unknown_zone = parse_bytes(b"Date: 1 Jan 2020 00:00:00 -0000\r\n\r\n")
    assert sent_date(unknown_zone) == datetime(2020, 1, 1, tzinfo=UTC)


def test_headers_are_decoded_unfolded_lowercased(corpus) -> None:
    data, root = corpus("07_rfc2047")
    headers, text = search_fields(io.BytesIO(data), root)
    assert headers["subject"] == "été déjà vu ici"
    assert headers["from"] == "andré pirard <pirard@vm1.ulg.ac.be>\npirard@vm1.ulg.ac.be"
    assert text == "Body.\r\n"


def test_address_fields_also_hold_each_parsed_address() -> None:
    """FROM/TO/CC/BCC match the address as parsed, comments and folding white space
    taken out, one line per address (issue 16); the header text stays searchable."""
    headers, _ = fields(
        b"From: <user-from (comment)@ (comment) domain.org>\r\n"
        b"To: \"Ann\" <Ann@Example.ORG>, team: x (c) @ y.example;\r\n"
        b"Cc: ,,\r\n"
        b"Bcc: undisclosed-recipients:;\r\n"
        b"Subject: <not@an.address.field>\r\n\r\n")
    assert headers["from"] == ("<user-from (comment)@ (comment) domain.org>\n"
                               "user-from@domain.org")
    assert headers["to"] == ('"ann" <ann@example.org>, team: x (c) @ y.example;\n'
                             "ann@example.org\nx@y.example")
    assert headers["cc"] == ",,"
    assert headers["bcc"] == "undisclosed-recipients:;"
    assert headers["subject"] == "<not@an.address.field>"


def test_repeated_fields_are_joined() -> None:
    headers, _ = fields(b"Received: A\r\nreceived: b\r\n c\r\n\r\n")
    assert headers == {"received": "a\nb c"}


def test_text_parts_are_transfer_and_charset_decoded(corpus) -> None:
    data, root = corpus("04_alternative")
    _, text = search_fields(io.BytesIO(data), root)
    assert text == "Café ouvert.\n<p>Café <b>ouvert</b>.</p>"


def test_base64_unknown_charset_and_attachments_skipped() -> None:
    payload = base64.encodebytes("Grüße".encode()).replace(b"\n", b"\r\n")
    data = (b"Content-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\n"
            b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + payload +
            b"--s\r\nContent-Type: application/octet-stream\r\n\r\nBINARY\r\n--s--\r\n")
    _, text = fields(data)
    assert text == "Grüße"


def test_text_is_truncated() -> None:
    data = b"Subject: x\r\n\r\n" + b"0123456789" * 1000
    _, text = fields(data, max_text=25)
    assert text == "0123456789012345678901234"


def test_8bit_latin1_text(corpus) -> None:
    data, root = corpus("18_latin1_header")
    headers, text = search_fields(io.BytesIO(data), root)
    assert text == "café\r\n"
    assert headers["subject"] == "caf\ufffd"  # undeclared 8-bit header octets


def test_utf16_and_utf32_without_a_byte_order_mark_are_big_endian() -> None:
    """RFC 2781 section 4.3. Python's incremental UTF-16 decoder raises without a BOM,
    which failed the APPEND of such a message (found by tests/fuzz)."""
    for charset, codec in (("utf-16", "utf-16-be"), ("UTF-32", "utf-32-be")):
        body = "Grüße aus Köln".encode(codec)
        data = (f"Content-Type: text/plain; charset={charset}\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n").encode()
        data += base64.encodebytes(body).replace(b"\n", b"\r\n")
        assert fields(data)[1] == "Grüße aus Köln"
    with_bom = "Grüße".encode("utf-16")  # a BOM in this machine's order
    data = b"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64"
    data += b"\r\n\r\n" + base64.encodebytes(with_bom).replace(b"\n", b"\r\n")
    assert fields(data)[1] == "Grüße"
