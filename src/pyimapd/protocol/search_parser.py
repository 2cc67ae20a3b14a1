"""SEARCH keys (RFC 3501 section 6.4.4) to the tree of :mod:`pyimapd.search.ast`.

``search = "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key)``. Keys are read by
recursive descent; NOT, OR and parentheses nest, so the depth is bounded
(:data:`MAX_DEPTH`) to keep a hostile command from exhausting the Python stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pyimapd.protocol import commands as c
from pyimapd.protocol.fetch_parser import parse_fetch_items
from pyimapd.protocol.grammar import ParseFailure, Reader
from pyimapd.search import ast
from pyimapd.search.fuzzy import fuzzify

MAX_DEPTH = 25
"""Deepest nesting of NOT / OR / parentheses accepted in one SEARCH. Real clients nest a
few levels; the bound also keeps the SQL the compiler writes within SQLite's parser
stack, which overflows near 35 nested ORs (found by tests/security/test_battery.py)."""

MAX_STRING = 4096
"""Longest SEARCH string, in characters after decoding. Each string is matched against
every candidate message's text (up to 32 MiB of it); the stores match in linear time,
but PostgreSQL compiles a long needle into a regular expression whose compile time
grows with the square of its length (2 ms at 2,000 characters, 180 ms at 10,000).
Clients send words and phrases; nothing real comes near this."""

MAX_STRINGS = 100
"""Most string arguments (of BODY, TEXT, HEADER and its short forms) in one SEARCH. Each is
a pass over a message's text, and a 1 MiB command could otherwise hold 150,000 of them
(``BODY b`` repeated): 150,000 scans of every message."""

_KEY_NAME = re.compile(rb"[A-Za-z]+")

_FLAG_KEYS: dict[str, ast.SearchKey] = {
    "ALL": ast.All(),
    "ANSWERED": ast.Flag("\\Answered"),
    "DELETED": ast.Flag("\\Deleted"),
    "DRAFT": ast.Flag("\\Draft"),
    "FLAGGED": ast.Flag("\\Flagged"),
    "SEEN": ast.Flag("\\Seen"),
    "UNANSWERED": ast.Flag("\\Answered", False),
    "UNDELETED": ast.Flag("\\Deleted", False),
    "UNDRAFT": ast.Flag("\\Draft", False),
    "UNFLAGGED": ast.Flag("\\Flagged", False),
    "UNSEEN": ast.Flag("\\Seen", False),
    "RECENT": ast.Recent(),
    # "NEW: Messages that have the \Recent flag set but not the \Seen flag."
    "NEW": ast.And((ast.Recent(), ast.Flag("\\Seen", False))),
    # "OLD: Messages that do not have the \Recent flag set."
    "OLD": ast.Not(ast.Recent()),
    # RFC 8514 section 4.3: every mailbox here keeps save dates.
    "SAVEDATESUPPORTED": ast.All(),
}
"""Keys without an argument."""

_HEADER_KEYS = frozenset({"BCC", "CC", "FROM", "SUBJECT", "TO"})
_DATE_KEYS: dict[
    str, tuple[type[ast.InternalDate] | type[ast.SaveDate] | type[ast.SentDate], str]
] = {
    "BEFORE": (ast.InternalDate, "before"),
    "ON": (ast.InternalDate, "on"),
    "SINCE": (ast.InternalDate, "since"),
    "SENTBEFORE": (ast.SentDate, "before"),
    "SENTON": (ast.SentDate, "on"),
    "SENTSINCE": (ast.SentDate, "since"),
    "SAVEDBEFORE": (ast.SaveDate, "before"),  # RFC 8514 section 4.3
    "SAVEDON": (ast.SaveDate, "on"),
    "SAVEDSINCE": (ast.SaveDate, "since"),
}


class _SearchReader:
    """Holds the reader, the charset used to decode strings, and the nesting depth."""

    __slots__ = ("r", "charset", "depth", "strings")

    def __init__(self, r: Reader, charset: str | None) -> None:
        self.r = r
        self.charset = charset
        self.depth = 0
        self.strings = 0

    def text(self, what: str) -> str:
        """A string argument: decoded with the CHARSET when Python knows it, else UTF-8;
        undecodable octets become U+FFFD (the session validates the charset itself)."""
        self.r.sp(what)
        raw = self.r.astring(what)
        self.strings += 1
        if self.strings > MAX_STRINGS:
            raise ParseFailure(f"Too many SEARCH strings: at most {MAX_STRINGS}")
        text = None
        if self.charset is not None:
            try:
                text = raw.decode(self.charset, "replace")
            except LookupError:
                pass
        if text is None:
            text = raw.decode("utf-8", "replace")
        if len(text) > MAX_STRING:
            raise ParseFailure(f"SEARCH string too long: at most {MAX_STRING} characters")
        return text

    def nested(self, parse: Callable[[], ast.SearchKey]) -> ast.SearchKey:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseFailure("SEARCH keys nested too deeply")
        try:
            return parse()
        finally:
            self.depth -= 1


def parse_search(r: Reader) -> tuple[ast.SearchKey, str | None]:
    """Everything after ``SEARCH`` [search-return-opts]:
    ``[SP "CHARSET" SP astring] 1*(SP search-key)``."""
    charset: str | None = None
    r.sp("search criteria")
    start = r.pos
    m = r.match(_KEY_NAME)
    if m is not None and m.group().upper() == b"CHARSET":
        r.sp("charset")
        charset = r.astring("charset").decode("ascii", "replace").upper()
        r.sp("search criteria")
    else:
        r.pos = start
    return _keys(r, charset), charset


_RETURN = re.compile(rb" RETURN (?=\()", re.IGNORECASE)
_PARTIAL_RANGE = re.compile(rb"(-?)([0-9]+):(-?)([0-9]+)(?=[ )]|$)")

SearchReturn = tuple[frozenset[str], c.PartialRange | None, tuple[c.FetchItem, ...]]
"""The result option names, the range of PARTIAL when it is one of them, and the fetch
attributes of UPDATE (RFC 5465 section 7: ``"UPDATE" ["(" fetch-att *(SP fetch-att)
")"]``, for the messages that join the context as new mail)."""
_SP_LIST = re.compile(rb" (?=\()")


def parse_search_return(r: Reader) -> SearchReturn | None:
    """``search-return-opts = SP "RETURN" SP "(" [search-return-opt
    *(SP search-return-opt)] ")"`` (RFC 4466 section 2.6), or None when absent. Of the
    options pyimapd knows (RFC 4731, RFC 5182, RFC 9394) only PARTIAL takes a
    parameter; the command checks the names."""
    if r.match(_RETURN) is None:
        return None
    r.char(b"(", "RETURN options")
    names: list[str] = []
    partial: c.PartialRange | None = None
    update: tuple[c.FetchItem, ...] = ()
    while r.peek() != 0x29:
        if names:
            r.sp("RETURN option")
        name = r.atom("RETURN option").decode("ascii").upper()
        if name == "PARTIAL":
            if partial is not None:
                raise ParseFailure("PARTIAL given twice")
            r.sp("partial range")
            partial = parse_partial_range(r)
        elif name == "UPDATE" and r.match(_SP_LIST):
            update = parse_fetch_items(r)
        names.append(name)
    r.pos += 1
    return frozenset(names), partial, update


def parse_partial_range(r: Reader) -> c.PartialRange:
    """``partial-range = partial-range-first / partial-range-last`` of RFC 9394 section
    4: two ``nz-number``s, both with ``MINUS`` or neither."""
    m = r.match(_PARTIAL_RANGE)
    if m is None:
        raise ParseFailure("Invalid partial range")
    first_sign, first, last_sign, last = m.groups()
    if first.startswith(b"0") or last.startswith(b"0") or first_sign != last_sign:
        raise ParseFailure("Invalid partial range")
    if len(first) > 10 or len(last) > 10 or max(int(first), int(last)) > c.MAX_PARTIAL:
        raise ParseFailure("Number too large in partial range")
    sign = -1 if first_sign else 1
    return c.PartialRange(sign * int(first), sign * int(last))


def parse_sort(r: Reader) -> tuple[tuple[tuple[str, bool], ...], ast.SearchKey, str]:
    """Everything after ``SORT``: ``SP sort-criteria SP search-criteria`` with
    ``sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`` and
    ``sort-criterion = ["REVERSE" SP] sort-key`` (RFC 5256 section 5). The command
    checks the key names."""
    r.sp("sort criteria")
    r.char(b"(", "sort criteria")
    criteria: list[tuple[str, bool]] = []
    while True:
        name = r.atom("sort criterion").decode("ascii").upper()
        reverse = name == "REVERSE"
        if reverse:
            r.sp("sort key after REVERSE")
            name = r.atom("sort key").decode("ascii").upper()
        criteria.append((name, reverse))
        if r.peek() != 0x20:
            break
        r.pos += 1
    r.char(b")", "sort criteria")
    key, charset = parse_criteria(r)
    return tuple(criteria), key, charset


def parse_thread(r: Reader) -> tuple[str, ast.SearchKey, str]:
    """Everything after ``THREAD``: ``SP thread-alg SP search-criteria`` (RFC 5256)."""
    r.sp("threading algorithm")
    algorithm = r.atom("threading algorithm").decode("ascii").upper()
    key, charset = parse_criteria(r)
    return algorithm, key, charset


def parse_criteria(r: Reader) -> tuple[ast.SearchKey, str]:
    """``SP search-criteria``; ``search-criteria = charset 1*(SP search-key)``,
    ``charset = atom / quoted`` (RFC 5256 section 5): the charset is not optional."""
    r.sp("charset")
    raw = r.quoted("charset") if r.peek() == 0x22 else r.atom("charset")
    charset = raw.decode("ascii", "replace").upper()
    r.sp("search criteria")
    return _keys(r, charset), charset


def _keys(r: Reader, charset: str | None) -> ast.SearchKey:
    """``1*(SP search-key)`` after its first SP: the AND of the keys."""
    sr = _SearchReader(r, charset)
    keys = [_search_key(sr)]
    while not r.at_end():
        if r.peek() == 0x29:
            raise ParseFailure("Unbalanced parentheses in SEARCH")
        r.sp("search key")
        keys.append(_search_key(sr))
    return keys[0] if len(keys) == 1 else ast.And(tuple(keys))


def _search_key(sr: _SearchReader) -> ast.SearchKey:
    """``search-key``: a named key, a sequence set, or ``"(" search-key *(SP ...) ")"``."""
    r = sr.r
    c = r.peek()
    if c == 0x28:
        return sr.nested(lambda: _key_list(sr))
    if c == 0x2A or c == 0x24 or 0x30 <= c <= 0x39:
        return ast.SeqSet(r.sequence_set())
    m = r.match(_KEY_NAME)
    if m is None:
        raise ParseFailure("Missing search key" if r.at_end() or r.at_literal()
                           else "Invalid search key")
    return _named_key(sr, m.group().upper().decode("ascii"))


def _key_list(sr: _SearchReader) -> ast.SearchKey:
    r = sr.r
    r.pos += 1  # "("
    keys = [_search_key(sr)]
    while r.peek() == 0x20:
        r.pos += 1
        keys.append(_search_key(sr))
    if r.peek() != 0x29:
        raise ParseFailure("Unbalanced parentheses in SEARCH")
    r.pos += 1
    return keys[0] if len(keys) == 1 else ast.And(tuple(keys))


def _named_key(sr: _SearchReader, name: str) -> ast.SearchKey:
    """The keys of RFC 3501 section 6.4.4 that start with a name."""
    r = sr.r
    simple = _FLAG_KEYS.get(name)
    if simple is not None:
        return simple
    if name in _HEADER_KEYS:
        return ast.Header(name, sr.text(name))
    date_key = _DATE_KEYS.get(name)
    if date_key is not None:
        r.sp(f"date for {name}")
        return date_key[0](date_key[1], r.date())
    return _argument_key(sr, name)


def _argument_key(sr: _SearchReader, name: str) -> ast.SearchKey:
    r = sr.r
    if name == "HEADER":
        r.sp("header field name")
        field = r.astring("header field name").decode("ascii", "replace").upper()
        return ast.Header(field, sr.text("header value"))
    if name in ("BODY", "TEXT"):
        value = sr.text(name)
        return ast.Body(value) if name == "BODY" else ast.Text(value)
    if name in ("KEYWORD", "UNKEYWORD"):
        r.sp("keyword")
        # flag-keyword = atom: system flags cannot be given here
        keyword = r.atom("keyword").decode("ascii")
        return ast.Flag(keyword, name == "KEYWORD")
    if name in ("LARGER", "SMALLER"):
        r.sp(f"size for {name}")
        return ast.Size(name == "LARGER", r.number(f"size for {name}"))
    if name == "UID":
        r.sp("UID set")
        return ast.UidSet(r.sequence_set())
    if name == "MODSEQ":
        return _modseq_key(r)
    if name in ("EMAILID", "THREADID"):
        # search-key =/ ("EMAILID" / "THREADID") SP objectid (RFC 8474 section 7)
        r.sp(f"objectid for {name}")
        value = r.atom(f"objectid for {name}").decode("ascii", "replace")
        if not _OBJECTID.fullmatch(value):
            raise ParseFailure(f"Invalid objectid for {name}")
        return ast.ObjectId(name, value)
    if name in ("OLDER", "YOUNGER"):
        # search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number (RFC 5032 section 3)
        r.sp(f"interval for {name}")
        return ast.Within(name == "OLDER", r.number(f"interval for {name}", nonzero=True))
    if name == "FUZZY":
        # search-key =/ "FUZZY" SP search-key (RFC 6203 section 6)
        r.sp("search key after FUZZY")
        return fuzzify(sr.nested(lambda: _search_key(sr)))
    if name == "NOT":
        r.sp("search key after NOT")
        return ast.Not(sr.nested(lambda: _search_key(sr)))
    if name == "OR":
        return sr.nested(lambda: _or_key(sr))
    raise ParseFailure(f"Unknown search key {name}")


_ENTRY_TYPES = frozenset({b"PRIV", b"SHARED", b"ALL"})
_OBJECTID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _modseq_key(r: Reader) -> ast.SearchKey:
    """``"MODSEQ" [search-modsequence-ext] SP mod-sequence-valzer``;
    ``search-modsequence-ext = SP entry-name SP entry-type-req`` (RFC 7162 section 7).
    The entry is checked and then ignored, as section 3.1.5 asks of a server with one
    mod-sequence per message."""
    r.sp("MODSEQ value")
    if r.peek() == 0x22:
        r.quoted("MODSEQ entry name")
        r.sp("MODSEQ entry type")
        if r.atom("MODSEQ entry type").upper() not in _ENTRY_TYPES:
            raise ParseFailure("Invalid MODSEQ entry type: expected priv, shared or all")
        r.sp("MODSEQ value")
    return ast.Modseq(r.mod_sequence("MODSEQ value", zero=True))


def _or_key(sr: _SearchReader) -> ast.SearchKey:
    """``"OR" SP search-key SP search-key``."""
    sr.r.sp("search key after OR")
    left = _search_key(sr)
    sr.r.sp("second search key of OR")
    return ast.Or(left, _search_key(sr))
