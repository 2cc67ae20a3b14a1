"""The SEARCH battery of the differential test: every key of RFC 3501 section 6.4.4,
on values taken from the corpus (decoded RFC 2047 words, QP/base64 bodies, charsets),
plus nested OR/NOT/parentheses, sequence and UID sets and CHARSET handling.

A query is a tuple of command pieces: ``str`` is sent as is, ``bytes`` as a literal
(used for non-ASCII strings with CHARSET UTF-8).
"""

from __future__ import annotations

Query = tuple[bytes | str, ...]

FLAG_KEYS = [
    "ALL", "ANSWERED", "UNANSWERED", "DELETED", "UNDELETED", "DRAFT", "UNDRAFT", "FLAGGED",
    "UNFLAGGED", "SEEN", "UNSEEN", "RECENT", "NEW", "OLD", "KEYWORD $Important",
    "KEYWORD work", "KEYWORD WORK", "KEYWORD $Junk", "UNKEYWORD work", "KEYWORD nothere",
    "UNKEYWORD nothere", "UNKEYWORD $Important",
]

SIZE_KEYS = [
    "LARGER 0", "LARGER 200", "LARGER 500", "LARGER 1000", "LARGER 5000", "LARGER 1000000",
    "SMALLER 100", "SMALLER 300", "SMALLER 1000", "SMALLER 100000000", "LARGER 300 SMALLER 600",
]

DATE_KEYS = [
    "BEFORE 01-Feb-2024", "BEFORE 15-Mar-2024", "ON 08-Jan-2024", "ON 15-Feb-2024",
    "ON 22-Mar-2024", "SINCE 01-Apr-2024", "SINCE 29-Feb-2024", "BEFORE 01-Jan-2000",
    "SINCE 01-Jan-2030", "ON 29-Apr-2024", "SENTON 07-Feb-2022", "SENTON 17-Jul-1996",
    "SENTBEFORE 01-Mar-2022", "SENTSINCE 01-Apr-2022", "SENTBEFORE 01-Jan-1990",
    "SENTON 27-Mar-2022", "SENTON 08-Mar-2022", "SENTON 06-Apr-2022", "SENTSINCE 01-May-2022",
    "SENTON 11-Mar-2022", "SENTON 05-Apr-2022", "SENTBEFORE 08-Mar-2022 SENTSINCE 01-Mar-2022",
]

HEADER_KEYS = [
    'SUBJECT hello', 'SUBJECT "Fwd: Fwd:"', 'SUBJECT original', 'SUBJECT "UPPER CASE"',
    'SUBJECT upper', 'SUBJECT "second subject"', 'SUBJECT "first subject"', 'SUBJECT ""',
    'SUBJECT haystack', 'SUBJECT "RFC 2231"', 'SUBJECT "smile"', 'SUBJECT "with language"',
    'SUBJECT zzz-not-there', 'SUBJECT "folded"', 'SUBJECT "across three"', 'SUBJECT "Re:"',
    'SUBJECT "prices"', 'SUBJECT attachment',
    'FROM alice', 'FROM "Alice Example"', 'FROM example.org', 'FROM gray', 'FROM "Terry Gray"',
    'FROM elodee', 'FROM "@shop.example"', 'FROM "john.doe"', 'FROM first@example.org',
    'FROM second@example.org', 'FROM nobody-here', 'FROM ""', 'FROM MAILER-DAEMON',
    'FROM "Mail Delivery"', 'FROM upper@example.org', 'FROM "Search Target"',
    'TO bob', 'TO "undisclosed-recipients"', 'TO friends', 'TO ann@example.org', 'TO bjork',
    'TO vasya', 'TO "b@example.org"', 'TO esc@example.com', 'TO "192.0.2.1"', 'TO ""',
    'TO someone', 'TO imap@cac.washington.edu',
    'CC minutes', 'CC "John Klensin"', 'CC yamada', 'CC copy@search.example', 'CC team',
    'CC mary', 'CC ""', 'BCC hidden', 'BCC secret', 'BCC ""', 'BCC nobody',
    'HEADER X-Tag alpha', 'HEADER X-Tag beta', 'HEADER X-TAG ""', 'HEADER Message-ID needle',
    'HEADER X-Mailer ""', 'HEADER X-Mailer corpus', 'HEADER Received "from c by d"',
    'HEADER Content-Type multipart', 'HEADER content-type "text/plain"',
    'HEADER X-Long-Header hhhhhhhhhh', 'HEADER X-Priority highest', 'HEADER X-Empty ""',
    'HEADER In-Reply-To "<plain-1@example.org>"', 'HEADER References plain-1',
    'HEADER X-Nothing ""', 'HEADER MIME-Version 1.0', 'HEADER Content-Transfer-Encoding base64',
]

