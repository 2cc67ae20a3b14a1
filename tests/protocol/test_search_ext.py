"""Parsing of SEARCH RETURN (RFC 4731, RFC 5182), ``$``, OLDER/YOUNGER (RFC 5032), SORT and
THREAD (RFC 5256)."""

from __future__ import annotations

from datetime import date

import pytest

from protocol.protocol_feed import one
from pyimapd.protocol import commands as c
from pyimapd.protocol.commands import SequenceSet
from pyimapd.protocol.events import ParseError
from pyimapd.search import ast

SAVED = SequenceSet((), saved=True)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"a SEARCH RETURN (MIN COUNT) FLAGGED",
         c.Search("a", ast.Flag("\\Flagged"), returns=frozenset({"MIN", "COUNT"}))),
        (b"a SEARCH RETURN () ALL", c.Search("a", ast.All(), returns=frozenset())),
        (b"a UID SEARCH return (max save) CHARSET UTF-8 1:5",
         c.Search("a", ast.SeqSet(SequenceSet(((1, 5),))), "UTF-8", True,
                  frozenset({"MAX", "SAVE"}))),
        (b"a SEARCH $ UID $",
         c.Search("a", ast.And((ast.SeqSet(SAVED), ast.UidSet(SAVED))))),
        (b"a SEARCH OR $ 1 YOUNGER 259200",
         c.Search("a", ast.And((ast.Or(ast.SeqSet(SAVED), ast.SeqSet(SequenceSet(((1, 1),)))),
                                ast.Within(False, 259200))))),
        (b"a SEARCH older 60", c.Search("a", ast.Within(True, 60))),
        (b"a SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
         c.Sort("a", (("SUBJECT", False), ("DATE", True)), ast.All(), "UTF-8")),
        (b'a UID SORT (arrival) "us-ascii" SEEN $',
         c.Sort("a", (("ARRIVAL", False),), ast.And((ast.Flag("\\Seen"), ast.SeqSet(SAVED))),
                "US-ASCII", True)),
        (b"a UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED",  # RFC 5267 section 3.3
         c.Sort("a", (("DATE", True),), ast.Flag("\\Deleted", False), "UTF-8", True,
                frozenset())),
        (b"a SORT return (min Count SAVE) (SIZE) US-ASCII ALL",
         c.Sort("a", (("SIZE", False),), ast.All(), "US-ASCII", False,
                frozenset({"MIN", "COUNT", "SAVE"}))),
        (b"a THREAD REFERENCES UTF-8 SINCE 5-MAR-2000",
         c.Thread("a", "REFERENCES", ast.InternalDate("since", date(2000, 3, 5)), "UTF-8")),
        (b"a UID THREAD orderedsubject US-ASCII ALL",
         c.Thread("a", "ORDEREDSUBJECT", ast.All(), "US-ASCII", True)),
        (b"a FETCH $ FLAGS", c.Fetch("a", SAVED, (c.FetchAttr("FLAGS"),))),
        (b"a UID COPY $ Trash", c.Copy("a", SAVED, "Trash", True)),
    ],
)
def test_parsed(line: bytes, command: c.Command) -> None:
    assert one(line + b"\r\n") == command


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"a SEARCH RETURN (MIN)", "Missing search criteria"),
        (b"a SEARCH RETURN (FOO) ALL", "unknown SEARCH result option FOO"),
        (b"a SEARCH RETURN (MIN ALL", "Missing RETURN option"),
        (b"a SEARCH YOUNGER 0", "Zero is not allowed"),
        (b"a SEARCH OLDER", "Missing interval for OLDER"),
        (b"a SEARCH OLDER -5", "Invalid interval for OLDER"),
        (b"a SEARCH $,1", "Invalid"),
        (b"a SORT (SUBJECT) ALL", "Missing search criteria"),  # the charset is mandatory
        (b"a SORT RETURN (FOO) (SIZE) UTF-8 ALL", "unknown SORT result option FOO"),
        (b"a SORT RETURN (ALL) UTF-8 ALL", "Expected ( in sort criteria"),
        (b"a SORT RETURN (ALL (SIZE) UTF-8 ALL", "Invalid RETURN option"),
        (b"a SORT SUBJECT UTF-8 ALL", "Expected ( in sort criteria"),
        (b"a SORT () UTF-8 ALL", "Invalid sort criterion"),
        (b"a SORT (REVERSE) UTF-8 ALL", "Invalid sort key after REVERSE"),
        (b"a SORT (REVERSE REVERSE SIZE) UTF-8 ALL", "unknown sort criterion REVERSE"),
        (b"a SORT (DISPLAYNAME) UTF-8 ALL", "unknown sort criterion DISPLAYNAME"),
        (b"a SORT (SIZE) UTF-8", "Missing search criteria"),
        (b"a THREAD UTF-8 ALL", "Missing search criteria"),
        (b"a THREAD REFS UTF-8 ALL", "unknown threading algorithm REFS"),
        (b"a THREAD REFERENCES", "Missing charset"),
        (b"a UID THREAD REFERENCES UTF-8 ALL extra", "Unknown search key EXTRA"),
    ],
)
def test_refused(line: bytes, text: str) -> None:
    event = one(line + b"\r\n")
    assert isinstance(event, ParseError), event
    assert event.tag == "a" and text in event.text, event.text
