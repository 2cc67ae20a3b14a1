"""SEARCH and UID SEARCH (RFC 3501 sections 6.4.4 and 6.4.8).

The parser's key tree may name messages by sequence number or by ``\\Recent``, which only
this session knows; :func:`bind` rewrites those into UID ranges, so that the store can
answer the rest on its own (in SQL for the database backends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, ResponseCode, untagged
from pyimapd.search import ast
from pyimapd.session.handlers.condstore import enable_condstore, uses_modseq
from pyimapd.session.handlers.message import command_verb
from pyimapd.session.state import Result, no, ok
from pyimapd.session.view import SelectedView

if TYPE_CHECKING:
    from pyimapd.session.session import Session

CHARSETS = ("UTF-8", "US-ASCII")


def bind(key: ast.SearchKey, view: SelectedView) -> ast.SearchKey:
    """Replaces the session-relative keys by :class:`ast.UidIn`.

    A sequence number beyond the mailbox matches nothing rather than failing, as
    Dovecot does, because a search on a changing mailbox races with its size.
    """
    if isinstance(key, ast.SeqSet):
        ranges = key.sequence.resolve(view.exists)
        uids = [view.uids[n - 1] for lo, hi in ranges for n in range(lo, min(hi, view.exists) + 1)]
        return ast.UidIn(tuple(view.uid_ranges(uids)))
    if isinstance(key, ast.UidSet):
        largest = view.uids[-1] if view.uids else 0
        return ast.UidIn(tuple(key.sequence.resolve(largest)))
    if isinstance(key, ast.Recent):
        return ast.UidIn(tuple(view.uid_ranges(sorted(view.recent))))
    if isinstance(key, ast.Not):
        return ast.Not(bind(key.key, view))
    if isinstance(key, ast.Or):
        return ast.Or(bind(key.left, view), bind(key.right, view))
    if isinstance(key, ast.And):
        return ast.And(tuple(bind(k, view) for k in key.keys))
    return key


async def highest_modseq(view: SelectedView, uids: list[int]) -> int:
    """The highest MODSEQ among the found messages (RFC 7162 section 3.1.6)."""
    top = 0
    async for record in view.mailbox.fetch(view.uid_ranges(uids), False):
        top = max(top, record.modseq)
    return top


async def search(session: Session, command: c.Search) -> Result:
    view = session.require_view()
    if command.charset is not None and command.charset.upper() not in CHARSETS:
        code = ResponseCode("BADCHARSET", f"({' '.join(CHARSETS)})")
        return no(f"Unsupported charset {command.charset}", code)
    modseq = uses_modseq(command.key)
    if modseq:
        enable_condstore(session)
    uids = await view.mailbox.search(bind(command.key, view))
    found: list[int] = []
    numbers: list[int] = []
    for uid in uids:
        msn = view.msn_of(uid)
        if msn is not None:  # not yet announced messages stay invisible
            found.append(uid)
            numbers.append(uid if command.uid else msn)
    extra: list[list[Atom | int]] = []
    if modseq and found:
        extra.append([Atom("MODSEQ"), await highest_modseq(view, found)])
    session.write(untagged(Atom("SEARCH"), *numbers, *extra))
    return ok(f"{command_verb(command)} completed")
