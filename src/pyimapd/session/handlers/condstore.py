"""CONDSTORE and QRESYNC (RFC 7162) pieces shared by the SELECT, FETCH, STORE, SEARCH,
STATUS, EXPUNGE and ENABLE handlers.

How this works: the store already keeps a MODSEQ per message, a HIGHESTMODSEQ per
mailbox and every expunged UID with the MODSEQ of its expunge. A session becomes
"CONDSTORE-aware" on its first enabling command (section 3.1); from then on its view
adds UID and MODSEQ to every unsolicited FETCH. ``ENABLE QRESYNC`` also switches the
view from EXPUNGE to VANISHED (section 3.2.10.2) and allows the QRESYNC select
parameter and the VANISHED fetch modifier, both answered from the expunge records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, ResponseCode, untagged_status
from pyimapd.search import ast
from pyimapd.session.view import SelectedView, flag_atoms, vanished_line

if TYPE_CHECKING:
    from pyimapd.session.session import Session


def highestmodseq_code(view: SelectedView) -> ResponseCode:
    return ResponseCode("HIGHESTMODSEQ", str(view.modseq))


def enable_condstore(session: Session) -> None:
    """A CONDSTORE enabling command ran (RFC 7162 section 3.1). The first one with a
    mailbox selected reports that mailbox's HIGHESTMODSEQ."""
    first = "CONDSTORE" not in session.enabled
    session.enabled.add("CONDSTORE")
    view = session.view
    if view is not None and not view.condstore:
        view.condstore = True
        if first:
            session.write(untagged_status("OK", "Highest", highestmodseq_code(view)))


def enable_qresync(session: Session) -> None:
    """``ENABLE QRESYNC`` (section 3.2.3): CONDSTORE too, and VANISHED from now on."""
    enable_condstore(session)
    session.enabled.add("QRESYNC")
    if session.view is not None:
        session.view.qresync = True


def uses_modseq(key: ast.SearchKey) -> bool:
    """Whether a SEARCH key tree holds the MODSEQ criterion (section 3.1.5)."""
    return ast.holds(key, ast.Modseq)


async def resync(session: Session, view: SelectedView, params: c.Qresync) -> None:
    """The QRESYNC select parameter (section 3.2.5.1): VANISHED (EARLIER) for the known
    UIDs expunged since the client's MODSEQ, then FETCH (UID FLAGS MODSEQ) for those
    changed since. A UIDVALIDITY mismatch means nothing is reported.

    The expunge records are kept for good, so the sequence match data of section
    3.2.5.2 (a hint for servers that forget them) is not needed and is ignored. UIDs
    still in this session's view (expunged after the SELECT snapshot) are left to the
    ordinary VANISHED that follows, so no UID is reported twice.
    """
    if params.uidvalidity != view.uidvalidity or view.uidnext <= 1:
        return
    known = params.known_uids
    ranges = known.resolve(view.uidnext - 1) if known else [(1, view.uidnext - 1)]
    gone = [u for u in await view.mailbox.vanished(params.modseq, ranges)
            if view.msn_of(u) is None]
    if gone:
        session.write(vanished_line(gone, earlier=True))
    async for record in view.mailbox.fetch(ranges, False):
        msn = view.msn_of(record.uid)
        if msn is None or record.modseq <= params.modseq:
            continue
        for line in view.announce(record.flags):  # a keyword added since SELECT: FLAGS first
            session.write(line)
        flags = flag_atoms(record.flags, record.uid in view.recent)
        items = [Atom("UID"), record.uid, Atom("FLAGS"), flags, Atom("MODSEQ"), [record.modseq]]
        session.write(view.fetch_line(msn, record.uid, items))
    view.note_read()
