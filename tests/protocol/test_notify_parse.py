"""Parsing of NOTIFY (RFC 5465 section 8): the section 3.1 examples, every filter, the
grammar's rules on which events go together, and refusals that leave the session up."""

from __future__ import annotations

import pytest

from protocol.protocol_feed import one
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import ParseError

HEADERS = c.FetchSection(peek=True, text="HEADER.FIELDS", fields=("FROM", "TO", "SUBJECT"))
NEW = ("MessageNew", "MessageExpunge")


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"a NOTIFY NONE", c.Notify("a", None)),
        # section 3.1's first example, as one line
        (b"b notify set status (selected MessageNew (uid body.peek[header.fields (from to "
         b"subject)]) MessageExpunge) (subtree Lists MessageNew MessageExpunge)",
         None),
        (b"e NOTIFY SET (selected MessageNew MessageExpunge FlagChange) "
         b"(mailboxes (misc \"Other box\") MessageNew MessageExpunge) (personal (MailboxName "
         b"SubscriptionChange)) (inboxes NONE) (subscribed (MessageNew MessageExpunge))",
         c.Notify("e", (
             c.NotifyGroup("SELECTED", (), (*NEW, "FlagChange")),
             c.NotifyGroup("MAILBOXES", ("misc", "Other box"), NEW),
             c.NotifyGroup("PERSONAL", (), ("MailboxName", "SubscriptionChange")),
             c.NotifyGroup("INBOXES", (), ()),
             c.NotifyGroup("SUBSCRIBED", (), NEW)))),
        (b"f NOTIFY SET (SELECTED-DELAYED (messagenew messageexpunge)) (personal (XFoo))",
         c.Notify("f", (c.NotifyGroup("SELECTED-DELAYED", (), NEW),
                        c.NotifyGroup("PERSONAL", (), ("XFoo",))))),
    ],
)
def test_parsed(line: bytes, command: c.Notify | None) -> None:
    got = one(line + b"\r\n")
    assert isinstance(got, c.Notify), got
    if command is not None:
        assert got == command
    else:  # the first example: check its parts
        assert got.status and got.groups is not None and len(got.groups) == 2
        selected, lists = got.groups
        assert selected.filter == "SELECTED" and selected.events == NEW
        assert selected.fetch == (c.FetchAttr("UID"), HEADERS)
        assert lists == c.NotifyGroup("SUBTREE", ("Lists",), ("MessageNew", "MessageExpunge"))


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"a NOTIFY", "Missing SET or NONE"),
        (b"a NOTIFY SOMETIMES", "Expected SET or NONE after NOTIFY"),
        (b"a NOTIFY SET", "Missing event groups"),
        (b"a NOTIFY SET STATUS", "Missing event groups"),
        (b"a NOTIFY SET (nowhere (MessageNew MessageExpunge))", "Unknown mailbox filter"),
        (b"a NOTIFY SET (selected (MailboxName))", "Only message events"),
        (b"a NOTIFY SET (selected (MessageNew))", "must be given together"),
        (b"a NOTIFY SET (personal (FlagChange))", "FlagChange needs"),
        (b"a NOTIFY SET (personal (MessageNew (UID) MessageExpunge))", "only for SELECTED"),
        (b"a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed NONE)",
         "Only one of SELECTED"),
        (b"a NOTIFY SET (subtree (MessageNew MessageExpunge))", "Invalid"),
        (b"a NOTIFY SET (personal ())", "Invalid event"),
        (b"a NOTIFY SET (personal (MailboxName MailboxName))", "given twice"),
        (b"a NOTIFY SET (personal (MailboxName)", "Expected"),
        (b"a NOTIFY SET (personal MailboxName", "Expected"),
    ],
)
def test_refused(line: bytes, text: str) -> None:
    got = one(line + b"\r\n")
    assert isinstance(got, ParseError), got
    assert text in got.text, got.text


def test_update_takes_fetch_attributes() -> None:
    """Section 7's ``modifier-update``: UPDATE with or without fetch attributes, in
    SEARCH and SORT, next to other result options."""
    search = one(b"a00 SEARCH RETURN (COUNT UPDATE (UID BODY[HEADER.FIELDS (TO FROM "
                 b"SUBJECT)])) FROM \"boss\"\r\n")
    assert isinstance(search, c.Search)
    assert search.returns == frozenset({"COUNT", "UPDATE"})
    assert search.update_fetch == (
        c.FetchAttr("UID"),
        c.FetchSection(peek=False, text="HEADER.FIELDS", fields=("TO", "FROM", "SUBJECT")))
    plain = one(b"a01 SEARCH RETURN (UPDATE COUNT) ALL\r\n")
    assert isinstance(plain, c.Search) and plain.update_fetch == ()
    sort = one(b"a02 UID SORT RETURN (UPDATE (FLAGS) ALL) (DATE) UTF-8 ALL\r\n")
    assert isinstance(sort, c.Sort) and sort.update_fetch == (c.FetchAttr("FLAGS"),)
    assert isinstance(one(b"a03 SEARCH RETURN (UPDATE (NOSUCH)) ALL\r\n"), ParseError)
