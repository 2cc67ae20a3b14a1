"""Corpus: expected ENVELOPE, BODYSTRUCTURE and section byte ranges, checked by hand
against RFC 3501 sections 6.4.5, 7.4.2 and 9 (octet and line counts counted by hand
from the CRLF-normalised files)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mime.mime_helpers import CORPUS
from pyimapd.mime import Section, bodystructure_value, dumps, envelope_value, loads, locate
from pyimapd.search.sort import sort_values

ASCII = ("CHARSET", "US-ASCII")
NO_EXT = (None, None, None, None)


def addr(mailbox, host, name=None, adl=None):
    return (name, adl, mailbox, host)


def env(date=None, subject=None, from_=None, sender=None, reply_to=None, to=None,
        cc=None, bcc=None, in_reply_to=None, message_id=None):
    """ENVELOPE with RFC 3501's defaults: sender and reply-to fall back to from."""
    return (date, subject, from_, sender or from_, reply_to or from_, to, cc, bcc,
            in_reply_to, message_id)


def text(subtype, size, lines, params=ASCII, enc="7BIT", ext=NO_EXT, pid=None, desc=None):
    return ("TEXT", subtype, params, pid, desc, enc, size, lines, *ext)


def basic(maintype, subtype, params, enc, size, ext=NO_EXT, pid=None):
    return (maintype, subtype, params, pid, None, enc, size, *ext)


def message(size, envelope, body, lines, ext=NO_EXT):
    return ("MESSAGE", "RFC822", None, None, None, "7BIT", size, envelope, body, lines, *ext)


def multi(children, subtype, params, ext=(None, None, None)):
    return (*children, subtype, params, *ext)


PLAIN_HEADER = (
    b"From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Hello\r\n"
    b"Date: Mon, 7 Feb 2022 10:11:12 +0100\r\nMessage-ID: <plain-1@example.org>\r\n\r\n"
)
ALICE = addr("alice", "example.org", "Alice Example")


def test_plain(corpus):
    data, root = corpus("01_plain")
    assert envelope_value(root) == env(
        "Mon, 7 Feb 2022 10:11:12 +0100", "Hello", (ALICE,),
        to=(addr("bob", "example.net"),), message_id="<plain-1@example.org>")
    assert bodystructure_value(root, True) == text("PLAIN", 33, 2)
    assert bodystructure_value(root, False) == ("TEXT", "PLAIN", ASCII, None, None, "7BIT", 33, 2)
    body = b"Hello Bob,\r\nthis is plain text.\r\n"
    assert_sections(data, root, {
        ((), ""): PLAIN_HEADER + body, ((), "HEADER"): PLAIN_HEADER, ((), "TEXT"): body,
        ((1,), ""): body, ((1,), "MIME"): PLAIN_HEADER, ((), "MIME"): None,
        ((2,), ""): None, ((1, 1), ""): None, ((1,), "HEADER"): None, ((1,), "TEXT"): None,
    })


def test_rfc3501_example_shape(corpus):
    """The header of RFC 3501 section 8's example gives the ENVELOPE shown there."""
    data, root = corpus("02_rfc3501_example")
    gray = addr("gray", "cac.washington.edu", "Terry Gray")
    assert envelope_value(root) == env(
        "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)", "IMAP4rev1 WG mtg summary and minutes",
        (gray,), to=(addr("imap", "cac.washington.edu"),),
        cc=(addr("minutes", "CNRI.Reston.VA.US"), addr("KLENSIN", "MIT.EDU", "John Klensin")),
        message_id="<B27397-0100000@cac.washington.edu>")
    assert bodystructure_value(root, False) == (
        "TEXT", "PLAIN", ("CHARSET", "US-ASCII"), None, None, "7BIT", 49, 3)
    body = b"Minutes of the meeting.\r\nLine two.\r\nLine three.\r\n"
    assert_sections(data, root, {((1,), ""): body})


