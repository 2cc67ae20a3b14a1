"""SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB and STATUS:
the mailbox commands of the authenticated state (RFC 3501 section 6.3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import (
    AString,
    Atom,
    Mailbox,
    ResponseCode,
    Value,
    untagged,
    untagged_status,
)
from pyimapd.session.handlers import objectid
from pyimapd.session.handlers.acl import sharing
from pyimapd.session.handlers.condstore import enable_condstore, highestmodseq_code, resync
from pyimapd.session.handlers.listing import Entry, select_entries
from pyimapd.session.handlers.urlauth import URLMECH
from pyimapd.session.state import Result, bad, no, ok
from pyimapd.session.view import SelectedView
from pyimapd.storage import rights
from pyimapd.storage.interface import (
    DELIMITER,
    MailboxStatus,
    NoPermission,
    NoSuchMailbox,
    StorageError,
)
from pyimapd.storage.names import list_matcher
from pyimapd.storage.sharing import feed_key

if TYPE_CHECKING:
    from pyimapd.session.session import Session


async def select(session: Session, command: c.Select) -> Result:
    return await _open(session, command, readonly=False)


async def examine(session: Session, command: c.Examine) -> Result:
    return await _open(session, command, readonly=True)


async def _open(session: Session, command: c.Select | c.Examine, readonly: bool) -> Result:
    """RFC 3501 section 6.3.1: a failed SELECT leaves no mailbox selected.

    RFC 7162: ``[CLOSED]`` marks the end of the previous mailbox's responses (section
    3.2.11); the CONDSTORE parameter is an enabling command and HIGHESTMODSEQ follows
    UIDNEXT once CONDSTORE is on (3.1.2.1, 3.1.8); QRESYNC needs ENABLE QRESYNC first
    (3.2.5) and reports what changed since the client's state after the usual data.
    """
    verb = "EXAMINE" if readonly else "SELECT"
    if command.qresync is not None and "QRESYNC" not in session.enabled:
        return bad("The QRESYNC parameter needs ENABLE QRESYNC first")
    name = command.mailbox
    if session.view is not None:
        await session.unselect()
        session.write(untagged_status("OK", "Previous mailbox closed", ResponseCode("CLOSED")))
    store = session.require_store()
    subscription = session.ctx.backend.changes.subscribe(*feed_key(store, name))
    try:
        mailbox, result = await store.select(name, readonly)
    except BaseException:
        subscription.close()
        raise
    view = SelectedView(mailbox, result, subscription, session.ctx.polls)
    if command.condstore:
        session.enabled.add("CONDSTORE")
    view.condstore = "CONDSTORE" in session.enabled
    view.qresync = "QRESYNC" in session.enabled
    if session.rev2:
        view.enter_rev2()
    if "UIDONLY" in session.enabled:
        view.enter_uidonly()
    session.enter_selected(view)
    flags, permanent = view.flags_responses()
    session.write(untagged(view.exists, Atom("EXISTS")))
    if session.rev2:
        # RFC 9051 section 6.3.2: the LIST response gives the name as the server
        # spells it; no RECENT and no UNSEEN code (Appendix E items 11 and 12).
        session.write(list_line("LIST", view.name, [], utf8=True))
    session.write(flags)
    if not session.rev2:
        session.write(untagged(len(view.recent), Atom("RECENT")))
    if result.unseen_uids_first is not None and not session.rev2 and not view.uidonly:
        # The UNSEEN code is a message number: none under UIDONLY (RFC 9586 section 3).
        msn = view.msn_of(result.unseen_uids_first)
        if msn is not None:
            text = f"Message {msn} is the first unseen message"
            session.write(untagged_status("OK", text, ResponseCode("UNSEEN", str(msn))))
    validity = ResponseCode("UIDVALIDITY", str(view.uidvalidity))
    session.write(untagged_status("OK", "UIDs valid", validity))
    session.write(permanent)
    nxt = ResponseCode("UIDNEXT", str(view.uidnext))
    session.write(untagged_status("OK", "Predicted next UID", nxt))
    ident = objectid.mailboxid(result.mailbox_id, view.uidvalidity)  # RFC 8474 section 4.1
    session.write(untagged_status("OK", "Mailbox ID", ResponseCode("MAILBOXID", [Atom(ident)])))
    if session.io.secure:  # RFC 4467 section 8, only where no one can snoop
        session.write(untagged_status("OK", "URLAUTH mechanisms", URLMECH))
    if view.condstore:
        session.write(untagged_status("OK", "Highest", highestmodseq_code(view)))
    if command.qresync is not None:
        await resync(session, view, command.qresync)
    # RFC 4314 section 5.2: READ-ONLY also when the rights allow no change.
    mode = ResponseCode("READ-ONLY" if result.readonly else "READ-WRITE")
    return ok(f"{verb} completed", mode)


SPECIAL_USES = ("\\Archive", "\\Drafts", "\\Important", "\\Junk", "\\Sent", "\\Trash")
"""The RFC 6154 uses CREATE accepts. ``\\All`` and ``\\Flagged`` name virtual mailboxes
(section 2), which the store does not have, so they are refused with USEATTR."""


async def create(session: Session, command: c.Create) -> Result:
    """A trailing delimiter declares intent to create inferiors (section 6.3.3). RFC 6154
    section 3: a ``USE`` the server cannot honour fails the whole CREATE with
    ``NO [USEATTR]``; several uses, and a use another mailbox has too, are accepted."""
    name = command.mailbox.rstrip(DELIMITER) if command.mailbox != DELIMITER else ""
    if not name:
        return bad("CREATE needs a mailbox name")
    uses: list[str] = []
    for attr in command.use or ():
        known = next((u for u in SPECIAL_USES if u.lower() == attr.lower()), None)
        if known is None:
            return no(f"{attr} is not a special use this server supports", ResponseCode("USEATTR"))
        if known not in uses:
            uses.append(known)
    row, uidvalidity = await session.require_store().create_mailbox(name, " ".join(uses) or None)
    # RFC 8474 section 4.1: the new mailbox's MAILBOXID in the tagged OK.
    ident = objectid.mailboxid(row, uidvalidity)
    return ok("CREATE completed", ResponseCode("MAILBOXID", [Atom(ident)]))


async def delete(session: Session, command: c.Delete) -> Result:
    await session.require_store().delete_mailbox(command.mailbox)
    return ok("DELETE completed")


async def rename(session: Session, command: c.Rename) -> Result:
    await session.require_store().rename_mailbox(command.old, command.new)
    return ok("RENAME completed")


async def subscribe(session: Session, command: c.Subscribe) -> Result:
    await session.require_store().set_subscribed(command.mailbox, True)
    return ok("SUBSCRIBE completed")


async def unsubscribe(session: Session, command: c.Unsubscribe) -> Result:
    await session.require_store().set_subscribed(command.mailbox, False)
    return ok("UNSUBSCRIBE completed")


def list_line(
    verb: str, name: str, attributes: Sequence[str], *extended: Value, utf8: bool = False
) -> bytes:
    """``mailbox-list`` with RFC 5258's optional ``SP mbox-list-extended``: the
    ``extended`` values (tag, value pairs) go in one parenthesized list; ``utf8`` for a
    session that takes UTF-8 names (``Session.utf8``)."""
    tail: list[Value] = [list(extended)] if extended else []
    return untagged(Atom(verb), [Atom(a) for a in attributes], DELIMITER,
                    Mailbox(name, utf8), *tail)


def _order(name: str) -> tuple[int, str]:
    return (0 if name == "INBOX" else 1, name)


async def list_(session: Session, command: c.List) -> Result:
    """Section 6.3.8 with LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819); which
    names and attributes: :mod:`.listing`. Only the basic form treats an empty pattern
    as the question for the delimiter and the root (RFC 5258 section 3)."""
    if command.pattern == "" and not command.extended:
        root = command.reference.split(DELIMITER, 1)[0] + DELIMITER if command.reference else ""
        session.write(list_line("LIST", root, ["\\Noselect"], utf8=session.utf8))
        return ok("LIST completed")
    unknown = _unknown_status(session, command.status)
    if unknown:
        return bad(f"Unknown STATUS item {unknown[0]}")
    if "HIGHESTMODSEQ" in command.status:
        enable_condstore(session)
    store = session.require_store()
    records = await store.list_mailboxes()
    subscriptions = await store.list_subscriptions() if command.extended else ()
    for entry in select_entries(command, records, subscriptions):
        await _list_entry(session, command, entry)
    return ok("LIST completed")


async def _list_entry(session: Session, command: c.List, entry: Entry) -> None:
    """One LIST response, then its STATUS when asked for and the mailbox meets the
    selection criteria and is selectable. RFC 5819 section 2: when the STATUS fails
    (the mailbox went away meanwhile) there is no STATUS and the LIST says \\Noselect."""
    attributes = list(entry.attributes)
    values: list[Value] = []
    if command.status and entry.meets and entry.selectable:
        try:
            st = await session.require_store().status(entry.name)
        except NoPermission:
            pass  # RFC 4314 section 4: listed (``l``) but not to be read (``r``)
        except StorageError:
            attributes.insert(0, "\\Noselect")
        else:
            for item in command.status:
                values += [Atom(item), status_value(st, item)]
    letters = await _myrights(session, command, entry)
    extended: list[Value] = ["CHILDINFO", list(entry.childinfo)] if entry.childinfo else []
    session.write(list_line("LIST", entry.name, attributes, *extended, utf8=session.utf8))
    if values:
        session.write(untagged(Atom("STATUS"), Mailbox(entry.name, session.utf8), values))
    if letters is not None:
        session.write(untagged(Atom("MYRIGHTS"), Mailbox(entry.name, session.utf8),
                               AString(rights.display(letters))))


async def _myrights(session: Session, command: c.List, entry: Entry) -> str | None:
    """RFC 8440 section 3: the rights go with each listed mailbox that meets the
    selection criteria; a name that is not a mailbox (\\Noselect, \\NonExistent) or
    went away meanwhile has none to report."""
    if "MYRIGHTS" not in command.returns or not (entry.meets and entry.selectable):
        return None
    try:
        found: str = await sharing(session).myrights(entry.name)
    except StorageError:
        return None
    return found


async def lsub(session: Session, command: c.Lsub) -> Result:
    """Section 6.3.9: subscribed names, existing or not, matching the pattern. When a
    subscribed name lies below what ``%`` can reach, its unsubscribed superior that
    matches is returned with ``\\Noselect`` ("foo" for a subscribed "foo/bar").
    IMAP4rev2 has no LSUB (RFC 9051 Appendix E item 19: LIST (SUBSCRIBED) instead)."""
    if session.rev2:
        return bad("LSUB is not part of IMAP4rev2: use LIST (SUBSCRIBED)")
    store = session.require_store()
    matches = list_matcher(command.reference, command.pattern)
    existing = {r.name: r for r in await store.list_mailboxes()}
    subscribed = set(await store.list_subscriptions())
    found: dict[str, list[str]] = {}
    for name in subscribed:
        if matches(name):
            record = existing.get(name)
            noselect = record is None or record.noselect
            found[name] = ["\\Noselect"] if noselect else []
            continue
        parts = name.split(DELIMITER)
        for depth in range(1, len(parts)):
            superior = DELIMITER.join(parts[:depth])
            if superior not in subscribed and matches(superior):
                found[superior] = ["\\Noselect"]
    for name in sorted(found, key=_order):
        session.write(list_line("LSUB", name, found[name], utf8=session.utf8))
    return ok("LSUB completed")


def status_value(st: MailboxStatus, item: str) -> Value:
    """One STATUS item's value; MAILBOXID is RFC 8474 section 4.3's ``(objectid)``."""
    if item == "MAILBOXID":
        return [Atom(objectid.mailboxid(st.mailbox_id, st.uidvalidity))]
    value: Value = getattr(st, _STATUS_FIELDS[item])
    return value


_STATUS_FIELDS = {
    "MESSAGES": "messages",
    "RECENT": "recent",
    "UIDNEXT": "uidnext",
    "UIDVALIDITY": "uidvalidity",
    "UNSEEN": "unseen",
    "HIGHESTMODSEQ": "highestmodseq",
    "SIZE": "size",
    "DELETED": "deleted",
    "DELETED-STORAGE": "deleted_size",
    "MAILBOXID": "mailbox_id",
}
"""RFC 3501 items, RFC 7162's HIGHESTMODSEQ (section 3.1.7), RFC 8438's SIZE and RFC
9208's DELETED and DELETED-STORAGE (section 4.1.4, required with QUOTA=RES-*)."""


def _unknown_status(session: Session, items: Sequence[str]) -> list[str]:
    """Items STATUS (and LIST-STATUS) cannot answer; RFC 9051's status-att has no
    RECENT (Appendix E item 12)."""
    return [i for i in items if i not in _STATUS_FIELDS or (i == "RECENT" and session.rev2)]


async def status(session: Session, command: c.Status) -> Result:
    """Section 6.3.10; the items come back in the order they were asked."""
    unknown = _unknown_status(session, command.items)
    if unknown:
        return bad(f"Unknown STATUS item {unknown[0]}")
    if "HIGHESTMODSEQ" in command.items:
        enable_condstore(session)
    try:
        st = await session.require_store().status(command.mailbox)
    except NoSuchMailbox as exc:
        return no(exc.text, ResponseCode("NONEXISTENT"))
    values: list[Atom | int] = []
    for item in command.items:
        values += [Atom(item), status_value(st, item)]
    session.write(untagged(Atom("STATUS"), Mailbox(command.mailbox, session.utf8), values))
    return ok("STATUS completed")
