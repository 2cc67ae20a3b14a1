"""MULTISEARCH (RFC 7377) through a real Session, on every backend: ESEARCH IN (...) over
the source filters, in the authenticated and the selected state, one ESEARCH response
per mailbox with matches, and the section 2 errors."""

from __future__ import annotations

import re

from harness import Client, Harness
from session.test_search_extensions import lines

_MAILBOXES = ("folder1", "folder2", "folder2/salmon", "folder2/salmon/roe", "other")


async def put(c: Client, mailbox: str, sender: str, flags: str = "") -> None:
    data = f"From: {sender}\r\nSubject: s\r\n\r\nbody\r\n".encode()
    c.send(f"AP APPEND {mailbox} ({flags}) {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    out = await c.read_until(rb"^AP .*\r\n")
    assert b"AP OK" in out, out


async def _setup(harness: Harness) -> tuple[Client, dict[str, int]]:
    """Smith wrote messages 1 and 3 of INBOX, folder1 and every folder2 level; Jones
    the rest; ``other`` has Jones only."""
    c = await harness.connect(("demo", "demo"))
    validity: dict[str, int] = {}
    for name in ("INBOX", *_MAILBOXES):
        if name != "INBOX":
            assert b"c OK" in await c.command(f"c CREATE {name}")
        for n in (1, 2, 3):
            await put(c, name, "Smith" if n != 2 and name != "other" else "Jones")
        out = await c.command(f"s STATUS {name} (UIDVALIDITY)")
        validity[name] = int(re.search(rb"UIDVALIDITY (\d+)", out)[1])  # type: ignore[index]
    return c, validity


def _line(tag: str, name: str, validity: dict[str, int], data: str) -> str:
    return f'* ESEARCH (TAG "{tag}" MAILBOX {name} UIDVALIDITY {validity[name]}) UID {data}'


async def test_mailboxes_and_subtree_one(harness: Harness) -> None:
    """The first example of section 2.1, in the authenticated state."""
    c, v = await _setup(harness)
    out = await c.command('t1 ESEARCH IN (mailboxes "folder1" subtree-one "folder2") '
                          'FROM "Smith"')
    assert lines(out) == [_line("t1", "folder1", v, "ALL 1,3"),
                          _line("t1", "folder2", v, "ALL 1,3"),
                          _line("t1", "folder2/salmon", v, "ALL 1,3"),
                          "t1 OK ESEARCH completed"], out


async def test_return_options_and_subtree(harness: Harness) -> None:
    c, v = await _setup(harness)
    out = await c.command('t2 ESEARCH IN (subtree folder2) RETURN (MIN MAX COUNT) FROM Smith')
    assert lines(out) == [_line("t2", name, v, "MIN 1 MAX 3 COUNT 2") for name in
                          ("folder2", "folder2/salmon", "folder2/salmon/roe")
                          ] + ["t2 OK ESEARCH completed"], out


async def test_personal_skips_mailboxes_without_matches(harness: Harness) -> None:
    c, v = await _setup(harness)
    out = await c.command("t3 ESEARCH IN (personal) FROM Smith")
    names = [m.decode() for m in re.findall(rb"MAILBOX (\S+) ", out)]
    assert sorted(names) == sorted(n for n in ("INBOX", *_MAILBOXES) if n != "other"), out
    assert lines(await c.command("t4 ESEARCH IN (inboxes) FROM Nobody")) == [
        "t4 OK ESEARCH completed"]


async def test_subscribed_and_duplicates(harness: Harness) -> None:
    c, v = await _setup(harness)
    await c.command("u SUBSCRIBE folder1")
    await c.command("u2 SUBSCRIBE other")
    out = await c.command("t5 ESEARCH IN (subscribed mailboxes folder1) RETURN (COUNT) ALL")
    assert lines(out) == [_line("t5", "folder1", v, "COUNT 3"), _line("t5", "other", v, "COUNT 3"),
                          "t5 OK ESEARCH completed"], out


async def test_selected_state(harness: Harness) -> None:
    c, v = await _setup(harness)
    assert b"s OK" in await c.command("s SELECT folder1")
    out = await c.command("t6 ESEARCH FROM Smith")  # no IN: the selected mailbox
    assert lines(out) == [_line("t6", "folder1", v, "ALL 1,3"), "t6 OK ESEARCH completed"]
    out = await c.command("t7 ESEARCH IN (selected mailboxes other) 2")  # numbers per mailbox
    assert lines(out) == [_line("t7", "folder1", v, "ALL 2"), _line("t7", "other", v, "ALL 2"),
                          "t7 OK ESEARCH completed"], out
    out = await c.command("t8 ESEARCH IN (selected) RETURN (SAVE) FROM Jones")
    assert lines(out) == ["t8 OK ESEARCH completed"], out
    assert b"* 2 FETCH (UID 2)" in await c.command("f UID FETCH $ (UID)")
    out = await c.command("t9 ESEARCH RETURN (SAVE COUNT) FROM Smith")
    assert lines(out) == [_line("t9", "folder1", v, "COUNT 2"), "t9 OK ESEARCH completed"]


async def test_other_mailboxes_stay_unclaimed(harness: Harness) -> None:
    """A mailbox searched is opened read-only: its \\Recent messages stay for a SELECT."""
    c, _ = await _setup(harness)
    await c.command("t ESEARCH IN (mailboxes other) ALL")
    assert b"* 3 RECENT" in await c.command("s SELECT other")


async def test_modseq(harness: Harness) -> None:
    c, v = await _setup(harness)
    out = await c.command("t ESEARCH IN (mailboxes (folder1 other)) MODSEQ 1")
    assert re.fullmatch(rb'\* ESEARCH \(TAG "t" MAILBOX folder1 UIDVALIDITY \d+\) UID ALL 1:3'
                        rb' MODSEQ \d+\r\n\* ESEARCH .* MODSEQ \d+\r\nt OK .*\r\n', out), out


async def test_errors(harness: Harness) -> None:
    c, _ = await _setup(harness)
    for line in ("a ESEARCH ALL", "b ESEARCH IN (selected) ALL",  # nothing selected
                 "c ESEARCH IN (selected-delayed) ALL", "d ESEARCH IN (personal (depth 1)) ALL",
                 "e ESEARCH IN (everything) ALL", "f ESEARCH IN (personal) RETURN (SAVE) ALL",
                 "g ESEARCH IN (personal) RETURN (UPDATE) ALL", "h UID ESEARCH ALL",
                 "i ESEARCH IN (mailboxes) ALL", "j ESEARCH IN (personal) RETURN (FOO) ALL"):
        out = await c.command(line)
        assert out.startswith(line.split()[0].encode() + b" BAD "), (line, out)
    await c.command("s SELECT INBOX")
    out = await c.command("k ESEARCH IN (personal) $")
    assert out.startswith(b"k BAD SAVE and $ are for the selected mailbox only"), out
    out = await c.command("l ESEARCH IN (mailboxes (nosuch folder1)) RETURN (COUNT) ALL")
    assert len(lines(out)) == 2 and b"MAILBOX folder1 " in out and b"l OK" in out, out
    out = await c.command("m ESEARCH IN (personal) CHARSET KOI8-R ALL")
    assert out.startswith(b"m NO [BADCHARSET"), out


async def test_uidonly(harness: Harness) -> None:
    c, v = await _setup(harness)
    await c.command("e ENABLE UIDONLY")
    out = await c.command("a ESEARCH IN (mailboxes folder1) 1:2")
    assert out.startswith(b"a BAD [UIDREQUIRED] "), out
    out = await c.command("b ESEARCH IN (mailboxes folder1) UID 2:*")
    assert lines(out) == [_line("b", "folder1", v, "ALL 2:3"), "b OK ESEARCH completed"]


async def test_relevancy_per_mailbox(harness: Harness) -> None:
    """RFC 6203's RELEVANCY with ESEARCH: each mailbox's scores, in its result order."""
    c, v = await _setup(harness)
    await c.command("s SELECT folder1")
    out = await c.command("t ESEARCH IN (selected mailboxes other) RETURN (COUNT RELEVANCY) "
                          "FUZZY FROM Jones")
    assert lines(out) == [_line("t", "folder1", v, "COUNT 1 RELEVANCY (100)"),
                          _line("t", "other", v, "COUNT 3 RELEVANCY (100 100 100)"),
                          "t OK ESEARCH completed"], out