def test_mixed_with_attachment(corpus):
    data, root = corpus("03_mixed_attachment")
    assert envelope_value(root) == env(
        None, "Report attached", (addr("carol", "example.com"),), to=(addr("dave", "example.com"),))
    assert bodystructure_value(root, True) == multi([
        text("PLAIN", 19, 0, ("CHARSET", "utf-8")),
        basic("APPLICATION", "PDF", ("NAME", "report.pdf"), "base64", 22,
              (None, ("ATTACHMENT", ("FILENAME", "report.pdf")), None, None)),
    ], "MIXED", ("BOUNDARY", "XYZ"))
    assert bodystructure_value(root, False) == (
        ("TEXT", "PLAIN", ("CHARSET", "utf-8"), None, None, "7BIT", 19, 0),
        ("APPLICATION", "PDF", ("NAME", "report.pdf"), None, None, "base64", 22),
        "MIXED",
    )
    assert_sections(data, root, {
        ((1,), ""): b"See the attachment.",
        ((1,), "MIME"): b"Content-Type: text/plain; charset=utf-8\r\n\r\n",
        ((2,), ""): b"JVBERi0xLjQK\r\nJSVFT0YK",
        ((2,), "MIME"): b'Content-Type: application/pdf; name="report.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="report.pdf"\r\n\r\n',
        ((3,), ""): None, ((0,), ""): None,
    })
    assert data[locate(root, (), "TEXT").start :].startswith(b"This is the preamble.\r\n--XYZ")
    assert data[locate(root, (), "TEXT").end - 23 :] == b"This is the epilogue.\r\n"


def test_alternative(corpus):
    data, root = corpus("04_alternative")
    qp = ("CHARSET", "iso-8859-1")
    assert bodystructure_value(root, True) == multi([
        text("PLAIN", 14, 0, qp, "quoted-printable"),
        text("HTML", 28, 0, qp, "quoted-printable"),
    ], "ALTERNATIVE", ("BOUNDARY", "alt1"))
    assert_sections(data, root, {
        ((1,), ""): b"Caf=E9 ouvert.", ((2,), ""): b"<p>Caf=E9 <b>ouvert</b>.</p>",
    })


def test_nested_messages_three_deep(corpus):
    data, root = corpus("05_nested_rfc822")
    deepest_env = env(None, "Level 3", (addr("deepest", "example.com"),))
    inner_env = env(None, "Level 2", (addr("inner", "example.com"),))
    middle_env = env(None, "Level 1", (addr("middle", "example.com"),))
    deepest = message(60, deepest_env, text("PLAIN", 13, 0), 3)
    inner = multi([text("PLAIN", 12, 0), deepest], "MIXED", ("BOUNDARY", "b2"))
    # the CRLF after "--b2--" stays in parts 2 and 2.1 when "--b0--" follows at once
    middle = message(219, inner_env, inner, 15)
    assert bodystructure_value(root, True) == multi(
        [text("PLAIN", 11, 0), message(295, middle_env, middle, 19)], "MIXED", ("BOUNDARY", "b0"))
    assert envelope_value(root) == env(None, "Level 0", (addr("outer", "example.com"),))
    deepest_msg = b"From: deepest@example.com\r\nSubject: Level 3\r\n\r\nDeepest body."
    inner_header = (b"From: inner@example.com\r\nSubject: Level 2\r\n"
                    b"Content-Type: multipart/mixed; boundary=b2\r\n\r\n")
    inner_text = (b"--b2\r\n\r\nInnermost A.\r\n--b2\r\nContent-Type: message/rfc822\r\n\r\n"
                  + deepest_msg + b"\r\n--b2--\r\n")
    middle_header = (b"From: middle@example.com\r\nSubject: Level 1\r\n"
                     b"Content-Type: message/rfc822\r\n\r\n")
    assert_sections(data, root, {
        ((1,), ""): b"Outer text.",
        ((2,), ""): middle_header + inner_header + inner_text,
        ((2,), "MIME"): b"Content-Type: message/rfc822\r\n\r\n",
        ((2,), "HEADER"): middle_header,
        ((2,), "HEADER.FIELDS"): middle_header,
        ((2,), "TEXT"): inner_header + inner_text,
        ((2, 1), ""): inner_header + inner_text,
        ((2, 1), "MIME"): middle_header,
        ((2, 1), "HEADER"): inner_header,
        ((2, 1), "TEXT"): inner_text,
        ((2, 1, 1), ""): b"Innermost A.",
        ((2, 1, 1), "MIME"): b"\r\n",
        ((2, 1, 2), ""): deepest_msg,
        ((2, 1, 2), "HEADER"): b"From: deepest@example.com\r\nSubject: Level 3\r\n\r\n",
        ((2, 1, 2), "TEXT"): b"Deepest body.",
        ((2, 1, 2, 1), ""): b"Deepest body.",
        ((2, 1, 2, 2), ""): None, ((2, 1, 3), ""): None, ((2, 2), ""): None,
        ((1,), "HEADER"): None, ((2, 1, 1), "TEXT"): None,
    })
    assert locate(root, (2,), "HEADER").header_only
    assert not locate(root, (2,), "TEXT").header_only


