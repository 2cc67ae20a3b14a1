"""Parsing of MULTISEARCH's ESEARCH (RFC 7377 section 4): the section 2.1 examples,
every source filter, and the BAD cases (SELECTED-DELAYED, unknown filters, scope
options, UPDATE), each fed whole and byte by byte."""

from __future__ import annotations

import pytest

from protocol.protocol_feed import one
from pyimapd.protocol.events import ParseError
from pyimapd.protocol.multisearch import Esearch, MailboxFilter
from pyimapd.search import ast


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b'tag1 ESEARCH IN (mailboxes "folder1" subtree-one "folder2") from "Smith"',
         Esearch("tag1", ast.Header("FROM", "Smith"), (
             MailboxFilter("MAILBOXES", ("folder1",)),
             MailboxFilter("SUBTREE-ONE", ("folder2",))))),
        (b'tag2 ESEARCH IN (mailboxes "folder1" subtree-one "folder2") RETURN (MIN COUNT) '
         b'from "Smith"',
         Esearch("tag2", ast.Header("FROM", "Smith"), (
             MailboxFilter("MAILBOXES", ("folder1",)),
             MailboxFilter("SUBTREE-ONE", ("folder2",))), returns=frozenset({"MIN", "COUNT"}))),
        (b"a esearch in (Personal inboxes subscribed selected subtree (a b)) charset UTF-8 seen",
         Esearch("a", ast.Flag("\\Seen"), (
             MailboxFilter("PERSONAL"), MailboxFilter("INBOXES"), MailboxFilter("SUBSCRIBED"),
             MailboxFilter("SELECTED"), MailboxFilter("SUBTREE", ("a", "b"))), "UTF-8")),
        (b"b ESEARCH RETURN () ALL", Esearch("b", ast.All(), None, returns=frozenset())),
        (b"c ESEARCH ALL", Esearch("c", ast.All())),
    ],
)
def test_parsed(line: bytes, command: Esearch) -> None:
    got = one(line + b"\r\n")
    assert got == command


def test_only_selected() -> None:
    assert Esearch("a", ast.All()).only_selected
    assert Esearch("a", ast.All(), (MailboxFilter("SELECTED"),)).only_selected
    assert not Esearch("a", ast.All(), (MailboxFilter("PERSONAL"),)).only_selected


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"a ESEARCH IN (selected-delayed) ALL", "SELECTED-DELAYED is not a source"),
        (b"a ESEARCH IN (personal (depth 1)) ALL", "Unknown ESEARCH scope option"),
        (b"a ESEARCH IN (everything) ALL", "Unknown source mailbox filter"),
        (b"a ESEARCH IN () ALL", "Unknown source mailbox filter"),
        (b"a ESEARCH IN (mailboxes) ALL", ""),
        (b"a ESEARCH RETURN (UPDATE) ALL", "ESEARCH takes no CONTEXT or UPDATE"),
        (b"a ESEARCH RETURN (NOTHING) ALL", "unknown ESEARCH result option NOTHING"),
        (b"a ESEARCH IN (personal)", ""),
    ],
)
def test_refused(line: bytes, text: str) -> None:
    got = one(line + b"\r\n")
    assert isinstance(got, ParseError) and got.status == "BAD" and got.tag == "a", got
    assert text in got.text, got
