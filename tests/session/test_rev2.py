"""IMAP4rev2 (RFC 9051) after ENABLE IMAP4rev2, on every backend, next to the same
commands in a rev1 session: no \\Recent, RECENT or UNSEEN code; SELECT's untagged LIST;
SEARCH answered with ESEARCH; RECENT/NEW/OLD, STATUS RECENT, RFC822* and LSUB refused;
UTF-8 mailbox names; UID in every unsolicited FETCH."""

from __future__ import annotations

import re

from harness import Harness
from session.test_search_extensions import append, msg


async def _rev2(harness: Harness):  # type: ignore[no-untyped-def]
    c = await harness.connect(("demo", "demo"))
    out = await c.command("e ENABLE IMAP4rev2")
    assert out == b"* ENABLED IMAP4rev2\r\ne OK ENABLE completed\r\n", out
    return c


async def test_select_without_recent_and_with_list(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b"* CAPABILITY IMAP4rev1 IMAP4rev2 " in await c.command("a CAPABILITY")
    await append(c, msg(1))
    await append(c, msg(2))
    v2 = await _rev2(harness)
    out = (await v2.command("s SELECT inbox")).decode()
    assert "RECENT" not in out and "UNSEEN" not in out, out
    assert '* LIST () "/" INBOX\r\n' in out, out
    assert out.index("* 2 EXISTS") < out.index("* LIST") < out.index("* FLAGS"), out
    out = (await v2.command("f FETCH 1:* FLAGS")).decode()
    assert "\\Recent" not in out, out
    rev1 = (await c.command("s SELECT INBOX")).decode()
    assert "* 0 RECENT" in rev1 and "* LIST" not in rev1, rev1


async def test_search_is_esearch_and_recent_keys_refused(harness: Harness) -> None:
    c = await _rev2(harness)
    for n in (1, 2, 3):
        await append(c, msg(n, "hello" if n != 2 else "other"))
    await c.command("s SELECT INBOX")
    out = await c.command("a SEARCH SUBJECT hello")
    assert out == b'* ESEARCH (TAG "a") ALL 1,3\r\na OK SEARCH completed\r\n', out
    out = await c.command("b UID SEARCH SUBJECT nothing")
    assert out == b'* ESEARCH (TAG "b") UID\r\nb OK UID SEARCH completed\r\n', out
    for key in ("RECENT", "NEW", "OLD", "NOT RECENT", "OR SEEN NEW"):
        out = await c.command(f"k SEARCH {key}")
        assert out.startswith(b"k BAD RECENT, NEW and OLD"), (key, out)
    assert (await c.command("t SORT (SUBJECT) UTF-8 NEW")).startswith(b"t BAD")
    out = await c.command("r STATUS INBOX (MESSAGES RECENT)")
    assert out.startswith(b"r BAD Unknown STATUS item RECENT"), out
    out = await c.command("d STATUS INBOX (MESSAGES DELETED SIZE)")
    assert re.match(rb"\* STATUS INBOX \(MESSAGES 3 DELETED 0 SIZE \d+\)\r\n", out), out


async def test_rfc822_items_and_lsub_refused(harness: Harness) -> None:
    c = await _rev2(harness)
    await append(c, msg(1))
    await c.command("s SELECT INBOX")
    for item in ("RFC822", "RFC822.HEADER", "RFC822.TEXT", "(FLAGS RFC822)"):
        out = await c.command(f"f FETCH 1 {item}")
        assert out.startswith(b"f BAD RFC822, RFC822.HEADER"), (item, out)
    assert re.search(rb"RFC822.SIZE \d+", await c.command("g FETCH 1 RFC822.SIZE"))
    out = await c.command("l LSUB \"\" *")
    assert out.startswith(b"l BAD LSUB is not part of IMAP4rev2"), out
    assert b"l2 OK" in await c.command('l2 LIST (SUBSCRIBED) "" *')


async def test_utf8_mailbox_names(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("c CREATE &AMk-t&AOk-")  # "Été" in modified UTF-7, from rev1
    v2 = await _rev2(harness)
    out = await v2.command('l LIST "" *')
    assert '* LIST (\\HasNoChildren) "/" "Été"\r\n'.encode() in out, out
    out = await v2.command('s STATUS "Été" (MESSAGES)')  # UTF-8 reaches the same one
    assert '* STATUS "Été" (MESSAGES 0)'.encode() in out, out
    out = await v2.command("s2 STATUS &AMk-t&AOk- (MESSAGES)")  # so does modified UTF-7
    assert b"s2 OK" in out, out
    assert b"&AMk-t&AOk-" in await c.command('l LIST "" *')  # rev1 keeps UTF-7


async def test_unsolicited_fetch_has_uid(harness: Harness) -> None:
    v2 = await _rev2(harness)
    other = await harness.connect(("demo", "demo"))
    await append(other, msg(1))
    await v2.command("s SELECT INBOX")
    await other.command("s SELECT INBOX")
    await other.command("t STORE 1 +FLAGS (\\Flagged)")
    out = await v2.command("n NOOP")
    assert b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n" in out, out
    await append(other, msg(2))
    out = await v2.command("n2 NOOP")
    assert out == b"* 2 EXISTS\r\nn2 OK NOOP completed\r\n", out


async def test_enable_while_selected_switches_the_view(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await append(c, msg(1))
    await c.command("s SELECT INBOX")
    assert b"\\Recent" in await c.command("f FETCH 1 FLAGS")
    await c.command("e ENABLE IMAP4rev2")
    assert b"\\Recent" not in await c.command("f FETCH 1 FLAGS")
