"""CHECK, CLOSE, EXPUNGE, STORE and COPY: the selected state's message commands
(RFC 3501 sections 6.4.1 to 6.4.7 and 6.4.8 for their UID forms)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol import fetch_response as wire
from pyimapd.protocol.responses import Atom, ResponseCode, encode_value, untagged_status
from pyimapd.session.handlers.condstore import enable_condstore, highestmodseq_code
from pyimapd.session.state import Result, bad, no, ok
from pyimapd.session.view import InvalidSequence, SelectedView, flag_atoms, uid_set_text
from pyimapd.storage.interface import FlagUpdate, NoPermission, NoSuchMailbox

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
        try:
            await view.mailbox.expunge()
        except NoPermission:
            pass  # RFC 4314 section 4: without "e", CLOSE still closes, with OK
    await session.unselect()
    return ok("CLOSE completed")


async def expunge(session: Session, command: c.Expunge) -> Result:
    """EXPUNGE, and UID EXPUNGE (RFC 4315 section 2.1): only the \\Deleted messages
    among the given UIDs, so a client does not remove what another marked meanwhile."""
    view = session.require_view()
    name = command_verb(command)
    if view.readonly:
        return no("Mailbox is read-only", READ_ONLY)
    if command.sequence is not None:
        uids = _resolve(view, command.sequence, True)
        removed = await view.mailbox.expunge(uids) if uids else []
    else:
        removed = await view.mailbox.expunge()
    for line in view.remove_expunged(removed):
        session.write(line)
    return ok(f"{name} completed", await _modseq_after(session, view, bool(removed)))


async def _modseq_after(
    session: Session, view: SelectedView, changed: bool
) -> ResponseCode | None:
    """RFC 7162 sections 3.2.7 and 3.2.9 (and RFC 6851 section 4.4 for MOVE): once
    CONDSTORE is on, an EXPUNGE that removed something ends with the new HIGHESTMODSEQ.
    The view is brought up to date first, so every change up to that value has been
    reported to the client when it reads it."""
    if not changed or not view.condstore:
        return None
    view.mark_dirty()
    await session.flush_updates(True)
    return highestmodseq_code(view)


def command_verb(command: c.Command) -> str:
    from pyimapd.session.table import command_name

    return command_name(command)


async def unselect(session: Session, command: c.Unselect) -> Result:
    """RFC 3691: like CLOSE, but nothing is expunged, even on a writable mailbox."""
    session.require_view()
    await session.unselect()
    return ok("UNSELECT completed")


def _resolve(view: SelectedView, sequence: c.SequenceSet, uid: bool) -> list[int]:
    try:
        return view.resolve(sequence, uid)
    except InvalidSequence as exc:
        from pyimapd.session.state import CommandFailed

        raise CommandFailed(bad(str(exc))) from exc


async def store(session: Session, command: c.Store) -> Result:
    """Section 6.4.6. Without .SILENT every message of the set gets a FETCH (FLAGS),
    changed or not, as the section 8 sample shows.

    UNCHANGEDSINCE (RFC 7162 section 3.1.3): messages changed since that MODSEQ are left
    alone, named in ``[MODIFIED ...]`` and sent with their current flags (the
    recommended Example 10). Once CONDSTORE is on, a FETCH with UID and MODSEQ goes out
    for every message of the set even with .SILENT, so the client's cache stays exact.
    """
    view = session.require_view()
    verb = f"{'UID ' if command.uid else ''}{command.mode}FLAGS"
    verb += ".SILENT" if command.silent else ""
    if view.readonly:
        return no("Mailbox is read-only", READ_ONLY)
    uids = _resolve(view, command.sequence, command.uid)
    flags = frozenset(command.flags)
    modified: list[int] = []
    if command.unchangedsince is not None:
        enable_condstore(session)
        updates, modified = await view.mailbox.store_unchanged_since(
            uids, command.mode, flags, command.unchangedsince)
    else:
        updates = await view.mailbox.store(uids, command.mode, flags)
    for update in updates:
        view.note_own_change(update.uid, update.modseq)
    if uids and (view.condstore or not command.silent):
        await _report_store(session, view, command, uids, updates, set(modified))
    view.note_read()  # what it reported, or changed, is newer than any poll in flight
    if modified:
        numbers = modified if command.uid else [view.msn_of(u) or 0 for u in modified]
        code = ResponseCode("MODIFIED", uid_set_text(numbers))
        return ok("Conditional STORE failed", code)
    return ok(f"{verb} completed")


async def _report_store(
    session: Session, view: SelectedView, command: c.Store, uids: list[int],
    updates: list[FlagUpdate], modified: set[int],
) -> None:
    """The FETCH responses of a STORE, in sequence order; see :func:`store`."""
    current = {u.uid: u for u in updates}
    others = [u for u in uids if u not in current]
    if others:  # unchanged by this STORE: their flags as they are (bare rows, cheap)
        async for page in view.mailbox.fetch_flags(view.uid_ranges(others)):
            for uid, flags, modseq in page:
                current[uid] = FlagUpdate(uid, flags, modseq)
    for uid in uids:
        msn = view.msn_of(uid)
        update = current.get(uid)
        if msn is None or update is None:
            continue
        items: list[bytes] = []
        if uid in modified or not command.silent:
            for line in view.announce(update.flags):  # a new keyword: FLAGS first
                session.write(line)
            items.append(b"FLAGS " + encode_value(flag_atoms(update.flags, uid in view.recent)))
        if (command.uid or view.condstore) and not view.uidonly:
            items.append(b"UID %d" % uid)
        if view.condstore:
            items.append(b"MODSEQ (%d)" % update.modseq)
        session.write(wire.line(view.numbering.number(msn, uid), items, view.numbering))


async def copy(session: Session, command: c.Copy) -> Result:
    """Section 6.4.7: a missing target is NO [TRYCREATE], never created implicitly."""
    view = session.require_view()
    name = command_verb(command)
    uids = _resolve(view, command.sequence, command.uid)
    if not uids:
        return ok(f"{name} completed")
    try:
        result = await view.mailbox.copy(uids, command.mailbox)
    except NoSuchMailbox as exc:
        return no(exc.text, ResponseCode("TRYCREATE"))
    if command.mailbox == view.name:
        view.note_own_new(result.dest_uids)
    code = ResponseCode(
        "COPYUID",
        f"{result.uidvalidity} {uid_set_text(result.source_uids)} "
        f"{uid_set_text(result.dest_uids)}",
    )
    return ok(f"{name} completed", code)


async def move(session: Session, command: c.Move) -> Result:
    """RFC 6851 section 3.3: the COPYUID goes in an untagged OK before the EXPUNGEs
    (section 4.3), so the client can match old and new UIDs before they disappear.
    Moving is copy plus expunge, so a read-only mailbox refuses it."""
    view = session.require_view()
    name = command_verb(command)
    if view.readonly:
        return no("Mailbox is read-only", READ_ONLY)
    uids = _resolve(view, command.sequence, command.uid)
    if not uids:
        return ok(f"{name} completed")
    try:
        result = await view.mailbox.move(uids, command.mailbox)
    except NoSuchMailbox as exc:
        return no(exc.text, ResponseCode("TRYCREATE"))
    if result.source_uids:
        code = ResponseCode(
            "COPYUID",
            f"{result.uidvalidity} {uid_set_text(result.source_uids)} "
            f"{uid_set_text(result.dest_uids)}",
        )
        session.write(untagged_status("OK", "Moved", code))
    for line in view.remove_expunged(result.source_uids):
        session.write(line)
    if command.mailbox == view.name:
        view.note_own_new(result.dest_uids)
    return ok(f"{name} completed", await _modseq_after(session, view, bool(result.source_uids)))


__all__ = ["check", "close", "expunge", "store", "copy", "move", "unselect", "Atom"]