def test_rfc2231_continuations(corpus):
    data, root = corpus("06_rfc2231")
    assert bodystructure_value(root, True) == multi([
        # RFC 2231 continuations joined, charset not decoded (Dovecot's form)
        basic("APPLICATION", "OCTET-STREAM", ("NAME*", "UTF-8''R%C3%A9sum%C3%A9 of 2024.bin"),
              "7BIT", 10,
              (None, ("ATTACHMENT", ("SIZE", "12", "FILENAME", "very long file name.bin")),
               None, None)),
    ], "MIXED", ("BOUNDARY", "=_sep"))
    assert_sections(data, root, {((1,), ""): b"0123456789"})


def test_rfc2047_is_not_decoded_in_envelope(corpus):
    """RFC 3501 7.4.2: envelope strings are raw; clients decode RFC 2047 themselves."""
    _, root = corpus("07_rfc2047")
    andre = addr("PIRARD", "vm1.ulg.ac.be", "=?ISO-8859-1?Q?Andr=E9?= Pirard")
    assert envelope_value(root) == env(
        "Tue, 1 Mar 2022 08:00:00 +0000",
        "=?UTF-8?B?w6l0w6kgZMOpasOgIHZ1?= =?UTF-8?Q?_ici?=",  # unfolded
        (andre,), to=(addr("moore", "cs.utk.edu", "=?US-ASCII?Q?Keith_Moore?="),))


def test_group_syntax(corpus):
    _, root = corpus("08_group")
    assert envelope_value(root) == env(
        None, "Groups", (addr("chair", "example.org", "Chair, Program"),),
        to=((None, None, "A Group", None), addr("alpha", "example.org"),
            addr("beta", "example.org", "Beta B."), (None, None, None, None),
            (None, None, "undisclosed-recipients", None), (None, None, None, None)),
        cc=(addr("omega", "example.org"),))


def test_missing_content_type(corpus):
    data, root = corpus("09_no_content_type")
    assert bodystructure_value(root, True) == text("PLAIN", 28, 1)
    assert_sections(data, root, {((1,), ""): b"Plain old RFC 822 message.\r\n"})


def test_missing_final_boundary(corpus):
    data, root = corpus("10_missing_final_boundary")
    assert bodystructure_value(root, False) == (
        ("TEXT", "PLAIN", ASCII, None, None, "7BIT", 6, 0),
        ("TEXT", "PLAIN", ASCII, None, None, "7BIT", 23, 1),
        "MIXED",
    )
    assert_sections(data, root, {((1,), ""): b"First.", ((2,), ""): b"Second, never closed.\r\n"})
    assert root.children[1].end == root.end == len(data)


def test_zero_length_body(corpus):
    data, root = corpus("11_zero_length_body")
    assert bodystructure_value(root, True) == text("PLAIN", 0, 0)
    assert_sections(data, root, {((), "TEXT"): b"", ((1,), ""): b"", ((), "HEADER"): data})


def test_header_without_blank_line(corpus):
    data, root = corpus("17_header_no_blank")
    assert envelope_value(root)[1] == "Header only"
    assert bodystructure_value(root, False) == ("TEXT", "PLAIN", ASCII, None, None, "7BIT", 0, 0)
    assert_sections(data, root, {((), "HEADER"): data, ((), "TEXT"): b""})


