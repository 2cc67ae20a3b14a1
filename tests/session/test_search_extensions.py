"""ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032), SORT and THREAD
(RFC 5256) through a real Session, on every backend."""

from __future__ import annotations

import re

from harness import Client, Harness


async def append(c: Client, text: str, flags: str = "", date: str = "") -> None:
    data = text.replace("\n", "\r\n").encode()
    when = f' "{date}"' if date else ""
    c.send(f"AP APPEND INBOX ({flags}){when} {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    out = await c.read_until(rb"^AP .*\r\n")
    assert b"AP OK" in out, out


def msg(n: int, subject: str = "s", extra: str = "") -> str:
    return f"Message-ID: <{n}@t>\nSubject: {subject}\n{extra}\nbody {n}\n"


async def setup(harness: Harness, count: int = 6) -> Client:
    c = await harness.connect(("demo", "demo"))
    for n in range(1, count + 1):
        await append(c, msg(n), "\\Flagged" if n % 2 else "")
    assert b"s OK" in await c.command("s SELECT INBOX")
    return c


def lines(out: bytes) -> list[str]:
    return out.decode().splitlines()


async def test_esearch_options(harness: Harness) -> None:
    c = await setup(harness)
    assert lines(await c.command("a SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED")) == [
        '* ESEARCH (TAG "a") MIN 1 MAX 5 ALL 1,3,5 COUNT 3', "a OK SEARCH completed"]
    assert lines(await c.command("b UID SEARCH RETURN () 2:4")) == [
        '* ESEARCH (TAG "b") UID ALL 2:4', "b OK UID SEARCH completed"]
    # No match: only COUNT, but the response is still sent (section 3.1).
    assert lines(await c.command("c SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD nope")) == [
        '* ESEARCH (TAG "c") COUNT 0', "c OK SEARCH completed"]
    assert lines(await c.command("d SEARCH RETURN (MIN) KEYWORD nope")) == [
        '* ESEARCH (TAG "d")', "d OK SEARCH completed"]


async def test_esearch_numbers_follow_expunges(harness: Harness) -> None:
    c = await setup(harness)
    await c.command("a STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    await c.command("b EXPUNGE")
    # Messages 3..6 are now 1..4; the ALL set uses sequence numbers, UID forms UIDs.
    assert b'* ESEARCH (TAG "c") ALL 1,3' in await c.command("c SEARCH RETURN (ALL) FLAGGED")
    out = await c.command("d UID SEARCH RETURN (ALL) FLAGGED")
    assert b'* ESEARCH (TAG "d") UID ALL 3,5' in out


async def test_esearch_modseq(harness: Harness) -> None:
    """RFC 4731 section 3.2: MODSEQ of the MIN/MAX messages, or of all found."""
    c = await setup(harness)
    await c.command("a STORE 5 +FLAGS.SILENT (x)")  # message 5 gets the highest MODSEQ (7)
    out = await c.command("b SEARCH RETURN (MIN) MODSEQ 1")
    assert '* ESEARCH (TAG "b") MIN 1 MODSEQ 2' in out.decode()
    out = await c.command("c SEARCH RETURN (MIN MAX) MODSEQ 1")
    assert '* ESEARCH (TAG "c") MIN 1 MAX 6 MODSEQ 7' in out.decode()
    out = await c.command("d SEARCH RETURN (COUNT) MODSEQ 1 KEYWORD nope")
    assert '* ESEARCH (TAG "d") COUNT 0\r\n' in out.decode()


async def test_saved_result_rules(harness: Harness) -> None:
    c = await setup(harness)
    # $ starts empty: a valid, non-matching set (RFC 5182 section 2.1).
    assert lines(await c.command("a FETCH $ UID")) == ["a OK FETCH completed"]
    assert lines(await c.command("b SEARCH RETURN (SAVE) FLAGGED")) == ["b OK SEARCH completed"]
    assert b"* SEARCH 1 3 5\r\n" in await c.command("c SEARCH $")
    assert b"* SEARCH 3 5\r\n" in await c.command("d UID SEARCH UID $ NOT 1")
    # A SEARCH without SAVE, a BAD one, and a NO one without SAVE leave $ alone.
    await c.command("e SEARCH RETURN (ALL) ALL")
    assert b"f BAD" in await c.command("f SEARCH RETURN (SAVE) NOSUCHKEY")
    assert b"g NO [BADCHARSET" in await c.command("g SEARCH CHARSET KOI8-R ALL")
    assert b"* SEARCH 1 3 5\r\n" in await c.command("h SEARCH $")
    # A NO with SAVE empties it (Example 5).
    assert b"i NO [BADCHARSET" in await c.command("i SEARCH RETURN (SAVE) CHARSET KOI8-R ALL")
    assert b"* SEARCH\r\n" in await c.command("j SEARCH $")


async def test_saved_result_min_max_table(harness: Harness) -> None:
    """RFC 5182 section 2.4, Example 10."""
    c = await setup(harness)
    cases = [
        ("SAVE MIN", '* ESEARCH (TAG "a") MIN 1', "1"),
        ("SAVE MAX", '* ESEARCH (TAG "a") MAX 5', "5"),
        ("MAX SAVE MIN", '* ESEARCH (TAG "a") MIN 1 MAX 5', "1 5"),
        ("MAX SAVE MIN COUNT", '* ESEARCH (TAG "a") MIN 1 MAX 5 COUNT 3', "1 3 5"),
        ("ALL SAVE MIN", '* ESEARCH (TAG "a") MIN 1 ALL 1,3,5', "1 3 5"),
    ]
    for options, response, saved in cases:
        await c.command("z SEARCH RETURN (SAVE) UNFLAGGED")
        assert lines(await c.command(f"a SEARCH RETURN ({options}) FLAGGED"))[0] == response
        assert f"* SEARCH {saved}\r\n".encode() in await c.command("b SEARCH $"), options


async def test_saved_result_in_commands_and_expunge(harness: Harness) -> None:
    c = await setup(harness)
    assert b"a OK" in await c.command("a CREATE Other")
    await c.command("b UID SEARCH RETURN (SAVE) 2:4")
    out = await c.command("c COPY $ Other")
    assert re.search(rb"c OK \[COPYUID \d+ 2:4 1:3\]", out), out
    await c.command("d STORE $ +FLAGS.SILENT (\\Deleted)")
    assert b"* SEARCH 2 3 4\r\n" in await c.command("e SEARCH DELETED")
    await c.command("f UID EXPUNGE $")
    # Expunged messages leave $ (section 2.1): it is empty now, not a dangling set.
    assert lines(await c.command("g FETCH $ UID")) == ["g OK FETCH completed"]
    await c.command("h SEARCH RETURN (SAVE) ALL")
    assert b"* 1 FETCH (UID 1)" in await c.command("i FETCH $ UID")
    out = await c.command("j MOVE $ Other")
    assert b"* OK [COPYUID" in out and b"j OK" in out
    assert b"* SEARCH\r\n" in await c.command("k SEARCH $")


async def test_saved_result_reset_by_select(harness: Harness) -> None:
    c = await setup(harness)
    await c.command("a SEARCH RETURN (SAVE) ALL")
    await c.command("b EXAMINE INBOX")
    assert lines(await c.command("c UID FETCH $ UID")) == ["c OK UID FETCH completed"]


async def test_within(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await append(c, msg(1), date="01-Jan-2001 00:00:00 +0000")
    await append(c, msg(2))  # now
    await c.command("s SELECT INBOX")
    assert b"* SEARCH 2\r\n" in await c.command("a SEARCH YOUNGER 3600")
    assert b"* SEARCH 1\r\n" in await c.command("b SEARCH OLDER 3600")
    assert b"* SEARCH 1 2\r\n" in await c.command("c SEARCH OR OLDER 3600 YOUNGER 3600")
    assert b"* SEARCH\r\n" in await c.command("d SEARCH YOUNGER 3600 NOT YOUNGER 3600")
    assert b"* SORT 2\r\n" in await c.command("e SORT (DATE) UTF-8 YOUNGER 3600")


async def test_sort_and_thread(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    mails = [
        msg(1, "Re: beta", "From: zoe@x\nDate: Tue, 2 Jan 2024 00:00:00 +0000\n"
            "References: <2@t>"),
        msg(2, "beta", "From: Adam <adam@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000"),
        msg(3, "=?utf-8?q?=C3=A4lpha?=", "From: Eve <eve@x>\nDate: Mon, 1 Jan 2024 00:30:00 +0100"),
        msg(4, "Alpha", "From: bob@x\nDate: Wed, 3 Jan 2024 00:00:00 +0000\nIn-Reply-To: <9@t>"),
    ]
    for text in mails:
        await append(c, text)
    await c.command("s SELECT INBOX")
    # "Alpha" < "älpha" (A, then U+0308 after decomposition) < "Re: beta" = "beta".
    assert b"* SORT 4 3 1 2\r\n" in await c.command("a SORT (SUBJECT) UTF-8 ALL")
    assert b"* SORT 3 2 1 4\r\n" in await c.command("b SORT (DATE) UTF-8 ALL")
    # zoe, eve, bob, adam: the addr-mailbox, not the display name.
    assert b"* SORT 1 3 4 2\r\n" in await c.command("c UID SORT (REVERSE FROM) US-ASCII ALL")
    assert b"* SORT\r\n" in await c.command("d SORT (FROM) UTF-8 $")  # nothing saved yet
    await c.command("d SEARCH RETURN (SAVE) 1:2")
    assert b"* SORT 2 1\r\n" in await c.command("d SORT (FROM) UTF-8 $")
    assert b"* SORT\r\n" in await c.command("e SORT (SIZE) UTF-8 KEYWORD nope")
    # Message 3 was sent at 23:30 UTC the day before, so before message 2.
    assert b"* THREAD (3)(2 1)(4)\r\n" in await c.command("f THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert b"* THREAD (3)(2 1)(4)\r\n" in await c.command("g THREAD REFERENCES UTF-8 ALL")
    assert b"* THREAD\r\n" in await c.command("h UID THREAD REFERENCES UTF-8 KEYWORD nope")
    out = await c.command("i SORT (SUBJECT) KOI8-R ALL")
    assert b"i NO [BADCHARSET (UTF-8 US-ASCII)]" in out
    assert b"j BAD" in await c.command("j THREAD MAGIC UTF-8 ALL")
