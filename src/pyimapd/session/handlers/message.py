"""CHECK, CLOSE, EXPUNGE, STORE and COPY: the selected state's message commands
(RFC 3501 sections 6.4.1 to 6.4.7 and 6.4.8 for their UID forms)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, ResponseCode, encode_value
from pyimapd.session.state import Result, bad, no, ok
from pyimapd.session.view import InvalidSequence, SelectedView, flag_atoms
from pyimapd.storage.interface import NoSuchMailbox

if TYPE_CHECKING:
    from pyimapd.session.session import Session

READ_ONLY = ResponseCode("READ-ONLY")


async def check(session: Session, command: c.Check) -> Result:
    """Every write is durable when acknowledged, so a checkpoint has nothing left to do."""
    session.require_view().mark_dirty()
    return ok("CHECK completed")


async def close(session: Session, command: c.Close) -> Result:
    """Section 6.4.2: removes \\Deleted messages silently, then leaves the selected state."""
    view = session.require_view()
    if not view.readonly:
        await view.mailbox.expunge()
    await session.unselect()
    return ok("CLOSE completed")


async def expunge(session: Session, command: c.Expunge) -> Result:
    view = session.require_view()
    if view.readonly:
        return no("Mailbox is read-only", READ_ONLY)
    removed = await view.mailbox.expunge()
    for line in view.remove_expunged(removed):
        session.write(line)
    return ok("EXPUNGE completed")


def _resolve(view: SelectedView, sequence: c.SequenceSet, uid: bool) -> list[int]:
    try:
        return view.resolve(sequence, uid)
    except InvalidSequence as exc:
        from pyimapd.session.state import CommandFailed

        raise CommandFailed(bad(str(exc))) from exc


async def store(session: Session, command: c.Store) -> Result:
    """Section 6.4.6. Without .SILENT every message of the set gets a FETCH (FLAGS),
    changed or not, as the section 8 sample shows."""
    view = session.require_view()
    verb = f"{command.mode}FLAGS{'.SILENT' if command.silent else ''}"
    if view.readonly:
        return no("Mailbox is read-only", READ_ONLY)
    uids = _resolve(view, command.sequence, command.uid)
    updates = await view.mailbox.store(uids, command.mode, frozenset(command.flags))
    for update in updates:
        view.note_own_change(update.uid, update.modseq)
    if command.silent or not uids:
        return ok(f"{verb} completed")
    changed = {u.uid: u.flags for u in updates}
    others = [u for u in uids if u not in changed]
    if others:
        async for record in view.mailbox.fetch(view.uid_ranges(others), False):
            changed[record.uid] = record.flags
    for uid in uids:
        msn = view.msn_of(uid)
        if msn is None or uid not in changed:
            continue
        flags = flag_atoms(changed[uid], uid in view.recent)
        items: list[bytes] = [b"FLAGS " + encode_value(flags)]
        if command.uid:
            items.append(b"UID %d" % uid)
        session.write(b"* %d FETCH (" % msn + b" ".join(items) + b")\r\n")
    return ok(f"{verb} completed")


def uid_set_text(uids: tuple[int, ...]) -> str:
    """A ``uid-set`` (RFC 4315) in the given order, runs compressed to ranges."""
    parts: list[str] = []
    start = prev = None
    for u in uids:
        if prev is not None and u == prev + 1:
            prev = u
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = u
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


async def copy(session: Session, command: c.Copy) -> Result:
    """Section 6.4.7: a missing target is NO [TRYCREATE], never created implicitly."""
    view = session.require_view()
    uids = _resolve(view, command.sequence, command.uid)
    if not uids:
        return ok("COPY completed")
    try:
        result = await view.mailbox.copy(uids, command.mailbox)
    except NoSuchMailbox as exc:
        return no(exc.text, ResponseCode("TRYCREATE"))
    if command.mailbox == view.name:
        view.mark_dirty()
    code = ResponseCode(
        "COPYUID",
        f"{result.uidvalidity} {uid_set_text(result.source_uids)} "
        f"{uid_set_text(result.dest_uids)}",
    )
    return ok("COPY completed", code)


__all__ = ["check", "close", "expunge", "store", "copy", "Atom"]