def test_utf8_headers(corpus):
    """RFC 6532: UTF-8 in header values comes out as str (sent as a literal)."""
    data, root = corpus("12_utf8_headers")
    assert envelope_value(root) == env(
        None, "Grüße aus Köln", (addr("jöran", "exämple.de", "Jöran Müller"),),
        to=(addr("zoe", "example.com", "Zoë"),))
    assert bodystructure_value(root, False) == (
        "TEXT", "PLAIN", ("CHARSET", "utf-8"), None, None, "8bit", 18, 1)
    assert_sections(data, root, {((1,), ""): "Schöne Grüße.\r\n".encode()})


def test_non_utf8_header_octets_are_bytes(corpus):
    _, root = corpus("18_latin1_header")
    envelope = envelope_value(root)
    assert envelope[1] == b"caf\xe9"
    assert envelope[2] == ((b"Ren\xe9", None, "rene", "example.fr"),)
    assert loads(dumps(root)) == root


def test_digest_defaults_to_message(corpus):
    """RFC 2046 5.1.5: in multipart/digest the default type is message/rfc822."""
    data, root = corpus("13_digest")
    first = message(45, env(None, "First", (addr("one", "example.com"),)), text("PLAIN", 4, 0), 3)
    assert bodystructure_value(root, True) == multi(
        [first, text("PLAIN", 14, 0)], "DIGEST", ("BOUNDARY", "dg"))
    assert_sections(data, root, {
        ((1,), ""): b"From: one@example.com\r\nSubject: First\r\n\r\nOne.",
        ((1,), "MIME"): b"\r\n",
        ((1,), "TEXT"): b"One.",
        ((1, 1), ""): b"One.",
        ((2,), ""): b"Not a message.",
    })


def test_nested_multipart_with_preamble_and_epilogue(corpus):
    data, root = corpus("14_nested_multipart")
    alt = multi([text("PLAIN", 5, 0), text("HTML", 11, 0)], "ALTERNATIVE", ("BOUNDARY", "inner"))
    png = basic("IMAGE", "PNG", None, "base64", 12)
    assert bodystructure_value(root, True) == multi([alt, png], "MIXED", ("BOUNDARY", "outer"))
    assert_sections(data, root, {
        ((1,), ""): b"--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\n"
        b"Content-Type: text/html\r\n\r\n<b>html</b>\r\n--inner--\r\ninner epilogue",
        ((1,), "MIME"): b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n",
        ((1, 1), ""): b"plain", ((1, 2), ""): b"<b>html</b>", ((2,), ""): b"iVBORw0KGgo=",
        ((1, 3), ""): None, ((2, 1), ""): None,
    })


def test_address_edge_cases(corpus):
    """Comment as name, empty Sender (-> From), source route, missing domain, ``<>``."""
    _, root = corpus("15_addresses")
    gray = addr("gray", "cac.washington.edu", "Terry Gray")
    assert envelope_value(root) == env(
        None, "", (gray,), None,
        (addr("user", "final.example", adl="@relay.example,@hub.example"),),
        (addr("localonly", "MISSING_DOMAIN"), addr("odd local", "example.com", 'Q "Quote" Name')),
        bcc=(addr("MISSING_MAILBOX", "MISSING_DOMAIN"),), in_reply_to="<parent@example.com>")


def test_multipart_without_boundary_has_no_parts(corpus):
    """A multipart without its required boundary (RFC 2046 5.1.1) stays a multipart
    whose one part is empty, as Dovecot shows it; its text is the raw body."""
    data, root = corpus("16_multipart_no_boundary")
    assert bodystructure_value(root, False) == (
        ("TEXT", "PLAIN", ASCII, None, None, "7BIT", 0, 0), "MIXED")
    assert_sections(data, root, {((1,), ""): b"", ((1,), "MIME"): b"", ((2,), ""): None,
                                 ((1, 1), ""): None,
                                 ((), "TEXT"): b"--something\r\nnot parsed as parts\r\n"})


def test_empty_parts(corpus):
    data, root = corpus("19_empty_parts")
    empty = text("PLAIN", 0, 0)
    assert bodystructure_value(root, True) == multi(
        [empty, empty, empty], "MIXED", ("BOUNDARY", "E"))
    assert_sections(data, root, {
        # an empty body before a delimiter: the blank line's CRLF is the delimiter's
        ((1,), ""): b"", ((1,), "MIME"): b"", ((2,), "MIME"): b"",
        ((3,), "MIME"): b"Content-Type: text/plain\r\n", ((3,), ""): b"",
    })


