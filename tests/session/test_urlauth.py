"""URLAUTH (RFC 4467) in the session: GENURLAUTH, URLFETCH, RESETKEY, the access
identifiers, EXPIRE, and CATENATE's use of URLAUTH URLs, on every backend."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

from harness import Client, Harness
from pyimapd.auth import urlauth
from pyimapd.config import AuthConfig
from pyimapd.protocol.imapurl import parse_url
from pyimapd.session.handlers.urls import expired

MESSAGE = ("Subject: plan\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           "Content-Type: text/plain\r\n\r\nSi vis pacem, para bellum.\r\n--b--\r\n")
PART = b"Si vis pacem, para bellum."


async def setup(c: Client) -> int:
    out = await c.command(f"s APPEND INBOX {{{len(MESSAGE)}+}}\r\n{MESSAGE}")
    m = re.search(rb"APPENDUID \d+ (\d+)", out)
    assert m, out
    return int(m.group(1))


async def generate(c: Client, rump: str) -> str:
    out = await c.command(f'g GENURLAUTH "{rump}" INTERNAL')
    m = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"\r\ng OK GENURLAUTH completed\r\n', out)
    assert m, out
    return m.group(1).decode()


def fetched(url: str, data: bytes | None) -> bytes:
    value = b"NIL" if data is None else b"{%d}\r\n%s" % (len(data), data)
    return b'* URLFETCH "' + url.encode() + b'" ' + value + b"\r\n"


async def test_rfc4467_example(harness: Harness) -> None:
    """Section 7's examples, with demo's INBOX message 1 part 1 and a submit server."""
    harness.ctx.config = dataclasses.replace(
        harness.config, auth=AuthConfig(submit_users=("other",)))
    demo = await harness.connect(("demo", "demo"))
    uid = await setup(demo)
    rump = f"imap://demo@localhost/INBOX/;uid={uid}/;section=1;urlauth=submit+demo"
    url = await generate(demo, rump)
    m = re.fullmatch(re.escape(rump) + r":internal:(01[0-9a-f]{40})", url)
    assert m, url
    key = await (await harness.backend.open("demo")).urlauth_key("INBOX", create=False)
    assert key is not None and m.group(1) == urlauth.token(key, rump)
    submit = await harness.connect(("other", "secret"))
    assert await submit.command(f'f URLFETCH "{url}"') == (
        fetched(url, PART) + b"f OK URLFETCH completed\r\n")
    # submit+demo is for submission servers only: demo itself gets NIL
    assert await demo.command(f'f URLFETCH "{url}"') == (
        fetched(url, None) + b"f OK URLFETCH completed\r\n")


async def test_access_identifiers(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    other = await harness.connect(("other", "secret"))
    uid = await setup(demo)
    base = f"imap://demo@localhost/INBOX/;UID={uid}/;SECTION=1"
    anonymous = await generate(demo, base + ";URLAUTH=anonymous")
    authuser = await generate(demo, base + ";URLAUTH=authuser")
    for_other = await generate(demo, base + ";URLAUTH=user+other")
    for_demo = await generate(demo, base + ";URLAUTH=user+demo")
    out = await other.command(f"f URLFETCH {anonymous} {authuser} {for_other} {for_demo}")
    assert out == (fetched(anonymous, PART) + fetched(authuser, PART)
                   + fetched(for_other, PART) + fetched(for_demo, None)
                   + b"f OK URLFETCH completed\r\n")
    out = await demo.command(f"f URLFETCH {for_other} {for_demo}")
    assert out == fetched(for_other, None) + fetched(for_demo, PART) + (
        b"f OK URLFETCH completed\r\n")


async def test_nothing_leaks_from_urls_that_do_not_verify(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    other = await harness.connect(("other", "secret"))
    uid = await setup(demo)
    good = await generate(demo, f"imap://demo@localhost/INBOX/;UID={uid};URLAUTH=anonymous")
    token = good.rsplit(":", 1)[1]
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    bad = [
        flipped,
        f"imap://demo@localhost/Nowhere/;UID={uid};URLAUTH=anonymous:internal:{token}",
        f"imap://nobody@localhost/INBOX/;UID={uid};URLAUTH=anonymous:internal:{token}",
        f"imap://demo@elsewhere.example/INBOX/;UID={uid};URLAUTH=anonymous:internal:{token}",
        good.replace(":internal:", ":other:"),
        good.replace(";URLAUTH=anonymous", ";URLAUTH=authuser"),  # the rump changed
        f"imap://demo@localhost/INBOX/;UID={uid}",  # no URLAUTH at all
        f"/INBOX/;UID={uid};URLAUTH=anonymous:internal:{token}",  # not absolute
        "not a url",
    ]
    out = await other.command("f URLFETCH " + " ".join(f'"{u}"' for u in bad))
    assert out == b"".join(fetched(u, None) for u in bad) + b"f OK URLFETCH completed\r\n"
    # the same URL for a message that is not there: verified, then NIL as well
    gone = await generate(demo, "imap://demo@localhost/INBOX/;UID=99;URLAUTH=anonymous")
    assert await other.command(f"f URLFETCH {gone}") == (
        fetched(gone, None) + b"f OK URLFETCH completed\r\n")


async def test_expire(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    uid = await setup(demo)
    base = f"imap://demo@localhost/INBOX/;UID={uid}/;SECTION=1"
    past = await generate(demo, base + ";EXPIRE=2006-10-20T19:55:00Z;URLAUTH=authuser")
    future = await generate(demo, base + ";EXPIRE=2999-01-01T00:00:00+01:00;URLAUTH=authuser")
    assert await demo.command(f"f URLFETCH {past} {future}") == (
        fetched(past, None) + fetched(future, PART) + b"f OK URLFETCH completed\r\n")


async def test_token_case_and_expiry_instant(harness: Harness) -> None:
    """HEXDIG is case-insensitive; ;EXPIRE= is the last instant the URL is valid."""
    demo = await harness.connect(("demo", "demo"))
    uid = await setup(demo)
    url = await generate(demo, f"imap://demo@localhost/INBOX/;UID={uid};URLAUTH=authuser")
    rump, _, token = url.rpartition(":")
    upper = f"{rump}:{token.upper()}"
    assert (await demo.command(f'f URLFETCH "{upper}"')).startswith(
        b'* URLFETCH "' + upper.encode() + b'" {')
    expiring = parse_url("imap://a@h/INBOX/;UID=1;EXPIRE=2006-10-20T19:55:00Z"
                         ";URLAUTH=anonymous")
    at = datetime(2006, 10, 20, 19, 55, tzinfo=UTC)
    assert not expired(expiring, at) and expired(expiring, at + timedelta(microseconds=1))
    assert not expired(parse_url("imap://a@h/INBOX/;UID=1;URLAUTH=anonymous"), at)


async def test_genurlauth_for_a_userid_that_does_not_exist(harness: Harness) -> None:
    """RFC 4467 section 7 (3): the userid of user+/submit+ must be valid; pyimapd takes
    the OK-with-a-token-that-never-verifies way, so the answer does not tell whether the
    userid exists, and the URL stays dead once that userid is created."""
    harness.ctx.config = dataclasses.replace(
        harness.config, auth=AuthConfig(submit_users=("other",)))
    demo = await harness.connect(("demo", "demo"))
    uid = await setup(demo)
    base = f"imap://demo@localhost/INBOX/;UID={uid}"
    for_newbie = await generate(demo, base + ";URLAUTH=user+newbie")
    for_nobody = await generate(demo, base + ";URLAUTH=submit+nobody")
    for_other = await generate(demo, base + ";URLAUTH=submit+other")
    for url in (for_newbie, for_nobody, for_other):
        assert re.fullmatch(r".+:internal:01[0-9a-f]{40}", url), url
    await harness.backend.users.add_user("newbie", harness.passwords.hash("pw"))
    newbie = await harness.connect(("newbie", "pw"))
    assert await newbie.command(f'f URLFETCH "{for_newbie}"') == (
        fetched(for_newbie, None) + b"f OK URLFETCH completed\r\n")
    submit = await harness.connect(("other", "secret"))
    out = await submit.command(f'f URLFETCH "{for_nobody}" "{for_other}"')
    assert out.startswith(fetched(for_nobody, None) + b'* URLFETCH "'
                          + for_other.encode() + b'" {'), out


async def test_resetkey_invalidates(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    uid = await setup(demo)
    await demo.command("c CREATE Other")
    inbox = await generate(demo, f"imap://demo@localhost/INBOX/;UID={uid};URLAUTH=authuser")
    other = await generate(demo, "imap://demo@localhost/Other/;UID=1;URLAUTH=authuser")
    assert await demo.command("r1 RESETKEY Other INTERNAL") == b"r1 OK Key reset\r\n"
    out = await demo.command(f"f URLFETCH {inbox}")
    assert out.startswith(b'* URLFETCH "' + inbox.encode() + b'" {')
    again = await generate(demo, "imap://demo@localhost/Other/;UID=1;URLAUTH=authuser")
    assert again != other
    assert await demo.command("r2 RESETKEY") == b"r2 OK All keys removed\r\n"
    assert await demo.command(f"f URLFETCH {inbox}") == (
        fetched(inbox, None) + b"f OK URLFETCH completed\r\n")
    fresh = await generate(demo, f"imap://demo@localhost/INBOX/;UID={uid};URLAUTH=authuser")
    assert fresh != inbox
    assert (await demo.command("r3 RESETKEY Nowhere")).startswith(b"r3 NO [NONEXISTENT]")
    assert await demo.command("r4 RESETKEY INBOX FOO") == (
        b"r4 BAD Unknown URLAUTH mechanism FOO\r\n")


async def test_genurlauth_refusals(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    for line, text in [
        ('GENURLAUTH "imap://other@localhost/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL',
         "The URL must be imap://you@this-server/..."),
        ('GENURLAUTH "imap://demo@localhost/INBOX/;UID=1" INTERNAL',
         "The URL must end with ;URLAUTH=access and no mechanism or token"),
        ('GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=anonymous:internal:00"'
         " INTERNAL", "Invalid URL: the URLAUTH token is not 32 or more hex digits"),
        (f'GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=anonymous:internal:'
         f'{"0" * 42}" INTERNAL',
         "The URL must end with ;URLAUTH=access and no mechanism or token"),
        # section 7's own refusals: no userid in the server part, an unknown mechanism
        ('GENURLAUTH "imap://localhost/INBOX/;UID=1;URLAUTH=submit+fred" INTERNAL',
         "The URL must be imap://you@this-server/..."),
        ('GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=submit+fred" XSAMPLE',
         "Unknown URLAUTH mechanism XSAMPLE"),
        ('GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;EXPIRE=20061020T195500Z;'
         'URLAUTH=anonymous" INTERNAL', "Invalid URL: invalid ;EXPIRE date-time "
         "(RFC 3339: YYYY-MM-DDThh:mm:ss and a zone)"),
        ('GENURLAUTH "imap://demo@localhost/Nowhere/;UID=1;URLAUTH=anonymous" INTERNAL',
         "No mailbox Nowhere"),
        ('GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=anonymous" XYZ',
         "Unknown URLAUTH mechanism XYZ"),
        ('GENURLAUTH "/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL',
         "The URL must be imap://you@this-server/..."),
        ('GENURLAUTH "imap://demo@localhost/INBOX" INTERNAL',
         "Invalid URL: not a message or message part URL"),
        ("GENURLAUTH", "Missing URL"),
        ('GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=anonymous"',
         "Missing URLAUTH mechanism"),
        ("URLFETCH", "Missing URL"),
        ("RESETKEY INBOX (X)", "Invalid URLAUTH mechanism"),
    ]:
        assert await demo.command("a " + line) == f"a BAD {text}\r\n".encode(), line
    anonymous = await harness.connect()
    out = await anonymous.command("a URLFETCH x")
    assert out.startswith(b"a BAD "), out


async def test_catenate_takes_a_verified_urlauth_url(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    other = await harness.connect(("other", "secret"))
    uid = await setup(demo)
    url = await generate(demo, f"imap://demo@localhost/INBOX/;UID={uid}/;SECTION=1"
                               ";URLAUTH=user+other")
    out = await other.command(f'a APPEND INBOX CATENATE (TEXT {{9+}}\r\nSubject:  URL "{url}")')
    assert out.startswith(b"a OK [APPENDUID "), out
    await other.command("b SELECT INBOX")
    assert b"{35}\r\nSubject: Si vis pacem, para bellum." in await other.command(
        "c FETCH 1 BODY.PEEK[]")
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    out = await other.command(f'd APPEND INBOX CATENATE (URL "{forged}")')
    assert out == (f'd NO [BADURL "{forged}"] Cannot use the URL: the URLAUTH does not '
                   "verify\r\n").encode()
    out = await demo.command(f'e APPEND INBOX CATENATE (URL "{url}")')  # not for demo
    assert out.startswith(b"e NO [BADURL "), out


async def test_urlmech_only_over_tls(harness: Harness) -> None:
    demo = await harness.connect(("demo", "demo"))
    assert await demo.command("a RESETKEY INBOX") == b"a OK Key reset\r\n"
    demo.channel.secure = True
    assert await demo.command("b RESETKEY INBOX") == (
        b"* OK [URLMECH INTERNAL] Mechanisms\r\nb OK Key reset\r\n")
    assert b"* OK [URLMECH INTERNAL] " in await demo.command("c EXAMINE INBOX")
    demo.channel.secure = False
    assert b"URLMECH" not in await demo.command("d EXAMINE INBOX")
