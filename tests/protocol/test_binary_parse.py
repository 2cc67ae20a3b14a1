"""FETCH BINARY items (RFC 3516 section 7) and the QUOTA / COMPRESS commands (RFC 9208
section 7, RFC 4978 section 4) in the parser."""

from __future__ import annotations

import pytest

from protocol.protocol_feed import events_of
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import ParseError

ALL = c.SequenceSet(((1, 1),))


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("BINARY[]", (c.FetchBinary(peek=False),)),
        ("binary.peek[1.2]<0.10>", (c.FetchBinary(peek=True, part=(1, 2), partial=(0, 10)),)),
        ("(UID BINARY.SIZE[3])",
         (c.FetchAttr("UID"), c.FetchBinary(peek=True, part=(3,), size=True))),
    ],
)
def test_binary_items(text: str, items: tuple[c.FetchItem, ...]) -> None:
    assert events_of(f"a FETCH 1 {text}\r\n".encode()) == [c.Fetch("a", ALL, items)]


@pytest.mark.parametrize(
    "text",
    ["BINARY", "BINARY[TEXT]", "BINARY[1.MIME]", "BINARY[0]", "BINARY.SIZE[1]<0.5>",
     "BINARY[1]<0.0>", "BINARY.PEEK[1"],
)
def test_bad_binary_items(text: str) -> None:
    [event] = events_of(f"a FETCH 1 {text}\r\n".encode())
    assert isinstance(event, ParseError) and event.tag == "a", event


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ('a GETQUOTA ""', c.GetQuota("a", "")),
        ("a getquota user/x", c.GetQuota("a", "user/x")),
        ("a GETQUOTAROOT inbox", c.GetQuotaRoot("a", "INBOX")),
        ('a SETQUOTA "" (STORAGE 512 message 10)',
         c.SetQuota("a", "", (("STORAGE", 512), ("MESSAGE", 10)))),
        ('a SETQUOTA "" ()', c.SetQuota("a", "", ())),
        ("a COMPRESS deflate", c.Compress("a", "DEFLATE")),
    ],
)
def test_quota_and_compress_commands(line: str, command: c.Command) -> None:
    assert events_of(line.encode() + b"\r\n") == [command]


@pytest.mark.parametrize(
    "line",
    ["a GETQUOTA", "a GETQUOTA x y", 'a SETQUOTA "" (STORAGE)', 'a SETQUOTA "" STORAGE 1',
     'a SETQUOTA "" (STORAGE 1 STORAGE 2)', 'a SETQUOTA "" (STORAGE 9223372036854775808)',
     "a GETQUOTAROOT", "a COMPRESS", "a COMPRESS DEFLATE x"],
)
def test_quota_and_compress_errors(line: str) -> None:
    [event] = events_of(line.encode() + b"\r\n")
    assert isinstance(event, ParseError) and event.tag == "a", event
