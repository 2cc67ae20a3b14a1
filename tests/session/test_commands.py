"""The session layer on the memory backend, one test per command family."""

from __future__ import annotations

import base64
import re

from harness import Client, Harness

MSG = "From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n\r\nbody {subject}\r\n"


async def append(c: Client, mailbox: str = "INBOX", subject: str = "x", flags: str = "") -> bytes:
    data = MSG.format(subject=subject).encode()
    c.send(f"AP APPEND {mailbox} ({flags}) {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    return await c.read_until(rb"^AP .*\r\n")


async def test_capability_and_noop(harness: Harness) -> None:
    c = await harness.connect()
    out = await c.command("a CAPABILITY")
    assert re.search(rb"^\* CAPABILITY IMAP4rev1 .*AUTH=PLAIN", out, re.M), out
    assert b"b OK" in await c.command("b NOOP")


async def test_login_failure_and_wrong_state(harness: Harness) -> None:
    c = await harness.connect()
    out = await c.command("a LOGIN demo wrong")
    assert b"a NO [AUTHENTICATIONFAILED]" in out
    out = await c.command("b SELECT INBOX")
    assert out.startswith(b"b BAD"), out
    out = await c.command("c FROBNICATE")
    assert out.startswith(b"c BAD"), out
    out = await c.command("d LOGIN demo demo")
    assert b"d OK LOGIN completed" in out
    out = await c.command("e LOGIN demo demo")
    assert out.startswith(b"e BAD"), out


async def test_authenticate_plain(harness: Harness) -> None:
    c = await harness.connect()
    c.send("a AUTHENTICATE PLAIN\r\n")
    await c.read_until(rb"^\+ ?\r\n")
    c.send(base64.b64encode(b"\0demo\0demo") + b"\r\n")
    assert b"a OK" in await c.read_until(rb"^a .*\r\n")
    c2 = await harness.connect()
    ir = base64.b64encode(b"\0demo\0bad").decode()
    assert b"b NO" in await c2.command(f"b AUTHENTICATE PLAIN {ir}")
    c2.send("c AUTHENTICATE PLAIN\r\n")
    await c2.read_until(rb"^\+ ?\r\n")
    c2.send("*\r\n")
    assert b"c BAD" in await c2.read_until(rb"^c .*\r\n")


async def test_select_examine(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await append(c, flags="\\Seen")
    await append(c)
    out = await c.command("a SELECT inbox")
    lines = out.decode().split("\r\n")
    assert lines[0] == "* 2 EXISTS"
    assert lines[1] == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"
    assert lines[2] == "* 2 RECENT"
    assert lines[3] == "* OK [UNSEEN 2] Message 2 is the first unseen message"
    assert re.fullmatch(r"\* OK \[UIDVALIDITY \d+\] UIDs valid", lines[4])
    assert lines[5].startswith("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen")
    assert re.fullmatch(r"\* OK \[UIDNEXT 3\] .*", lines[6])
    assert re.fullmatch(r"\* OK \[MAILBOXID \(F\d+-[0-9a-f]+\)\] Mailbox ID", lines[7])
    assert lines[8] == "a OK [READ-WRITE] SELECT completed"
    c2 = await harness.connect(("demo", "demo"))
    out = await c2.command("b EXAMINE INBOX")
    assert b"* 0 RECENT" in out and b"b OK [READ-ONLY] EXAMINE completed" in out
    assert b"b NO" in await c2.command("b STORE 1 +FLAGS (\\Deleted)")


async def test_mailbox_management(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b"a OK" in await c.command("a CREATE work/projects/")
    assert b"b NO [ALREADYEXISTS]" in await c.command("b CREATE work")
    out = await c.command('c LIST "" *')
    assert b'* LIST (\\HasNoChildren) "/" INBOX' in out
    assert b'* LIST (\\HasChildren) "/" work' in out
    assert b'* LIST (\\HasNoChildren) "/" work/projects' in out
    out = await c.command('d LIST "" %')
    assert b"work/projects" not in out and b" work\r\n" in out
    assert b"e OK" in await c.command("e RENAME work play")
    out = await c.command('f LIST "" play/*')
    assert b'"/" play/projects' in out
    assert b"g OK" in await c.command("g DELETE play")
    out = await c.command('h LIST "" *')
    assert b'(\\Noselect \\HasChildren) "/" play' in out
    assert b"i NO" in await c.command("i DELETE INBOX")
    assert b"j NO [NONEXISTENT]" in await c.command("j DELETE nothere")
    out = await c.command('k LIST "" ""')
    assert b'* LIST (\\Noselect) "/" ""' in out


async def test_subscriptions_and_status(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("a CREATE Lists")
    await c.command("b SUBSCRIBE Lists")
    out = await c.command('c LSUB "" *')
    assert b'* LSUB () "/" Lists' in out
    await c.command("d UNSUBSCRIBE Lists")
    assert b"* LSUB" not in await c.command('e LSUB "" *')
    await append(c, "Lists", flags="\\Seen")
    await append(c, "Lists")
    out = await c.command("f STATUS Lists (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
    assert re.search(
        rb"\* STATUS Lists \(MESSAGES 2 RECENT 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 1\)", out
    ), out
    assert b"g BAD" in await c.command("g STATUS Lists (BOGUS)")


async def test_append_to_missing_mailbox_is_trycreate(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    c.send("a APPEND Nope {10}\r\n")
    out = await c.read_until(rb"^(a .*|\+ .*)\r\n")
    assert out.startswith(b"a NO [TRYCREATE]"), out
    assert b"b OK" in await c.command("b NOOP")


async def test_store_copy_expunge(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    for i in range(4):
        await append(c, subject=str(i))
    await c.command("a SELECT INBOX")
    out = await c.command("b STORE 2:3 +FLAGS (\\Deleted $Work)")
    assert b"* 2 FETCH (FLAGS (\\Deleted $Work \\Recent))" in out, out
    assert b"b OK +FLAGS completed" in out
    out = await c.command("c STORE 1 FLAGS.SILENT (\\Seen)")
    assert b"FETCH" not in out
    out = await c.command("d UID STORE 4 -FLAGS (\\Seen)")
    assert b"* 4 FETCH (FLAGS (\\Recent) UID 4)" in out, out
    assert b"e NO [TRYCREATE]" in await c.command("e COPY 1:2 Saved")
    await c.command("f CREATE Saved")
    out = await c.command("g COPY 1:2 Saved")
    assert re.search(rb"g OK \[COPYUID \d+ 1:2 1:2\] COPY completed", out), out
    out = await c.command("h EXPUNGE")
    assert out.startswith(b"* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nh OK"), out
    out = await c.command("i FETCH 1:* UID")
    assert b"* 1 FETCH (UID 1)" in out and b"* 2 FETCH (UID 4)" in out
    assert b"j BAD" in await c.command("j FETCH 3 UID")
    await c.command("k STORE 1 +FLAGS (\\Deleted)")
    assert b"l OK CLOSE" in await c.command("l CLOSE")
    out = await c.command("m STATUS INBOX (MESSAGES)")
    assert b"(MESSAGES 1)" in out


async def test_search(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    for i in range(5):
        await append(c, subject=f"s{i}", flags="\\Seen" if i % 2 else "")
    await c.command("a SELECT INBOX")
    assert b"* SEARCH 2 4\r\n" in await c.command("b SEARCH SEEN")
    assert b"* SEARCH 1 3 5\r\n" in await c.command("c SEARCH NOT SEEN")
    assert b"* SEARCH 1 2 5\r\n" in await c.command("d SEARCH OR 1:2 5")
    assert b"* SEARCH 4 5\r\n" in await c.command("e UID SEARCH UID 4:*")
    assert b"* SEARCH 1 2 3 4 5\r\n" in await c.command("f SEARCH LARGER 10 RECENT")
    assert b"* SEARCH\r\n" in await c.command("g SEARCH SMALLER 10")
    assert b"NO [BADCHARSET" in await c.command("h SEARCH CHARSET KOI8-R ALL")
    assert b"i BAD" in await c.command("i SEARCH FROB")


async def test_updates_between_sessions_and_idle(harness: Harness) -> None:
    a = await harness.connect(("demo", "demo"))
    b = await harness.connect(("demo", "demo"))
    await append(a)
    await a.command("a SELECT INBOX")
    await b.command("b SELECT INBOX")
    a.send("i IDLE\r\n")
    await a.read_until(rb"^\+ .*\r\n")
    await append(b, subject="new")
    assert b"* 2 EXISTS" in await a.read_until(rb"^\* 2 EXISTS\r\n")
    await b.command("c STORE 1 +FLAGS (\\Flagged)")
    assert b"FLAGS (\\Flagged" in await a.read_until(rb"^\* 1 FETCH .*\r\n")
    await b.command("d STORE 1 +FLAGS (\\Deleted)")
    await b.command("e EXPUNGE")
    await a.read_until(rb"^\* 1 EXPUNGE\r\n")
    a.send("DONE\r\n")
    assert b"i OK" in await a.read_until(rb"^i .*\r\n")


async def test_no_expunge_during_fetch(harness: Harness) -> None:
    a = await harness.connect(("demo", "demo"))
    b = await harness.connect(("demo", "demo"))
    for i in range(3):
        await append(a, subject=str(i))
    await a.command("a SELECT INBOX")
    await b.command("b SELECT INBOX")
    await b.command("c STORE 2 +FLAGS (\\Deleted)")
    await b.command("d EXPUNGE")
    out = await a.command("e FETCH 1:3 UID")
    assert b" EXPUNGE\r\n" not in out
    assert b"* 3 FETCH (UID 3)" in out
    assert b"e NO [EXPUNGEISSUED]" in out
    out = await a.command("f NOOP")
    assert b"* 2 EXPUNGE" in out
    out = await a.command("g FETCH 1:* UID")
    assert b"* 2 FETCH (UID 3)" in out


async def test_bad_input_keeps_connection(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b"a BAD" in await c.command("a FETCH")
    assert b"b BAD" in await c.command("b SELECT (INBOX")
    assert b"c OK" in await c.command("c NOOP")


async def test_repeated_unknown_commands_before_login_end_connection(harness: Harness) -> None:
    c = await harness.connect()
    for i in range(4):
        assert b"BAD" in await c.command(f"x{i} HELO")
    c.send("x9 HELO\r\n")
    out = await c.read_until(rb"^\* BYE .*\r\n")
    assert b"x9 BAD" in out
