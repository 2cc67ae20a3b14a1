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
        (b"a UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED",  # RFC 9394 section 3.1
         c.Search("a", ast.Flag("\\Deleted", False), None, True, frozenset({"PARTIAL"}),
                  c.PartialRange(-1, -100))),
        (b"a SEARCH RETURN (count partial 500:400 SAVE) ALL",
         c.Search("a", ast.All(), returns=frozenset({"COUNT", "PARTIAL", "SAVE"}),
                  partial=c.PartialRange(500, 400))),
        (b"a SORT RETURN (PARTIAL 4294967295:1) (DATE) UTF-8 ALL",
         c.Sort("a", (("DATE", False),), ast.All(), "UTF-8", False, frozenset({"PARTIAL"}),
                c.PartialRange(4294967295, 1))),
        (b"a UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)",  # section 3.3
         c.Fetch("a", SequenceSet(((1, c.STAR),)), (c.FetchAttr("FLAGS"),), True,
                 partial=c.PartialRange(-1, -3))),
        (b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 98305 partial 1:5)",  # section 3.4
         c.Fetch("a", SequenceSet(((1, c.STAR),)), (c.FetchAttr("FLAGS"),), True, 98305,
                 partial=c.PartialRange(1, 5))),
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
        (b"a SEARCH RETURN (PARTIAL 1:5 ALL) ALL", "PARTIAL and ALL cannot be combined"),
        (b"a SORT RETURN (ALL PARTIAL 1:5) (DATE) UTF-8 ALL", "PARTIAL and ALL cannot be"),
        (b"a SEARCH RETURN (PARTIAL) ALL", "Invalid partial range"),
        (b"a SEARCH RETURN (PARTIAL 1:2 PARTIAL 1:2) ALL", "PARTIAL given twice"),
        (b"a SEARCH RETURN (PARTIAL 0:2) ALL", "Invalid partial range"),
        (b"a SEARCH RETURN (PARTIAL -1:2) ALL", "Invalid partial range"),
        (b"a SEARCH RETURN (PARTIAL 1:*) ALL", "Invalid partial range"),
        (b"a SEARCH RETURN (PARTIAL 1:2x) ALL", "Invalid partial range"),
        (b"a SEARCH RETURN (PARTIAL 5) ALL", "Invalid partial range"),
        (b"a SEARCH RETURN (PARTIAL 1:4294967296) ALL", "Number too large in partial range"),
        (b"a FETCH 1:* (FLAGS) (PARTIAL 1:2)", "PARTIAL is only allowed with UID FETCH"),
        (b"a UID FETCH 1 FLAGS (PARTIAL 1:2 PARTIAL 1:3)", "repeated FETCH modifier PARTIAL"),
        (b"a UID FETCH 1 FLAGS (PARTIAL -0:-3)", "Invalid partial range"),
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


@pytest.mark.parametrize(
    ("first", "last", "picked"),
    [
        (1, 3, [10, 20, 30]),
        (3, 1, [10, 20, 30]),  # "A range 500:400 is the same as 400:500"
        (4, 9, [40, 50]),  # past the end: what there is
        (6, 9, []),
        (-1, -1, [50]),
        (-1, -2, [40, 50]),
        (-4, -2, [20, 30, 40]),
        (-9, -4, [10, 20]),  # past the start
        (-9, -6, []),
    ],
)
def test_partial_range_positions(first: int, last: int, picked: list[int]) -> None:
    """RFC 9394 section 3.1: 1 is the first result, -1 the last, in result order."""
    assert c.PartialRange(first, last).select([10, 20, 30, 40, 50]) == picked
    assert c.PartialRange(first, last).select([]) == []
