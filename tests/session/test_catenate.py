"""CATENATE (RFC 4469) in the session: URL parts copied from the store, BADURL and
TOOBIG refusals that store nothing, on every backend."""

from __future__ import annotations

import re

from harness import Client, Harness
from pyimapd.storage.interface import QuotaLimits

BOUNDARY = "------------030308070208000400050907"
DRAFT = (
    "From: Bob <bar@example.org>\r\nSubject: About our holiday trip\r\n"
    f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"\r\n\r\n'
    f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nOld text.\r\n"
    f"--{BOUNDARY}\r\nContent-Type: application/x-zip-compressed\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAIAA==\r\n"
    f"--{BOUNDARY}--\r\n"
)


def lit(data: str) -> str:
    return f"{{{len(data.encode())}+}}\r\n{data}"


async def setup(c: Client) -> tuple[int, int]:
    """The draft as UID 1 of Drafts: (UIDVALIDITY, UID)."""
    out = await c.command(f"s1 APPEND Drafts (\\Draft) {lit(DRAFT)}")
    m = re.search(rb"APPENDUID (\d+) (\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


async def body(c: Client, mailbox: str, uid: int) -> bytes:
    await c.command(f"f1 EXAMINE {mailbox}")
    out = await c.command(f"f2 UID FETCH {uid} BODY.PEEK[]")
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", out)
    assert m, out
    return out[m.end(): m.end() + int(m.group(1))]


async def test_replace_an_attachment(harness: Harness) -> None:
    """RFC 4469 appendix A, example 2: new text, the old attachment by URL."""
    c = await harness.connect(("demo", "demo"))
    v, uid = await setup(c)
    url = f"/Drafts;UIDVALIDITY={v}/;UID={uid}"
    head = (f"Subject: New\r\nContent-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\r\n\r\n"
            f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nNew text.\r\n--{BOUNDARY}\r\n")
    c.send(f"a APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (TEXT {lit(head)} "
           f'URL "{url}/;Section=2.MIME" URL "{url}/;Section=2" TEXT '
           f"{lit(f'{chr(13)}{chr(10)}--{BOUNDARY}--{chr(13)}{chr(10)}')})\r\n")
    out = await c.read_until(rb"^a .*\r\n")
    assert re.fullmatch(rb"a OK \[APPENDUID \d+ 2\] APPEND completed\r\n", out), out
    attachment = DRAFT[DRAFT.index("Content-Type: application"):DRAFT.index(f"\r\n--{BOUNDARY}--")]
    assert await body(c, "Drafts", 2) == (
        head + attachment + f"\r\n--{BOUNDARY}--\r\n").encode()
    out = await c.command("f3 UID FETCH 1:2 FLAGS")
    assert b"* 1 FETCH (UID 1 FLAGS (\\Draft \\Recent))" in out  # no \Seen on the source


async def test_sections_partial_and_relative_urls(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    v, uid = await setup(c)
    await c.command("b SELECT Drafts")
    c.send(f'a APPEND INBOX CATENATE (URL ";UID={uid}/;SECTION=HEADER.FIELDS%20(SUBJECT)" '
           f'URL "Drafts/;UID={uid}/;SECTION=1/;PARTIAL=4.3" '
           f'URL "imap://demo@localhost/Drafts;UIDVALIDITY={v}/;UID={uid}/;SECTION=1.MIME")\r\n')
    out = await c.read_until(rb"^a .*\r\n")
    assert out.startswith(b"a OK [APPENDUID "), out
    assert await body(c, "INBOX", 1) == (
        b"Subject: About our holiday trip\r\n\r\n" b"tex" b"Content-Type: text/plain\r\n\r\n")


async def test_whole_message_url_and_literal_url(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    _, uid = await setup(c)
    url = f"/Drafts/;UID={uid}"
    c.send(f"a APPEND INBOX CATENATE (URL {lit(url)})\r\n")
    assert (await c.read_until(rb"^a .*\r\n")).startswith(b"a OK [APPENDUID ")
    assert await body(c, "INBOX", 1) == DRAFT.encode()


async def test_bad_urls(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    v, uid = await setup(c)
    for url, why in [
        (f"/Drafts;UIDVALIDITY={v + 1}/;UID={uid}", "UIDVALIDITY mismatch"),
        (f"/Drafts/;UID={uid + 5}", "no such message"),
        (f"/Nowhere/;UID={uid}", "no such mailbox"),
        (f"/Drafts/;UID={uid}/;SECTION=3", "no such body part"),
        (f"/Drafts/;UID={uid}/;SECTION=1.FOO", "invalid section"),
        (f";UID={uid}", "no mailbox named and none selected"),
        (f"imap://other@localhost/Drafts/;UID={uid}", "not a mailbox of this user"),
        (f"imap://demo@elsewhere.example/Drafts/;UID={uid}", "not a mailbox of this user"),
        (f"imap://demo@localhost/Drafts/;UID={uid};URLAUTH=anonymous:INTERNAL:"
         + "0" * 40, "the URLAUTH does not verify"),
        ("http://example.org/", "not an IMAP URL"),
    ]:
        c.send(f'a APPEND INBOX CATENATE (TEXT {lit("Subject: x")} URL "{url}")\r\n')
        out = await c.read_until(rb"^a .*\r\n")
        assert out.startswith(f'a NO [BADURL "{url}"] Cannot use the URL: {why}'.encode()), out
    assert b"MESSAGES 0" in await c.command("b STATUS INBOX (MESSAGES)")
    assert await c.command("c NOOP") == b"c OK NOOP completed\r\n"


async def test_badurl_before_the_plus_of_the_next_text(harness: Harness) -> None:
    """The URL is checked before ``+`` invites the TEXT after it (RFC 4469 appendix A,
    example 4's note), so the client never sends it."""
    c = await harness.connect(("demo", "demo"))
    c.send('a APPEND INBOX CATENATE (URL "/INBOX/;UID=9" TEXT {5}\r\n')
    out = await c.read_until(rb"^a .*\r\n")
    assert out == b'a NO [BADURL "/INBOX/;UID=9"] Cannot use the URL: no such message\r\n'
    assert await c.command("b NOOP") == b"b OK NOOP completed\r\n"


async def test_multiappend_later_part_fails_nothing_stored(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    _, uid = await setup(c)
    c.send(f"a APPEND INBOX {lit('Subject: one')} CATENATE (URL /Drafts/;UID={uid}) "
           f"CATENATE (URL /Drafts/;UID={uid + 1} TEXT {lit('tail')}) {lit('Subject: 4')}\r\n")
    out = await c.read_until(rb"^a .*\r\n")
    assert out.startswith(f'a NO [BADURL "/Drafts/;UID={uid + 1}"]'.encode()), out
    assert await c.command("b NOOP") == b"b OK NOOP completed\r\n"
    assert b"MESSAGES 0" in await c.command("c STATUS INBOX (MESSAGES)")
    c.send(f"d APPEND INBOX {lit('Subject: one')} CATENATE (URL /Drafts/;UID={uid} "
           f"TEXT {lit('tail')})\r\n")
    assert re.match(rb"d OK \[APPENDUID \d+ 1:2\]", await c.read_until(rb"^d .*\r\n"))


async def test_toobig_and_quota(harness: Harness) -> None:
    limit = harness.config.limits.max_append
    c = await harness.connect(("demo", "demo"))
    _, uid = await setup(c)
    c.send(f"a APPEND INBOX CATENATE (TEXT {{{limit - 10}+}}\r\n" + "x" * (limit - 10)
           + f" URL /Drafts/;UID={uid})\r\n")
    out = await c.read_until(rb"^a .*\r\n")
    assert out.startswith(b"a NO [TOOBIG] "), out
    assert await c.command("b NOOP") == b"b OK NOOP completed\r\n"
    await harness.backend.users.set_quota("demo", QuotaLimits(messages=1))
    c.send(f"c APPEND INBOX CATENATE (URL /Drafts/;UID={uid})\r\n")
    assert (await c.read_until(rb"^c .*\r\n")).startswith(b"c NO [OVERQUOTA] ")


async def test_missing_mailbox_and_state(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    c.send("a APPEND Nowhere CATENATE (URL x TEXT {3}\r\n")
    assert (await c.read_until(rb"^a .*\r\n")).startswith(b"a NO [TRYCREATE] ")
    assert await c.command("b NOOP") == b"b OK NOOP completed\r\n"
    anonymous = await harness.connect()
    out = await anonymous.command("a APPEND INBOX CATENATE (URL x)")
    assert out.startswith(b"a BAD ") or out.startswith(b"a NO "), out
    assert await anonymous.command("b NOOP") == b"b OK NOOP completed\r\n"
