"""FUZZY (RFC 6203): what an inexact match is here, and the relevancy score of a match.

How this works: a fuzzy string key matches a message when enough of the needle's
trigrams occur in the text the exact key would look at. The trigrams are the
three-character windows of each run of letters and digits of the casefolded needle
(``"helo wrld"`` gives ``hel elo wrl rld``), the units both full-text indexes keep
(SQLite's FTS5 trigram tokenizer, PostgreSQL's pg_trgm, which takes them from words
only), so that a typo, a missing letter or a different word order still finds the
message. The score is the share of those trigrams present, 0 to 100, and the message
matches at :data:`THRESHOLD` or more: an exact match has every trigram and scores 100,
so a fuzzy key finds everything its exact key finds. A needle with no trigram (under
three letters or digits in a row) is matched exactly. One definition serves the
reference evaluator and the SQL compiler (``pyimapd_fuzzy`` in both databases).

RFC 6203 leaves the score to the server ("implementation-defined"); here a message that
a key matches without FUZZY scores 100 for it, AND takes the lowest score of its keys,
OR the highest of those that match, and NOT 100.

Only the string keys (BODY, TEXT, SUBJECT, FROM, TO, CC, BCC, HEADER) can be inexact:
:func:`fuzzify` pushes FUZZY down to them through NOT, OR and lists, and drops it on the
others (SEEN, LARGER, ...), which have no inexact reading.
"""

from __future__ import annotations

import re

from pyimapd.search import ast

THRESHOLD = 50
"""The least score (percent of the needle's trigrams found) that is a match."""
MAX_GRAMS = 24
"""Trigrams kept of a long needle (its first ones): enough to tell texts apart, and a
bound on the per-row work and on the index filter's size (:func:`filter_grams`)."""

_RUN = re.compile(r"[^\W_]+")


def grams(needle: str) -> tuple[str, ...]:
    """The distinct trigrams of the (casefolded) needle, in order of first occurrence."""
    found: dict[str, None] = {}
    for run in _RUN.findall(needle):
        for i in range(len(run) - 2):
            found[run[i:i + 3]] = None
            if len(found) == MAX_GRAMS:
                return tuple(found)
    return tuple(found)


def score(haystack: str | None, wanted: tuple[str, ...] | list[str]) -> int:
    """The share of ``wanted`` (non-empty) found in the casefolded ``haystack``, 0-100."""
    if haystack is None:
        return 0
    return 100 * sum(g in haystack for g in wanted) // len(wanted)


def sql_score(haystack: str | None, joined: str) -> int:
    """SQLite's ``pyimapd_fuzzy(haystack, grams)``, the grams joined by newlines (which
    no trigram holds); PostgreSQL's schema defines the same function."""
    return score(haystack, joined.split("\n"))


def filter_grams(wanted: tuple[str, ...]) -> tuple[str, ...]:
    """Trigrams of which a matching text holds at least one: a text that has
    :data:`THRESHOLD` percent of ``n`` trigrams lacks at most ``n - need`` of them, so
    any ``n - need + 1`` include one it has. The full-text index finds the texts holding
    any of these, a superset of the matches, and the score is checked on those only."""
    n = len(wanted)
    need = -(-THRESHOLD * n // 100)
    return wanted[: n - need + 1]


def fuzzify(key: ast.SearchKey) -> ast.SearchKey:
    """``FUZZY key`` (RFC 6203 section 3) as a tree whose only fuzzy nodes are
    :class:`ast.Fuzzy` around a string key."""
    match key:
        case ast.Header() | ast.Body() | ast.Text():
            return ast.Fuzzy(key)
        case ast.Not(key=inner):
            return ast.Not(fuzzify(inner))
        case ast.Or(left=left, right=right):
            return ast.Or(fuzzify(left), fuzzify(right))
        case ast.And(keys=keys):
            return ast.And(tuple(fuzzify(k) for k in keys))
    return key
