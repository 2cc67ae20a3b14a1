"""OBJECTID (RFC 8474; issue 23): EMAILID shared by COPY and MOVE, SEARCH EMAILID,
THREADID NIL and matching nothing, MAILBOXID in CREATE, SELECT, EXAMINE and STATUS, kept
across RENAME and new for a re-created mailbox, on every backend."""

from __future__ import annotations

import re

from harness import Harness
from session.test_search_extensions import append, msg


async def test_emailid_threadid_and_search(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await append(c, msg(1, "one"))
    await append(c, msg(2, "two"))
    await c.command("s SELECT INBOX")
    out = await c.command("f UID FETCH 1:* (UID EMAILID THREADID)")
    assert b"THREADID NIL" in out, out
    first = {int(u): e.decode() for u, e in re.findall(rb"UID (\d+) EMAILID \((M\d+)\)", out)}
    assert len(set(first.values())) == 2, out
    await c.command("c CREATE Copies")
    await c.command("k UID COPY 1 Copies")
    await c.command("m UID MOVE 2 Copies")
    await c.command("x SELECT Copies")
    out = await c.command("g UID FETCH 1:* (UID EMAILID)")
    copied = {int(u): e.decode() for u, e in re.findall(rb"UID (\d+) EMAILID \((M\d+)\)", out)}
    assert sorted(copied.values()) == sorted(first.values()), (first, copied)
    out = await c.command(f"s1 UID SEARCH EMAILID {first[1]}")
    assert out.startswith(b"* SEARCH 1\r\n"), out
    assert (await c.command("s2 SEARCH THREADID T1")).startswith(b"* SEARCH\r\n")
    assert (await c.command("s3 SEARCH EMAILID Mnope")).startswith(b"* SEARCH\r\n")
    assert (await c.command("s4 SEARCH EMAILID a.b")).startswith(b"s4 BAD")


async def test_mailboxid_follows_rename_not_recreation(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    await c.command("c CREATE Foo")
    out = await c.command("s STATUS Foo (MAILBOXID)")
    found = re.search(rb"MAILBOXID \((F[0-9a-f-]+)\)", out)
    assert found, out
    await c.command("r RENAME Foo Bar")
    out = await c.command("s STATUS Bar (MAILBOXID)")
    assert found.group(1) in out, out
    await c.command("d DELETE Bar")
    await c.command("c2 CREATE Bar")
    out = await c.command("s STATUS Bar (MAILBOXID)")
    assert found.group(1) not in out and b"MAILBOXID (F" in out, out


async def test_mailboxid_in_create_select_and_examine(harness: Harness) -> None:
    """Section 4.1: CREATE's tagged OK and SELECT's/EXAMINE's untagged OK carry the
    same MAILBOXID as STATUS; a revived \\Noselect name gets a new one."""
    c = await harness.connect(("demo", "demo"))
    assert b" OBJECTID" in await c.command("a CAPABILITY")
    out = await c.command("c CREATE Foo/Bar")
    created = re.fullmatch(rb"c OK \[MAILBOXID \((F[0-9a-f]+-[0-9a-f]+)\)\] CREATE completed\r\n",
                           out)
    assert created, out
    ident = created.group(1)
    for verb in ("SELECT", "EXAMINE"):
        out = await c.command(f"s {verb} Foo/Bar")
        assert b"* OK [MAILBOXID (" + ident + b")] Mailbox ID\r\n" in out, out
    assert ident in await c.command("t STATUS Foo/Bar (MAILBOXID)")
    status = await c.command("u STATUS Foo (MAILBOXID)")
    parent = re.search(rb"MAILBOXID \((F[0-9a-f-]+)\)", status)
    assert parent and parent.group(1) != ident, status
    await c.command("v CLOSE")
    await c.command("d DELETE Foo")  # Foo has an inferior: it stays as \\Noselect
    out = await c.command("r CREATE Foo")
    revived = re.search(rb"MAILBOXID \((F[0-9a-f-]+)\)", out)
    assert revived and revived.group(1) not in (ident, parent.group(1)), out
