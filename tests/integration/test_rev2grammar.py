"""The rev2 grammar parser on its own: responses from RFC 9051's examples (and the
extensions' RFCs) parse, and near misses fail at the offending byte, so the client test's
"every line parses" can fail."""

from __future__ import annotations

import pytest

from integration.rev2grammar import GrammarError, parse

BODYSTRUCTURE = (
    b'* 12 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152'
    b' 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac'
    b'.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED"))')
ENVELOPE = (
    b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286'
    b' ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minut'
    b'es" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.wa'
    b'shington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac'
    b'.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSI'
    b'N" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("C'
    b'HARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))')

GOOD = [
    b"* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI] Server ready",
    b"* PREAUTH IMAP4rev2 server logged in as Smith",
    b"* BYE Autologout; idle for too long",
    b"a002 OK [READ-WRITE] SELECT completed",
    b"a OK ",
    b"+ Ready for additional command text",
    b"+ ",
    b"* CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED",
    b"* ENABLED IMAP4rev2 UTF8=ACCEPT",
    b"* ENABLED",
    b"* 172 EXISTS",
    b"* 44 EXPUNGE",
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)",
    b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited",
    b"* OK [UIDVALIDITY 3857529045] UIDs valid",
    b"* OK [UIDNEXT 4392] Predicted next UID",
    b"* OK [HIGHESTMODSEQ 715194045007] Highest",
    b"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences",
    b"* OK [CLOSED] Previous mailbox is now closed",
    b"* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok",
    b"A003 OK [APPENDUID 38505 3955] APPEND completed",
    b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done",
    b"a NO [TRYCREATE] No such mailbox",
    b"a NO [CANNOT] UTF8=ACCEPT is not enabled",
    b"a OK [SOMETHING-NEW some argument] generic code",
    b'* LIST (\\Noselect) "/" ~/Mail/foo',
    b'* LIST () "." INBOX.Sent',
    b'* LIST (\\Marked \\NoInferiors) NIL "inbox"',
    b'* LIST (\\Subscribed) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
    b'* LIST () "/" "NewName" ("OLDNAME" ("OldName"))',
    '* LIST (\\HasNoChildren) "/" "Entwürfe"'.encode(),
    b'* LIST () "/" {4}\r\nab\xc3\xa9',
    b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)",
    b'* STATUS "a b" (MESSAGES 0 SIZE 0 DELETED 0 HIGHESTMODSEQ 0 MAILBOXID (Fx1))',
    b'* ESEARCH (TAG "A282") MIN 2 COUNT 3',
    b'* ESEARCH (TAG "A283") UID ALL 4:19,21,28',
    b'* ESEARCH (TAG "A284") UID',
    b"* ESEARCH UID COUNT 0",
    b'* ESEARCH (TAG "a" MAILBOX "folder1" UIDVALIDITY 1) UID ALL 3001:3004,3788 MODSEQ 90',
    b'* ESEARCH (TAG "t") UID PARTIAL (-1:-100 200:250,252:300)',
    b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")("#public/" "/"))',
    b'* NAMESPACE (("" "/" "X-PARAM" ("FLAG1" "FLAG2"))) NIL NIL',
    BODYSTRUCTURE,
    ENVELOPE,
    b"* 2 FETCH (FLAGS (\\Deleted \\Seen $Junk) UID 4827313 MODSEQ (65402))",
    b"* 1 FETCH (EMAILID (M6d99ac3275bb4e) THREADID NIL PREVIEW \"Hello there\")",
    b"* 1 FETCH (THREADID (T64b478a75b7ea9) PREVIEW NIL SAVEDATE NIL)",
    b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT DATE)] {5}\r\nab\r\n\r UID 3)",
    b"* 1 FETCH (BODY[1.MIME] NIL BODY[]<0> \"x\" BODY[TEXT] \"\")",
    b"* 1 FETCH (BINARY[1] ~{3}\r\na\x00b BINARY.SIZE[2] 7)",
    b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540",
    b"* VANISHED 405,407,410",
    b'* 3 FETCH (ENVELOPE (NIL "caf\xc3\xa9" NIL NIL NIL NIL NIL NIL NIL NIL))',
    (b'* 1 FETCH (BODYSTRUCTURE ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 20 (NIL NIL NIL NIL'
     b' NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 2 1) 2 NIL ("inline"'
     b' ("FILENAME" "a")) ("EN" "FR") "loc" 12 ("x" (1 2))))'),
]

