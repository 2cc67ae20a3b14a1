"""OBJECTID (RFC 8474): the object identifiers the session shows, and what they name.

MAILBOXID is ``F<row>-<uidvalidity in hex>``: the mailbox's row survives a RENAME (so
the ID does, section 4), and a re-created mailbox, or one a migration gave another
UIDVALIDITY, is a new mailbox with a new ID, because it does not keep RFC 3501's
invariants (section 4: the ID "MUST NOT" be reused then). EMAILID is ``M<content>``:
the stored content, which COPY and MOVE share (section 5.1: the same EMAILID on both
ends of a COPYUID pair). Threads are not kept, so THREADID is NIL (section 5.2).
"""

from __future__ import annotations

import re

_EMAILID = re.compile(r"M([0-9]{1,18})")


def mailboxid(row: int, uidvalidity: int) -> str:
    return f"F{row}-{uidvalidity:x}"


def emailid(content: int) -> str:
    return f"M{content}"


def content_of(value: str) -> int | None:
    """The content an EMAILID names, None when it cannot be one of ours."""
    m = _EMAILID.fullmatch(value)
    return int(m.group(1)) if m else None
