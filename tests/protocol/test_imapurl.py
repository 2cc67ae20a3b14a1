"""IMAP URLs (RFC 5092) as CATENATE (RFC 4469) and URLAUTH (RFC 4467) use them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pyimapd.protocol.commands import FetchSection
from pyimapd.protocol.imapurl import BadUrl, merge_mailbox, parse_url


def test_rfc4469_example_urls() -> None:
    url = parse_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER")
    assert (url.mailbox, url.uidvalidity, url.uid) == ("Drafts", 385759045, 20)
    assert url.section == FetchSection(peek=True, text="HEADER")
    assert not url.absolute and not url.relative_path and url.partial is None
    url = parse_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;Section=2.MIME")
    assert url.section == FetchSection(peek=True, part=(2,), text="MIME")
    url = parse_url("/INBOX;UIDVALIDITY=785799047/;UID=113330/;section=1.5.9")
    assert url.section == FetchSection(peek=True, part=(1, 5, 9))
    assert parse_url("/Drafts;UIDVALIDITY=385759045/;UID=30").section is None


def test_mailbox_without_uidvalidity_and_relative_forms() -> None:
    url = parse_url("/INBOX/;UID=7")
    assert (url.mailbox, url.uidvalidity, url.uid) == ("INBOX", None, 7)
    url = parse_url(";UID=7/;SECTION=1")
    assert url.mailbox is None and url.section == FetchSection(peek=True, part=(1,))
    url = parse_url("Sent/;UID=3")
    assert url.mailbox == "Sent" and url.relative_path
    assert merge_mailbox("a/b", url) == "a/Sent"
    assert merge_mailbox("INBOX", url) == "Sent"
    assert merge_mailbox(None, parse_url(";UID=1")) is None
    assert merge_mailbox("INBOX", parse_url(";UID=1")) == "INBOX"
    assert merge_mailbox("a/b", parse_url("/c/;UID=1")) == "c"


def test_percent_encoded_names_and_sections() -> None:
    url = parse_url("/%C3%A4pfel%20und/;UID=1/;SECTION=HEADER.FIELDS%20(TO%20FROM)")
    assert url.mailbox == "äpfel und"
    assert url.section == FetchSection(peek=True, text="HEADER.FIELDS", fields=("TO", "FROM"))
    assert parse_url("/inbox/;UID=1").mailbox == "INBOX"


def test_partial() -> None:
    assert parse_url("/INBOX/;UID=1/;PARTIAL=0.1024").partial == (0, 1024)
    assert parse_url("/INBOX/;UID=1/;SECTION=1/;PARTIAL=10").partial == (10, None)


def test_absolute_url() -> None:
    url = parse_url("imap://joe;AUTH=*@example.com:143/INBOX/;uid=20/;section=1.2")
    assert (url.user, url.host, url.port, url.mailbox, url.uid) == (
        "joe", "example.com", 143, "INBOX", 20)
    assert url.absolute
    assert parse_url("IMAP://Example.COM/INBOX/;UID=1").host == "example.com"


def test_urlauth_parts() -> None:
    rump = ("imap://joe@example.com/INBOX/;uid=20/;section=1.2;expire=2006-10-20T19:55:00Z"
            ";urlauth=submit+fred")
    url = parse_url(rump + ":internal:91354a473744909de610943775f92038")
    assert url.rump == rump and url.mechanism == "INTERNAL"
    assert url.token == "91354a473744909de610943775f92038"
    assert url.access == "submit+fred"
    assert url.expire == datetime(2006, 10, 20, 19, 55, tzinfo=UTC)
    assert url.section == FetchSection(peek=True, part=(1, 2))
    url = parse_url("imap://joe@example.com/INBOX/;uid=20;urlauth=anonymous")
    assert url.access == "anonymous" and url.rump == url.text and url.mechanism is None
    assert parse_url("imap://a@h/INBOX/;UID=1;URLAUTH=AuthUser").access == "authuser"
    # HEXDIG and the mechanism name are case-insensitive; RFC 3339's T and Z too
    url = parse_url("imap://a@h/INBOX/;UID=1;expire=2006-10-20t19:55:00.5z"
                    ";URLAUTH=anonymous:Internal:" + "ABCDEF" * 6)
    assert url.mechanism == "INTERNAL" and url.token == "ABCDEF" * 6
    assert url.expire == datetime(2006, 10, 20, 19, 55, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "",
    "http://example.com/INBOX/;UID=1",
    "/INBOX",
    "/INBOX;UID=1",
    "/;UID=1",
    "INBOX/;UID=0",
    "/INBOX/;UID=99999999999",
    "/INBOX/;UID=x",
    "/IN BOX/;UID=1",
    "/INBOX/;UID=1/;SECTION=1.FOO",
    "/INBOX/;UID=1/;SECTION=",
    "/INBOX/;UID=1/;PARTIAL=1.0",
    "/INBOX/;UID=1:INTERNAL:abcd",
    "/INBOX/;UID=1;URLAUTH=nobody",
    "/INBOX/;UID=1;EXPIRE=yesterday;URLAUTH=anonymous",
    "/INBOX/;UID=1;EXPIRE=2006-10-20T19:55:00;URLAUTH=anonymous",
    # RFC 3339 date-time only: not ISO 8601's basic or week forms, nor a bare date
    "/INBOX/;UID=1;EXPIRE=20061020T195500Z;URLAUTH=anonymous",
    "/INBOX/;UID=1;EXPIRE=2006-W42-5T19:55:00Z;URLAUTH=anonymous",
    "/INBOX/;UID=1;EXPIRE=2006-10-20T19:55Z;URLAUTH=anonymous",
    "/INBOX/;UID=1;EXPIRE=2006-10-20 19:55:00Z;URLAUTH=anonymous",
    # enc-urlauth = 32*HEXDIG; uauth-mechanism = 1*(ALPHA / DIGIT / "-" / ".")
    "imap://a@h/INBOX/;UID=1;URLAUTH=anonymous:internal:0123456789abcdef",
    "imap://a@h/INBOX/;UID=1;URLAUTH=anonymous:internal:" + "g" * 32,
    "imap://a@h/INBOX/;UID=1;URLAUTH=anonymous:internal:",
    "imap://a@h/INBOX/;UID=1;URLAUTH=anonymous:in_ternal:" + "0" * 32,
    "/%FF/;UID=1",
    "imap://host:99999/INBOX/;UID=1",
    "imap://ho st/INBOX/;UID=1",
    "imap://host",
])
def test_bad_urls(text: str) -> None:
    with pytest.raises(BadUrl):
        parse_url(text)