def test_extension_fields(corpus):
    data, root = corpus("20_extension_fields")
    html = text("HTML", 31, 0, ("CHARSET", "us-ascii"),
                ext=("Q2hlY2sgSW50ZWdyaXR5IQ==", ("INLINE", None), ("en", "de"), "page.html"),
                pid="<body@example.com>", desc="The page")
    gif = basic("IMAGE", "GIF", None, "BASE64", 20, pid="<img@example.com>")
    assert bodystructure_value(root, True) == multi(
        [html, gif], "RELATED", ("BOUNDARY", "rel", "TYPE", "text/html"),
        (None, ("en",), "http://example.com/"))
    assert bodystructure_value(root, False) == (
        ("TEXT", "HTML", ("CHARSET", "us-ascii"), "<body@example.com>", "The page", "7BIT", 31, 0),
        ("IMAGE", "GIF", None, "<img@example.com>", None, "BASE64", 20),
        "RELATED",
    )
    assert_sections(data, root, {((1,), ""): b'<img src="cid:img@example.com">',
                                 ((2,), ""): b"R0lGODlhAQABAAAAACw="})


def test_encoded_message_rfc822_is_parsed_in_place(corpus):
    """A base64 message/rfc822 is parsed as is (as Dovecot does): its text is a header
    without fields, so NIL envelope fields and an empty body."""
    data, root = corpus("21_rfc822_base64")
    empty_env = (None,) * 10
    assert bodystructure_value(root, False) == (
        "MESSAGE", "RFC822", None, None, None, "base64", 26, empty_env,
        ("TEXT", "PLAIN", ASCII, None, None, "7BIT", 0, 0), 1)
    assert_sections(data, root, {((1,), ""): b"RnJvbTogeEB5Cgpib2R5Cg==\r\n",
                                 ((1,), "HEADER"): b"RnJvbTogeEB5Cgpib2R5Cg==\r\n",
                                 ((1, 1), ""): b"", ((1, 2), ""): None})


ALL = sorted(p.stem for p in CORPUS.glob("*.eml"))


@pytest.mark.parametrize("name", ALL)
def test_invariants(corpus, name):
    """For every corpus message: dumps/loads round trip, octets == section length,
    children nested inside their parent, and whole-message section == the file."""
    data, root = corpus(name)
    assert loads(dumps(root)) == root
    assert locate(root, (), "") == Section(0, len(data), False)
    for part in root.walk():
        assert part.header_start <= part.body_start <= part.end
        for child in part.children:
            assert part.body_start <= child.header_start and child.end <= part.end


def assert_sections(data, root, expected):
    for (path, spec), want in expected.items():
        section = locate(root, path, spec)
        if want is None:
            assert section is None, (path, spec)
        else:
            assert section is not None, (path, spec)
            assert data[section.start : section.end] == want, (path, spec)


def test_address_comments_groups_and_nested_message_id(corpus):
    """Issue 16: a route-addr with comments parses to ``user-from@domain.org``; a field
    that starts with a group sorts by its first ENVELOPE address, the group's start
    marker, whose mailbox is the group name (RFC 5256 section 3); and the Message-ID of
    the encapsulated message has the same form in the nested ENVELOPE as the top-level
    one has in its own (the field's value, unfolded and trimmed)."""
    _, root = corpus("66_address_comments_group")
    top = envelope_value(root)
    assert top[2] == (addr("user-from", "domain.org"),)
    assert top[5] == (addr("user2", None), addr("blah", "domain1.org"), addr(None, None),
                      addr("zed", "example.org"))
    assert top[9] == "<top.id@example.org>  (top comment)"
    nested = bodystructure_value(root, False)[1][7]
    assert nested == envelope_value(root.children[1].children[0])
    assert nested[9] == "<nested.id@example.org>  (inner comment)"
    values = sort_values([("FROM", False), ("TO", False), ("CC", False)], root,
                         datetime(2023, 3, 14, tzinfo=UTC), 0)
    assert values == (b"USER-FROM", b"USER2", b"UNDISCLOSED")  # i;unicode-casemap
