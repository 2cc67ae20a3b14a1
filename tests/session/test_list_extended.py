"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CHILDREN (RFC 3348) and
SPECIAL-USE / CREATE-SPECIAL-USE (RFC 6154): the name selection on the RFC's example
hierarchies, then the commands end to end on every backend."""

from __future__ import annotations

import re

import pytest

from harness import Client, Harness
from pyimapd.protocol import commands as c
from pyimapd.protocol.parser import parse_command
from pyimapd.session.handlers.listing import select_entries
from pyimapd.storage.interface import MailboxRecord
from pyimapd.storage.names import parents


def records(*names: str, uses: dict[str, str] | None = None) -> list[MailboxRecord]:
    """Existing mailboxes; a name only implied by an inferior exists as \\Noselect."""
    implied = {p for n in names for p in parents(n)} - set(names)
    every = sorted(set(names) | implied)
    return [
        MailboxRecord(n, 1, False, any(m.startswith(n + "/") for m in every),
                      (uses or {}).get(n), n in implied)
        for n in every
    ]


def listing(line: str, boxes: list[MailboxRecord], subscribed: list[str]) -> list[str]:
    command = parse_command([line.encode()], [])
    assert isinstance(command, c.List), command
    out = []
    for e in select_entries(command, boxes, subscribed):
        text = f"({' '.join(e.attributes)}) {e.name}"
        out.append(text + (f" CHILDINFO {list(e.childinfo)}" if e.childinfo else ""))
    return out


EXAMPLE9 = records("INBOX", "foo2", "foo2/bar1", "foo2/bar2", "baz2", "baz2/bar2",
                   "baz2/bar22", "baz2/bar222", "eps2", "eps2/mamba", "qux2/bar2")
SUBSCRIBED9 = ["foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2",
               "eps2/mamba", "qux2/bar2"]


def test_recursivematch_reports_parents_of_unmatched_subscribed_names() -> None:
    """RFC 5258 section 5, example 9 (D03 with "*2"), without the redundant CHILDINFO
    lines section 3.5 says a server SHOULD suppress (baz2, qux2)."""
    got = listing('D03 LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"', EXAMPLE9, SUBSCRIBED9)
    assert got == [  # INBOX first, then by name: the RFC's order is not required
        "(\\HasNoChildren \\Subscribed) baz2/bar2",
        "(\\HasNoChildren \\Subscribed) baz2/bar22",
        "(\\HasNoChildren \\Subscribed) baz2/bar222",
        "(\\HasChildren \\Subscribed) eps2 CHILDINFO ['SUBSCRIBED']",
        "(\\HasChildren) foo2 CHILDINFO ['SUBSCRIBED']",
        "(\\HasNoChildren \\Subscribed) foo2/bar2",
        "(\\HasNoChildren \\Subscribed) qux2/bar2",
    ]


def test_subscribed_lists_nonexistent_names() -> None:
    """Example 2: a subscribed name that does not exist is \\NonExistent."""
    boxes = records("INBOX", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli",
                    "Vegetable/Corn")
    subscribed = ["INBOX", "Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"]
    got = listing('A02 LIST (SUBSCRIBED) "" "*"', boxes, subscribed)
    assert got == [
        "(\\HasNoChildren \\Subscribed) INBOX",
        "(\\HasNoChildren \\Subscribed) Fruit/Banana",
        "(\\NonExistent \\HasNoChildren \\Subscribed) Fruit/Peach",
        "(\\Noselect \\HasChildren \\Subscribed) Vegetable",
        "(\\HasNoChildren \\Subscribed) Vegetable/Broccoli",
    ]
    # Example 6: RETURN (SUBSCRIBED) marks names but adds none.
    got = listing('A06 LIST "" "%" RETURN (SUBSCRIBED)', boxes, subscribed)
    assert got == [
        "(\\HasNoChildren \\Subscribed) INBOX",
        "(\\Noselect \\HasChildren) Fruit",
        "(\\HasNoChildren) Tofu",
        "(\\Noselect \\HasChildren \\Subscribed) Vegetable",
    ]


def test_example_8_childinfo_versus_haschildren() -> None:
    boxes = records("INBOX", "Foo", "Foo/Bar", "Foo/Baz", "Moo")
    assert listing('C02 LIST (SUBSCRIBED) "" "*"', boxes, ["Foo/Baz"]) == [
        "(\\HasNoChildren \\Subscribed) Foo/Baz"]
    assert listing('C03 LIST (SUBSCRIBED) "" "%"', boxes, ["Foo/Baz"]) == []
    assert listing('C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"', boxes, ["Foo/Baz"]) == [
        "(\\HasChildren) Foo CHILDINFO ['SUBSCRIBED']"]
    assert listing('C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"', boxes, ["Foo", "Foo/Baz"]) == [
        "(\\HasChildren \\Subscribed) Foo CHILDINFO ['SUBSCRIBED']"]
    assert listing('C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"', boxes, []) == []
    got = listing('C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)', boxes,
                  ["Foo", "Moo"])
    assert got == ["(\\HasChildren \\Subscribed) Foo", "(\\HasNoChildren \\Subscribed) Moo"]


def test_example_10_multiple_patterns_and_childinfo_without_children() -> None:
    boxes = records("INBOX", "foo")
    assert listing('a1 LIST "" ("foo" "foo/*")', boxes, ["foo/bar"]) == [
        "(\\HasNoChildren) foo"]
    assert listing('a2 LIST (SUBSCRIBED) "" "foo/*"', boxes, ["foo/bar"]) == [
        "(\\NonExistent \\HasNoChildren \\Subscribed) foo/bar"]
    got = listing('a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)', boxes,
                  ["foo/bar"])
    assert got == ["(\\HasNoChildren) foo CHILDINFO ['SUBSCRIBED']"]


def test_empty_pattern_is_ignored_in_the_extended_form() -> None:
    boxes = records("INBOX", "Work")
    assert listing('a LIST "" ("" Work)', boxes, []) == ["(\\HasNoChildren) Work"]
    assert listing('a LIST () "" ""', boxes, []) == []
    # A name matched by two patterns is listed once (section 3).
    assert listing('a LIST "" (W* *k %)', boxes, []) == [
        "(\\HasNoChildren) INBOX", "(\\HasNoChildren) Work"]


def test_special_use_selection() -> None:
    """RFC 6154 section 5.2: only mailboxes with a special use; with RECURSIVEMATCH their
    parents get CHILDINFO ("SPECIAL-USE")."""
    boxes = records("INBOX", "SentMail", "Projects/Drafts", "ToDo",
                    uses={"SentMail": "\\Sent", "Projects/Drafts": "\\Drafts \\Sent"})
    assert listing('t3 LIST (SPECIAL-USE) "" "*"', boxes, []) == [
        "(\\HasNoChildren \\Drafts \\Sent) Projects/Drafts",
        "(\\HasNoChildren \\Sent) SentMail",
    ]
    assert listing('t4 LIST (SPECIAL-USE RECURSIVEMATCH) "" "%"', boxes, []) == [
        "(\\Noselect \\HasChildren) Projects CHILDINFO ['SPECIAL-USE']",
        "(\\HasNoChildren \\Sent) SentMail",
    ]
    assert listing('t5 LIST (SPECIAL-USE SUBSCRIBED) "" "*"', boxes, ["SentMail", "ToDo"]) == [
        "(\\HasNoChildren \\Sent \\Subscribed) SentMail"]


@pytest.mark.parametrize("line", [
    'a LIST (RECURSIVEMATCH) "" %',
    'a LIST (REMOTE RECURSIVEMATCH) "" %',
    'a LIST (FOO) "" %',
    'a LIST "" % RETURN (FOO)',
    'a LIST "" % RETURN (STATUS)',
    'a LIST "" % RETURN (STATUS ())',
    'a LIST "" % RETURN (STATUS (BOGUS))',
    'a LIST "" % RETURNS ()',
    'a LIST "" % RETURN',
    'a LIST "" () ',
    'a LIST "" (a',
    'a LIST (SUBSCRIBED "" %',
    'a CREATE x (USE)',
    'a CREATE x (USE (Sent))',
    'a CREATE x (USE (\\Sent) USE (\\Sent))',
    'a CREATE x (FOO (\\Sent))',
    'a CREATE x ()',
])
def test_bad_syntax(line: str) -> None:
    assert not isinstance(parse_command([line.encode()], []), c.List | c.Create)


# --- end to end ---------------------------------------------------------------------------


async def test_new_account_has_marked_special_mailboxes(harness: Harness) -> None:
    cl = await harness.connect(("demo", "demo"))
    out = await cl.command('a LIST "" *')
    for name, use in [("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                      ("Junk", "\\Junk"), ("Archive", "\\Archive")]:
        assert f'* LIST (\\HasNoChildren {use}) "/" {name}\r\n'.encode() in out, out
    assert b'* LIST (\\HasNoChildren) "/" INBOX\r\n' in out
    assert b"a OK LIST completed" in out


async def test_create_special_use(harness: Harness) -> None:
    """RFC 6154 section 5.3, and the use going away with a DELETE that keeps the name."""
    cl = await harness.connect(("demo", "demo"))
    assert b"t2 OK" in await cl.command("t2 CREATE MySpecial (USE (\\Drafts \\Sent))")
    out = await cl.command("t3 CREATE Everything (USE (\\All))")
    assert out == b"t3 NO [USEATTR] \\All is not a special use this server supports\r\n"
    out = await cl.command("t4 CREATE Other (USE (\\Sent \\Bogus))")
    assert out.startswith(b"t4 NO [USEATTR] \\Bogus"), out
    out = await cl.command('t5 LIST (SPECIAL-USE) "" "*"')
    assert b'* LIST (\\HasNoChildren \\Drafts \\Sent) "/" MySpecial\r\n' in out
    assert b"Everything" not in out and b"Other" not in out
    assert b"t6 OK" in await cl.command("t6 CREATE Plain (USE ())")
    assert b"t7 OK" in await cl.command("t7 CREATE Box/Inner (USE (\\archive))")
    assert b"t8 OK" in await cl.command("t8 DELETE Box")
    out = await cl.command('t9 LIST "" "*" RETURN (SPECIAL-USE)')
    assert b'* LIST (\\HasNoChildren) "/" Plain\r\n' in out
    assert b'* LIST (\\HasNoChildren \\Archive) "/" Box/Inner\r\n' in out
    assert b'* LIST (\\Noselect \\HasChildren) "/" Box\r\n' in out
    out = await cl.command("t10 CREATE MySpecial (USE (\\Junk))")
    assert out.startswith(b"t10 NO [ALREADYEXISTS]"), out
    # A renamed mailbox keeps its use.
    assert b"t11 OK" in await cl.command("t11 RENAME Sent Outbox")
    out = await cl.command('t12 LIST "" Outbox')
    assert b'* LIST (\\HasNoChildren \\Sent) "/" Outbox\r\n' in out


async def test_list_status(harness: Harness) -> None:
    """RFC 5819 section 3: STATUS after each selectable listed mailbox, none for a
    \\Noselect one or one only reported for CHILDINFO."""
    cl = await harness.connect(("demo", "demo"))
    await append(cl, "INBOX")
    await append(cl, "INBOX", flags="\\Seen")
    assert b"OK" in await cl.command("a CREATE foo/bar")
    assert b"OK" in await cl.command("b DELETE foo")
    out = await cl.command('A01 LIST "" (INBOX foo) RETURN (STATUS (MESSAGES UNSEEN))')
    assert out == (b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
                   b"* STATUS INBOX (MESSAGES 2 UNSEEN 1)\r\n"
                   b'* LIST (\\Noselect \\HasChildren) "/" foo\r\n'
                   b"A01 OK LIST completed\r\n")
    assert b"OK" in await cl.command("c SUBSCRIBE INBOX")
    assert b"OK" in await cl.command("d SUBSCRIBE foo/bar")
    out = await cl.command('A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))')
    assert out == (b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n'
                   b"* STATUS INBOX (MESSAGES 2)\r\n"
                   b'* LIST (\\Noselect \\HasChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))\r\n'
                   b"A02 OK LIST completed\r\n")
    out = await cl.command('e LIST "" INBOX RETURN (STATUS (HIGHESTMODSEQ SIZE UIDNEXT))')
    assert re.search(rb"^\* STATUS INBOX \(HIGHESTMODSEQ \d+ SIZE \d+ UIDNEXT 3\)\r$", out, re.M)
    out = await cl.command('f LIST "" INBOX RETURN (STATUS (BOGUS))')
    assert out.startswith(b"f BAD"), out


async def test_list_extended_errors_keep_the_connection(harness: Harness) -> None:
    cl = await harness.connect(("demo", "demo"))
    out = await cl.command('a LIST (RECURSIVEMATCH) "" %')
    assert out.startswith(b"a BAD"), out
    out = await cl.command('b LIST (SUBSCRIBED) "" % RETURN (BOGUS)')
    assert out.startswith(b"b BAD"), out
    out = await cl.command('c LIST (remote) "" INBOX RETURN (children)')
    assert out == b'* LIST (\\HasNoChildren) "/" INBOX\r\nc OK LIST completed\r\n'


async def append(cl: Client, mailbox: str, flags: str = "") -> None:
    data = b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    cl.send(f"AP APPEND {mailbox} ({flags}) {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    assert b"AP OK" in await cl.read_until(rb"^AP .*\r\n")
