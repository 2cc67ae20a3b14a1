"""The full-text index in front of SEARCH's text keys (issue 17), for both databases.

How this works: a backend's :class:`~.core.TextIndex` (SQLite's FTS5 tables,
PostgreSQL's pg_trgm indexes) says how to ask its index which contents *may* hold a
string. :func:`search_filter` reads, in the search's own snapshot, whether the index is
usable and whether some contents are not in it yet, and gives the SEARCH compiler
(search/sql.py) a filter that selects the index's candidates plus every content not
indexed; the compiler keeps the exact test behind it, so answers are those of the
unindexed path whatever the index returns. :func:`index_content` fills the index for a
new content inside its APPEND transaction, so the message is indexed when the client
hears OK (docs/storage.md says why that and not a background queue).
"""

from __future__ import annotations

from pyimapd.search.sql import Compiled, TextFilter
from pyimapd.storage.sql.core import Dialect, Routine, row


def search_filter(d: Dialect) -> Routine[TextFilter | None]:
    """The text filter for one search, or None when the index cannot be used."""
    index = d.text_index
    if index is None:
        return None
    usable, pending_count = yield from status(d)
    if not usable:
        return None
    pending = f"{index.pending} UNION " if pending_count else ""

    def text_filter(kind: str, needle: str) -> Compiled | None:
        param = index.needle(needle)
        if param is None:
            return None
        candidates = index.body if kind == "body" else index.lines
        return f"{pending}{candidates}", [param]

    return text_filter


def status(d: Dialect) -> Routine[tuple[bool, int]]:
    """``(usable, contents not indexed yet)``; ``(False, 0)`` without an index."""
    if d.text_index is None:
        return False, 0
    state = yield row(d.text_index.state)
    return bool(state[0]), int(state[1])


def index_content(d: Dialect, content_id: int, text: str) -> Routine[None]:
    """Indexes a content just written, in the caller's transaction."""
    if d.text_index is not None:
        yield from d.text_index.add(content_id, text)
