"""PREVIEW (RFC 8970) and SAVEDATE (RFC 8514) on every backend: the preview made at
APPEND, LAZY against a content stored without one (NIL) and the same made on demand;
SAVEDATE set now, a copy's its own, and the SAVED* search keys by the UTC day."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

from harness import Harness
from pyimapd.delivery import prepare_bytes
from session.test_search_extensions import append

PLAIN = ("Subject: plans\nContent-Type: text/plain; charset=utf-8\n\nHi Bob,\n\n"
         "On Monday, Bob wrote:\n> old\n\nLunch at noon?\n-- \nAlice\n")
HTML = ("Subject: html\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><head><style>x{}</style></head><body><p>Caf&eacute; <b>today</b></p>"
        "</body></html>\n")


async def test_preview_made_at_append(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b" PREVIEW " in await c.command("a CAPABILITY")
    await append(c, PLAIN)
    await append(c, HTML)
    await append(c, "Subject: empty\nContent-Type: image/png\n\nAAAA\n")
    await c.command("s SELECT INBOX")
    out = await c.command("f FETCH 1:3 (PREVIEW)")
    assert b'* 1 FETCH (PREVIEW "Hi Bob, Lunch at noon?")' in out, out
    assert "* 2 FETCH (PREVIEW {11}\r\nCafé today)".encode() in out, out
    assert b'* 3 FETCH (PREVIEW "")' in out, out
    out = await c.command("g FETCH 1 (PREVIEW (LAZY) UID)")
    assert b'* 1 FETCH (PREVIEW "Hi Bob, Lunch at noon?" UID 1)' in out, out
    assert (await c.command("h FETCH 1 (PREVIEW (FAST))")).startswith(b"h BAD")
    assert b"\\Seen" not in await c.command("i FETCH 1 FLAGS")  # PREVIEW is no read


async def test_preview_of_older_content(harness: Harness) -> None:
    """A content stored before previews were kept: LAZY is NIL, plain PREVIEW makes it."""
    spool, prepared = await prepare_bytes(PLAIN.replace("\n", "\r\n").encode())
    store = await harness.backend.open("demo")
    try:
        await store.append("INBOX", dataclasses.replace(prepared, preview=None),
                           frozenset(), datetime.now(UTC))
    finally:
        spool.close()
    c = await harness.connect(("demo", "demo"))
    await c.command("s SELECT INBOX")
    assert b"* 1 FETCH (PREVIEW NIL)" in await c.command("a FETCH 1 PREVIEW (LAZY)")
    out = await c.command("b FETCH 1 PREVIEW")
    assert b'* 1 FETCH (PREVIEW "Hi Bob, Lunch at noon?")' in out, out


async def test_savedate_and_search(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert b" SAVEDATE" in await c.command("a CAPABILITY")
    before = datetime.now(UTC).replace(microsecond=0)
    await append(c, "Subject: old\n\nx\n", date="01-Jan-2000 10:00:00 +0100")
    await c.command("s SELECT INBOX")
    out = await c.command("f FETCH 1 (SAVEDATE INTERNALDATE)")
    found = re.search(rb'SAVEDATE "([^"]+)"', out)
    assert found and b'INTERNALDATE "01-Jan-2000 10:00:00 +0100"' in out, out
    saved = datetime.strptime(found.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
    assert before - timedelta(seconds=1) <= saved <= datetime.now(UTC), (saved, before)
    assert found.group(1).endswith(b"+0000")
    await c.command("c CREATE Copies")
    await c.command("k COPY 1 Copies")
    await c.command("x SELECT Copies")
    out = await c.command("f FETCH 1 (SAVEDATE INTERNALDATE)")
    assert b'SAVEDATE "' in out and b'INTERNALDATE "01-Jan-2000 10:00:00 +0100"' in out, out
    today = saved.strftime("%d-%b-%Y")
    tomorrow = (saved + timedelta(days=1)).strftime("%d-%b-%Y")
    for key, expected in ((f"SAVEDON {today}", b"* SEARCH 1\r\n"),
                          (f"SAVEDSINCE {today}", b"* SEARCH 1\r\n"),
                          (f"SAVEDBEFORE {today}", b"* SEARCH\r\n"),
                          (f"SAVEDSINCE {tomorrow}", b"* SEARCH\r\n"),
                          ("SAVEDATESUPPORTED", b"* SEARCH 1\r\n"),
                          ("ON 01-Jan-2000", b"* SEARCH 1\r\n"),
                          ("SAVEDON 01-Jan-2000", b"* SEARCH\r\n")):
        out = await c.command(f"q SEARCH {key}")
        assert out.startswith(expected), (key, out)
