"""UIDONLY (RFC 9586) through a real Session, on every backend: after ENABLE UIDONLY,
commands that use message numbers get BAD [UIDREQUIRED], FETCH responses are
``* uid UIDFETCH``, expunges are VANISHED and SELECT sends no UNSEEN code; a session
that did not enable it is unchanged beside it."""

from __future__ import annotations

import re

from harness import Client, Harness
from session.test_search_extensions import append, lines, msg

_BAD = re.compile(rb"^(\w+) BAD \[UIDREQUIRED\] ", re.M)


async def _uidonly(harness: Harness, count: int = 4, select: bool = True) -> Client:
    c = await harness.connect(("demo", "demo"))
    for n in range(1, count + 1):
        await append(c, msg(n), "\\Seen" if n % 2 else "")
    claim = await harness.connect(("demo", "demo"))  # takes \Recent, for short FLAGS
    await claim.command("s SELECT INBOX")
    await claim.command("l LOGOUT")
    out = await c.command("e ENABLE UIDONLY")
    assert out == b"* ENABLED UIDONLY\r\ne OK ENABLE completed\r\n", out
    if select:
        assert b"s OK" in await c.command("s SELECT INBOX")
    return c


async def _one_selected(harness: Harness) -> Client:
    """A rev1 session with one message, INBOX selected, before any ENABLE."""
    c = await harness.connect(("demo", "demo"))
    await append(c, msg(1))
    assert b"s OK" in await c.command("s SELECT INBOX")
    return c


async def _refused(c: Client, line: str) -> None:
    out = await c.command(line)
    m = _BAD.search(out)
    assert m is not None and m.group(1) == line.split()[0].encode(), (line, out)