BAD = [
    (b"* 5 RECENT", 2),  # obsolete-recent-response: a rev1 server's
    (b"* SEARCH 2 3 6", 2),  # obsolete-search-response
    (b"* 1 FETCH (FLAGS (\\Seen \\Recent))", 24),
    (b"* STATUS INBOX (RECENT 1)", 16),
    (b"* OK [UNSEEN 12] Message 12 is first unseen", 6),
    (b"* 1 FETCH (RFC822 {1}\r\nx)", 11),
    (b"* CAPABILITY IMAP4rev1 IDLE", 27),  # capability-data needs IMAP4rev2
    (b"a OK", 4),  # SP is required before resp-text
    (b"a OK [READ-WRITE]", 17),  # a code must be followed by SP
    (b"a MAYBE done", 2),
    (b"+", 1),
    (b"* OK [UIDNEXT 0] zero", 14),
    (b"* OK [UIDVALIDITY x] bad", 18),
    (b"a OK [APPENDUID 1] no uid", 17),
    (b"* 0 EXPUNGE", 2),
    (b"* 00 FETCH (UID 1)", 2),
    (b"* 1 FETCH (UID 0)", 15),
    (b"* 1 FETCH ()", 11),
    (b"* 1 FETCH (UID 1 UID 1)", 17),
    (b"* 1 FETCH (UID 1) ", 17),
    (b'* LIST (\\Noselect \\Marked) "/" x', 7),
    (b'* LIST () "//" x', 12),
    (b'* LIST () "/" ab\xff', 16),
    (b'* LIST () "/" "a\\b"', 16),
    (b'* LIST () "/" "a\r\nb"', 16),
    (b'* LIST () "/" {3+}\r\nabc', 16),
    (b'* LIST () "/" {5}\r\nabc', 19),
    (b"* ESEARCH UID ALL 1:*", 20),
    (b"* ESEARCH MIN 0", 14),
    (b'* ESEARCH (TAG "a" MAILBOX "m") UID', 30),
    (b"* 1 FETCH (INTERNALDATE \"17-Jul-96 02:44:25 -0700\")", 24),
    (b"* 1 FETCH (EMAILID (M!))", 21),
    (b"* 1 FETCH (BODY[1.HEADR] NIL)", 18),
    (b'* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))', 56),
    (b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 2))', 61),
    (b"* 1 FETCH (BINARY[1.MIME] NIL)", 19),
    (b"* NAMESPACE (()) NIL NIL", 14),
    (b"* VANISHED 1:*", 13),
    (b"* ENABLED (x)", 10),
    (b"* FROB 1", 2),
]


@pytest.mark.parametrize("line", GOOD, ids=range(len(GOOD)))
def test_good(line: bytes) -> None:
    parse(line, greeting=line.startswith(b"* PREAUTH"))


@pytest.mark.parametrize(("line", "pos"), BAD, ids=range(len(BAD)))
def test_bad_fails_where_it_goes_wrong(line: bytes, pos: int) -> None:
    with pytest.raises(GrammarError) as err:
        parse(line)
    assert err.value.pos == pos, str(err.value)


def test_preauth_only_in_a_greeting() -> None:
    with pytest.raises(GrammarError):
        parse(b"* PREAUTH logged in")


def test_values_come_back() -> None:
    fetch = parse(ENVELOPE)
    assert fetch.kind == "FETCH" and fetch.data["seq"] == 12
    items = fetch.data["items"]
    assert items["FLAGS"] == ["\\Seen"] and items["RFC822.SIZE"] == 4286
    assert items["ENVELOPE"]["to"] == [(None, None, b"imap", b"cac.washington.edu")]
    struct = parse(BODYSTRUCTURE).data["items"]["BODYSTRUCTURE"]
    assert struct["subtype"] == "MIXED" and [p["octets"] for p in struct["parts"]] == [
        1152, 4554]
    multi = parse(b'* ESEARCH (TAG "a" MAILBOX "f" UIDVALIDITY 7) UID ALL 1:2 COUNT 2').data
    assert (multi["mailbox"], multi["uidvalidity"], multi["uid"]) == ("f", 7, True)
    assert multi["returns"] == {"ALL": "1:2", "COUNT": 2}
    tagged = parse(b"A3 OK [COPYUID 5 1:2 7:8] Moved")
    assert tagged.data["code_data"] == (5, "1:2", "7:8")
    status = parse(b"* STATUS x (MESSAGES 2 SIZE 99)").data["attributes"]
    assert status == {"MESSAGES": 2, "SIZE": 99}
    assert parse(b'* LIST () "/" {2}\r\nab').data["mailbox"] == "ab"
