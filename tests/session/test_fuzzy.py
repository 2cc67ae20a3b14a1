"""FUZZY (RFC 6203) through the session on every backend: inexact matches of the string
keys, RELEVANCY in ESEARCH and ESORT, the RELEVANCY sort key, and bad input."""

from __future__ import annotations

from harness import Client, Harness
from session.test_search_extensions import append

MESSAGES = [
    "Subject: Hello world\nFrom: Alice <alice@example.com>\n\n"
    "The quarterly budget report is attached.\n",
    "Subject: other things\nFrom: bob@example.org\n\nNothing to see here.\n",
    "Subject: helo\nFrom: carol@example.net\n\nquarterly numbers, no budget\n",
    "Subject: budget\nFrom: dave@example.net\n\nThe quartrly budgt is late.\n",
]


async def _mailbox(harness: Harness) -> Client:
    c = await harness.connect(("demo", "demo"))
    for text in MESSAGES:
        await append(c, text)
    await c.command("s SELECT INBOX")
    return c


async def test_fuzzy_is_advertised_and_inexact(harness: Harness) -> None:
    c = await _mailbox(harness)
    assert b" SEARCH=FUZZY" in await c.command("a CAPABILITY")
    # "helo wrld": hel elo wrl rld; "hello world" holds hel and rld, "helo" hel and elo
    assert b"* SEARCH 1 3\r\n" in await c.command('b SEARCH FUZZY SUBJECT "helo wrld"')
    assert b"* SEARCH\r\n" in await c.command('c SEARCH SUBJECT "helo wrld"')
    out = await c.command('d SEARCH FUZZY BODY "quartely budget"')
    assert b"* SEARCH 1 3 4\r\n" in out, out
    # exa xam amp mpe pel net ett: 4 of 7 in example.net, 3 in example.com or .org
    out = await c.command('e UID SEARCH NOT FUZZY FROM "exampel.nett"')
    assert b"* SEARCH 1 2\r\n" in out, out


async def test_relevancy_scores(harness: Harness) -> None:
    c = await _mailbox(harness)
    out = await c.command('a SEARCH RETURN (ALL RELEVANCY) FUZZY BODY "quartely budget"')
    # qua uar art rte tel ely bud udg dge get: 1 and 3 lack "tel" and "ely" (8 of 10);
    # "quartrly budgt" holds qua uar art bud udg (5 of 10)
    assert b'* ESEARCH (TAG "a") ALL 1,3:4 RELEVANCY (80 80 50)\r\n' in out, out
    out = await c.command("b SEARCH RETURN (COUNT RELEVANCY) SUBJECT other")
    assert b'* ESEARCH (TAG "b") COUNT 1 RELEVANCY (100)\r\n' in out, out
    out = await c.command('c UID SEARCH RETURN (RELEVANCY) OR FUZZY SUBJECT "helo wrld"'
                          " SUBJECT other")
    assert b'* ESEARCH (TAG "c") UID RELEVANCY (50 100 50)\r\n' in out, out
    out = await c.command('d SEARCH RETURN (RELEVANCY) FUZZY SUBJECT "zyzzyva quux"')
    assert b'* ESEARCH (TAG "d")\r\n' in out, out


async def test_relevancy_sort(harness: Harness) -> None:
    c = await _mailbox(harness)
    out = await c.command('a SORT (RELEVANCY) UTF-8 FUZZY TEXT "quartely budget"')
    assert b"* SORT 1 3 4\r\n" in out, out
    out = await c.command('b SORT (REVERSE RELEVANCY ARRIVAL) UTF-8 FUZZY TEXT'
                          ' "quartely budget"')
    assert b"* SORT 4 1 3\r\n" in out, out
    # qua uar art rtr trl rly bud udg dgt: "quarterly budget" lacks rtr trl dgt
    out = await c.command('c SORT RETURN (ALL RELEVANCY) (RELEVANCY) UTF-8 FUZZY BODY'
                          ' "quartrly budgt"')
    assert b'* ESEARCH (TAG "c") ALL 4,1,3 RELEVANCY (100 66 66)\r\n' in out, out


async def test_short_needles_are_exact_and_bad_input(harness: Harness) -> None:
    c = await _mailbox(harness)
    assert b"* SEARCH 1 2 3\r\n" in await c.command("a SEARCH FUZZY SUBJECT he")  # otHEr
    assert b"* SEARCH 1 2 3 4\r\n" in await c.command("b SEARCH FUZZY ALL")
    assert (await c.command("c SEARCH FUZZY")).startswith(b"c BAD")
    assert (await c.command("d SEARCH FUZZY FUZZY")).startswith(b"d BAD")
    assert b"* SEARCH 1 3\r\n" in await c.command("e SEARCH FUZZY FUZZY SUBJECT hel")
    assert (await c.command("f SEARCH RETURN (RELEVANCY X) ALL")).startswith(b"f BAD")
    assert b"g OK" in await c.command("g NOOP")