async def test_capability_and_enable(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b" UIDONLY" in await c.command("a CAPABILITY")
    assert b"* ENABLED UIDONLY\r\n" in await c.command("e ENABLE uidonly")
    assert await c.command("f ENABLE UIDONLY") == b"* ENABLED\r\nf OK ENABLE completed\r\n"


async def test_numbered_commands_refused(harness: Harness) -> None:
    c = await _uidonly(harness)
    for line in ("a FETCH 1 FLAGS", "b FETCH 1:* (UID)", "c STORE 1 +FLAGS (\\Flagged)",
                 "d COPY 1 INBOX", "e MOVE 1 INBOX", "f SEARCH ALL", "g SEARCH RETURN () ALL",
                 "h SORT (ARRIVAL) UTF-8 ALL", "i THREAD REFERENCES UTF-8 ALL", "j FETCH $ FLAGS"):
        await _refused(c, line)
    out = await c.command("k UID FETCH 1:* FLAGS")
    assert b"\\Flagged" not in out, out  # the refused STORE changed nothing
    assert b"EXISTS" not in await c.command("n NOOP")  # nor did COPY


async def test_sequence_set_search_keys_refused(harness: Harness) -> None:
    c = await _uidonly(harness)
    for line in ("a UID SEARCH 1:2", "b UID SEARCH NOT 1", "c UID SEARCH OR SEEN 2 DELETED",
                 "d UID SEARCH UNSEEN (FLAGGED *)", "e UID SORT (ARRIVAL) UTF-8 1",
                 "f UID THREAD REFERENCES UTF-8 1:*", "g UID SEARCH RETURN (COUNT) 1"):
        await _refused(c, line)
    assert lines(await c.command("h UID SEARCH UID 2:*")) == [
        "* SEARCH 2 3 4", "h OK UID SEARCH completed"]
    assert lines(await c.command("i UID SEARCH RETURN (SAVE) SEEN")) == [
        "i OK UID SEARCH completed"]
    assert lines(await c.command("j UID SEARCH $")) == ["* SEARCH 1 3", "j OK UID SEARCH completed"]
    assert lines(await c.command("k UID SEARCH RETURN (MIN MAX) ALL")) == [
        '* ESEARCH (TAG "k") UID MIN 1 MAX 4', "k OK UID SEARCH completed"]
    out = await c.command("l UID SORT (ARRIVAL) UTF-8 UID 2:3")
    assert lines(out) == ["* SORT 2 3", "l OK UID SORT completed"], out


async def test_uid_fetch_is_uidfetch(harness: Harness) -> None:
    c = await _uidonly(harness)
    assert lines(await c.command("a UID FETCH 2:3 FLAGS")) == [
        "* 2 UIDFETCH (FLAGS ())", "* 3 UIDFETCH (FLAGS (\\Seen))", "a OK UID FETCH completed"]
    out = await c.command("b UID FETCH 4 (UID RFC822.SIZE)")  # UID only when asked for
    assert re.fullmatch(rb"\* 4 UIDFETCH \(UID 4 RFC822.SIZE \d+\)\r\nb OK .*\r\n", out), out
    out = await c.command("c UID FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]")
    assert out.startswith(b"* 2 UIDFETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\r\n"), out
    assert b"\r\n FLAGS (\\Seen))\r\nc OK" in out, out  # \Seen set: FLAGS, but no UID
    out = await c.command("d UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")  # the flag resync's path
    assert re.search(rb"^\* 1 UIDFETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)\r\n", out, re.M), out
    assert b" FETCH (" not in out and b"UID 1" not in out, out


async def test_uid_store_reports_uidfetch(harness: Harness) -> None:
    c = await _uidonly(harness)
    out = await c.command("a UID STORE 2 +FLAGS (\\Flagged)")
    assert lines(out) == ["* 2 UIDFETCH (FLAGS (\\Flagged))", "a OK UID +FLAGS completed"], out
    await c.command("e ENABLE CONDSTORE")
    out = await c.command("b UID STORE 2 -FLAGS.SILENT (\\Flagged)")
    assert re.fullmatch(rb"\* 2 UIDFETCH \(MODSEQ \(\d+\)\)\r\nb OK .*\r\n", out), out


async def test_expunges_are_vanished(harness: Harness) -> None:
    c = await _uidonly(harness)
    await c.command("a UID STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    out = await c.command("b EXPUNGE")
    assert lines(out) == ["* VANISHED 1:2", "b OK EXPUNGE completed"], out
    await c.command("d UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    out = await c.command("f UID EXPUNGE 4")
    assert lines(out) == ["* VANISHED 4", "f OK UID EXPUNGE completed"], out
    out = await c.command("g UID MOVE 3 Trash")
    assert "* VANISHED 3" in lines(out) and b"EXPUNGE\r\n" not in out, out


async def test_no_unseen_code_in_select(harness: Harness) -> None:
    c = await _uidonly(harness, select=False)
    out = await c.command("s SELECT INBOX")
    assert b"UNSEEN" not in out and b"* 4 EXISTS" in out, out
    rev1 = await harness.connect(("demo", "demo"))
    assert b"[UNSEEN 2]" in await rev1.command("s SELECT INBOX")


async def test_unsolicited_updates(harness: Harness) -> None:
    c = await _uidonly(harness)
    other = await harness.connect(("demo", "demo"))
    await other.command("s SELECT INBOX")
    await other.command("a STORE 2 +FLAGS (\\Answered)")
    await other.command("b STORE 3 +FLAGS.SILENT (\\Deleted)")
    await other.command("c EXPUNGE")
    await append(other, msg(5))
    out = await c.command("n NOOP")  # (who gets \Recent of the new message is a race)
    assert [x for x in lines(out) if not x.endswith(" RECENT")] == [
        "* VANISHED 3", "* 2 UIDFETCH (FLAGS (\\Answered))", "* 4 EXISTS",
        "n OK NOOP completed"], out
    assert b"* 2 FETCH (FLAGS (\\Answered))" in await other.command("f FETCH 2 FLAGS")


async def test_enable_while_selected(harness: Harness) -> None:
    c = await _one_selected(harness)
    assert b"* 1 FETCH (FLAGS (\\Recent))" in await c.command("a FETCH 1 FLAGS")
    await c.command("e ENABLE UIDONLY")
    assert b"* 1 UIDFETCH (FLAGS (\\Recent))" in await c.command("b UID FETCH 1 FLAGS")
    await _refused(c, "c FETCH 1 FLAGS")


async def test_qresync(harness: Harness) -> None:
    c = await _uidonly(harness)
    out = await c.command("q ENABLE QRESYNC")
    status = await c.command("n STATUS INBOX (HIGHESTMODSEQ UIDVALIDITY)")
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", status)[1])  # type: ignore[index]
    validity = int(re.search(rb"UIDVALIDITY (\d+)", status)[1])  # type: ignore[index]
    await c.command("a UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    await c.command("b UID STORE 2 +FLAGS.SILENT (\\Flagged)")
    await c.command("x EXPUNGE")
    await _refused(c, f"c SELECT INBOX (QRESYNC ({validity} {modseq} 1:4 (1,3 1,3)))")
    out = await c.command(f"d SELECT INBOX (QRESYNC ({validity} {modseq} 1:4))")
    assert b"* VANISHED (EARLIER) 4\r\n" in out, out
    assert re.search(rb"\* 2 UIDFETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)\r\n", out), out
    assert b"UID 2" not in out, out
    out = await c.command(f"f UID FETCH 1:* FLAGS (CHANGEDSINCE {modseq} VANISHED)")
    assert b"* VANISHED (EARLIER) 4\r\n" in out and b"* 2 UIDFETCH (FLAGS (\\Flagged) MODSEQ" in out


async def test_refused_replace_reads_no_literal(harness: Harness) -> None:
    c = await _uidonly(harness)
    c.send(b"r REPLACE 1 INBOX {3}\r\n")
    out = await c.read_until(rb"^r .*\r\n")
    assert _BAD.search(out), out
    assert b"n OK" in await c.command("n NOOP")  # the session carries on


async def test_rev2_with_uidonly(harness: Harness) -> None:
    c = await _one_selected(harness)
    await c.command("e ENABLE IMAP4rev2 UIDONLY")
    assert lines(await c.command("a UID STORE 1 +FLAGS (\\Seen)")) == [
        "* 1 UIDFETCH (FLAGS (\\Seen))", "a OK UID +FLAGS completed"]
    assert lines(await c.command("b UID SEARCH SEEN")) == [
        '* ESEARCH (TAG "b") UID ALL 1', "b OK UID SEARCH completed"]


async def test_idle_and_notify(harness: Harness) -> None:
    c = await _uidonly(harness)
    other = await harness.connect(("demo", "demo"))
    await other.command("s SELECT INBOX")
    c.send("i IDLE\r\n")
    await c.read_until(rb"^\+ .*\r\n")
    await other.command("a STORE 4 +FLAGS.SILENT (\\Deleted)")
    assert await c.read_until(rb"^\* .*\r\n") == b"* 4 UIDFETCH (FLAGS (\\Deleted))\r\n"
    await other.command("b EXPUNGE")
    assert await c.read_until(rb"^\* .*\r\n") == b"* VANISHED 4\r\n"
    c.send("DONE\r\n")
    await c.read_until(rb"^i OK .*\r\n")
    out = await c.command("n NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge))")
    assert b"n OK" in out, out
    await append(other, msg(9))
    out = await c.read_until(rb"^\* \d+ UIDFETCH .*\r\n")
    assert re.search(rb"^\* 5 UIDFETCH \(UID 5 FLAGS \([^)]*\)\)\r\n", out, re.M), out
    out = await c.command("m NOTIFY SET (SELECTED (MessageNew (FLAGS) MessageExpunge))")
    await append(other, msg(10))
    out = await c.read_until(rb"^\* \d+ UIDFETCH .*\r\n")
    assert re.search(rb"^\* 6 UIDFETCH \(FLAGS \([^)]*\)\)\r\n", out, re.M), out


async def test_enable_ends_numbered_update_contexts(harness: Harness) -> None:
    c = await _one_selected(harness)
    assert b"a OK" in await c.command("a SEARCH RETURN (UPDATE) ALL")
    assert b"b OK" in await c.command("b UID SEARCH RETURN (UPDATE) ALL")
    out = await c.command("e ENABLE UIDONLY")
    assert out.startswith(b'* NO [NOUPDATE "a"] '), out
    assert b'"b"' not in out, out
    await append(await harness.connect(("demo", "demo")), msg(2))
    out = await c.command("n NOOP")
    assert b'* ESEARCH (TAG "b") UID ADDTO (0 2)\r\n' in out and b'"a"' not in out, out