BODY_KEYS = [
    'BODY needle', 'BODY NEEDLE', 'BODY haystack', 'BODY hippopotamus', 'BODY zanzibar',
    'BODY kangaroo', 'BODY pelican', 'BODY zorgblat', 'BODY wintermelon', 'BODY ocelot',
    'BODY tortoise', 'BODY "half price"', 'BODY "SPLITWORD"', 'BODY "mixed case words"',
    'BODY "this is plain text"', 'BODY "Line two"', 'BODY "bottom of the well"',
    'BODY "Bare LF base64 text"', 'BODY "LONGLINEEND"', 'BODY "word011999"',
    'BODY "Weekly sync"', 'BODY "Reporting-MTA"', 'BODY "the lost one"', 'BODY "Innerer Text"',
    'BODY "partial body"', 'BODY "Hallo"', 'BODY "Subject"', 'BODY "From:"',
    'BODY "Content-Type"', 'BODY "no-such-word-anywhere"', 'BODY ""', 'BODY "buried treasure"',
    'BODY "Level one comment"', 'BODY "signed paragraph"', 'BODY "Minutes of the meeting"',
    'BODY "upper case everywhere"', 'BODY "Everything empty"', 'BODY "gigantosaurus"',
    'BODY "mastodon"',
    'TEXT needle', 'TEXT "X-Mailer"', 'TEXT "pyimapd corpus"', 'TEXT "target@search.example"',
    'TEXT zanzibar', 'TEXT "Subject: Hello"', 'TEXT "subject"', 'TEXT "alpha"',
    'TEXT "no-such-word-anywhere"', 'TEXT "message/rfc822"', 'TEXT "Received"', 'TEXT ""',
]

COMBINED = [
    "OR SEEN FLAGGED", "NOT SEEN", "NOT NOT SEEN", "OR (SEEN ANSWERED) DRAFT",
    "(OR SEEN DRAFT) (OR FLAGGED DELETED)", "NOT (FROM example.org SUBJECT hello)",
    "OR OR SEEN DRAFT OR FLAGGED KEYWORD work", "1:5", "3,7,9:11", "*", "60:*", "2:4 SEEN",
    "NOT 1:10", "UID 1:3", "UID 5,8,70:*", "OR UID 1 UID 4", "1:* UNDELETED",
    "OR BODY needle SUBJECT original", "NOT BODY needle", "(SUBJECT hello) (FROM alice)",
    "OR (LARGER 1000) (SMALLER 200)", "NOT OR SEEN UNSEEN", "SEEN NOT ANSWERED",
    "OR NEW RECENT", "NOT (OR (OR ANSWERED DRAFT) (OR FLAGGED DELETED))",
    "OR HEADER X-Tag alpha HEADER X-Priority 1", "SINCE 01-Feb-2024 BEFORE 01-Mar-2024",
    "NOT (SENTSINCE 01-Jan-2022)", "OR SENTON 07-Feb-2022 SENTON 17-Jul-1996",
    "(((SEEN)))",
    # Issue 16's query that missed 6 of Dovecot's 47 messages.
    'SUBJECT "re" NOT SUBJECT "fwd" OR FLAGGED KEYWORD project-x',
    "FROM user-from@domain.org", "TO blah@domain1.org", "CC carol@example.net",
]


def _utf8(key: str, value: str) -> Query:
    return ("SEARCH CHARSET UTF-8 " + key + " ", value.encode("utf-8"))


CHARSET_QUERIES: list[Query] = [
    _utf8("SUBJECT", "Café"), _utf8("SUBJECT", "café"), _utf8("SUBJECT", "CAFÉ"),
    _utf8("SUBJECT", "€uro"), _utf8("SUBJECT", "日本語"), _utf8("SUBJECT", "Grüße"),
    _utf8("SUBJECT", "γειά σου"), _utf8("SUBJECT", "été déjà"), _utf8("SUBJECT", "Résumé"),
    _utf8("SUBJECT", "– 50%"), _utf8("FROM", "Élodée"), _utf8("FROM", "张三"),
    _utf8("FROM", "Δημήτρης"), _utf8("FROM", "Jöran"), _utf8("TO", "Björk"),
    _utf8("TO", "Вася"), _utf8("TO", "Gruppe"), _utf8("CC", "山田太郎"), _utf8("CC", "山田"),
    _utf8("BODY", "Déjà vu"), _utf8("BODY", "crème brûlée"), _utf8("BODY", "Ümlaut"),
    _utf8("BODY", "こんにちは"), _utf8("BODY", "Schöne Grüße"), _utf8("BODY", "café"),
    _utf8("BODY", "Åsa"), _utf8("BODY", "5€"), _utf8("TEXT", "Καλημέρα"),
    _utf8("HEADER X-Mixed", "encodedadjacent"), _utf8("HEADER Content-Description", "ä"),
    ("SEARCH CHARSET US-ASCII SUBJECT hello",), ("SEARCH CHARSET us-ascii BODY needle",),
    ("SEARCH CHARSET UTF-8 SUBJECT hello",), ("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x",),
]


def queries() -> list[Query]:
    plain = FLAG_KEYS + SIZE_KEYS + DATE_KEYS + HEADER_KEYS + BODY_KEYS + COMBINED
    out: list[Query] = [("SEARCH " + key,) for key in plain]
    out += [("UID SEARCH " + key,) for key in ("ALL", "SEEN", "SUBJECT hello", "BODY needle")]
    return out + CHARSET_QUERIES


SORT_QUERIES = [
    f"SORT ({criteria}) UTF-8 {key}"
    for criteria in ("ARRIVAL", "DATE", "SIZE", "SUBJECT", "FROM", "TO", "CC",
                     "REVERSE DATE", "FROM DATE", "REVERSE SIZE SUBJECT", "CC REVERSE ARRIVAL",
                     "DISPLAYFROM", "DISPLAYTO", "REVERSE DISPLAYFROM DATE")
    for key in ("ALL", "NOT SEEN")
] + ["UID SORT (SUBJECT DATE) UTF-8 ALL", "SORT (DATE) US-ASCII SUBJECT hello"]
"""SORT (RFC 5256) over the whole corpus: every key, REVERSE, ties broken by sequence
number, the UID form."""
