"""UIDONLY (RFC 9586): once enabled, message sequence numbers are refused in every
command, in one place.

How this works: :meth:`Session.dispatch` asks :func:`refusal` about each command before
its handler runs; a command that names messages by number gets ``BAD [UIDREQUIRED]``
(section 3). What changes in the responses (UIDFETCH, VANISHED, no UNSEEN code) is the
view's numbering (session/view.py, protocol/fetch_response.py), so no handler has a
UIDONLY branch of its own beyond leaving out the redundant ``UID`` item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.multisearch import Esearch
from pyimapd.protocol.responses import ResponseCode, untagged_status
from pyimapd.search import ast
from pyimapd.session.state import Result, bad

if TYPE_CHECKING:
    from pyimapd.session.session import Session

UIDREQUIRED = ResponseCode("UIDREQUIRED")
"""RFC 9586 section 3: the response code of the BAD for a message number."""

NUMBERED: tuple[type[c.Command], ...] = (
    c.Fetch, c.Store, c.Copy, c.Move, c.Search, c.Sort, c.Thread, c.ReplaceStart)
"""Commands whose form without ``UID`` takes message sequence numbers (or answers with
them: SEARCH, SORT, THREAD). EXPUNGE and CLOSE take no numbers and stay allowed."""

_SEARCHING = (c.Search, c.Sort, c.Thread, Esearch)


def enable(session: Session) -> None:
    """``ENABLE UIDONLY`` (section 3.1), also while a mailbox is selected: its view
    numbers by UID from the next response on."""
    session.enabled.add("UIDONLY")
    view = session.view
    if view is None:
        return
    view.enter_uidonly()
    if view.contexts:
        # A SEARCH or SORT context would go on sending message numbers in ADDTO and
        # REMOVEFROM: it ends, as RFC 5267 section 4.3.1 lets a server end one.
        for tag in view.contexts.numbered():
            text = "Message numbers are off (UIDONLY): no more updates"
            session.write(untagged_status("NO", text, ResponseCode("NOUPDATE", f'"{tag}"')))
            view.contexts.cancel([tag])


def numbered_key(key: ast.SearchKey) -> bool:
    """Whether a search key tree holds a ``sequence-set`` key (section 3: "the
    message sequence set search key" is refused in the UID forms too). ``$`` (RFC
    5182) names the saved result, not numbers, and stays allowed; ``UID set`` is the
    replacement."""
    return ast.holds_where(
        key, lambda k: isinstance(k, ast.SeqSet) and not ast.names_saved(k))


def refusal(session: Session, command: c.Command, name: str) -> Result | None:
    """The BAD for a command that uses message numbers under UIDONLY, else None;
    ``name`` is the command's wire name."""
    if "UIDONLY" not in session.enabled:
        return None
    if isinstance(command, NUMBERED) and not getattr(command, "uid", False):
        return _bad(f"{name} takes message numbers, which UIDONLY turned off: use UID {name}")
    if isinstance(command, _SEARCHING) and numbered_key(command.key):
        return _bad("Message sequence numbers in search keys are off: use UID set")
    if isinstance(command, c.Select | c.Examine) and command.qresync is not None \
            and command.qresync.seq_match is not None:
        # RFC 7162 section 3.2.5.2's sequence match data is message numbers.
        return _bad("QRESYNC's message sequence match data is not allowed with UIDONLY")
    return None


def _bad(text: str) -> Result:
    return bad(text, UIDREQUIRED)
