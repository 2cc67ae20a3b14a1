"""SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS (RFC 4314 section 3).

The rights checks themselves are the store's (storage/sharing.py): a mailbox the user
may not look up answers NO [NONEXISTENT] like a missing one, and without the ``a``
right NO [NOPERM]. The session only encodes the answers, with the virtual ``c`` and
``d`` rights added as section 2.1.1 asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import acl_commands as c
from pyimapd.protocol.responses import AString, Atom, Mailbox, Value, untagged
from pyimapd.session.state import Result, bad, ok
from pyimapd.storage import rights
from pyimapd.storage.interface import NotAllowed
from pyimapd.storage.sharing import SharingStore

if TYPE_CHECKING:
    from pyimapd.session.session import Session


def sharing(session: Session) -> SharingStore:
    """The session's store, which is a SharingStore for every backend's ``open``."""
    store = session.require_store()
    if not isinstance(store, SharingStore):
        raise NotAllowed("This store does not support access control lists")
    return store


async def setacl(session: Session, command: c.SetAcl) -> Result:
    try:
        await sharing(session).set_acl(command.mailbox, command.identifier, command.rights)
    except rights.BadRights as exc:
        return bad(exc.text)
    return ok("SETACL completed")


async def deleteacl(session: Session, command: c.DeleteAcl) -> Result:
    try:
        await sharing(session).set_acl(command.mailbox, command.identifier, None)
    except rights.BadRights as exc:
        return bad(exc.text)
    return ok("DELETEACL completed")


async def getacl(session: Session, command: c.GetAcl) -> Result:
    entries = await sharing(session).get_acl(command.mailbox)
    values: list[Value] = [Atom("ACL"), Mailbox(command.mailbox, session.utf8)]
    for identifier, letters in entries:
        values += [AString(identifier), AString(rights.display(letters))]
    session.write(untagged(*values))
    return ok("GETACL completed")


async def listrights(session: Session, command: c.ListRights) -> Result:
    """The identifier goes back as the client spelled it (section 3.4)."""
    try:
        required, optional = await sharing(session).list_rights(
            command.mailbox, command.identifier)
    except rights.BadRights as exc:
        return bad(exc.text)
    session.write(untagged(
        Atom("LISTRIGHTS"), Mailbox(command.mailbox, session.utf8),
        AString(command.identifier), AString(rights.display(required)),
        *(AString(x) for x in optional)))
    return ok("LISTRIGHTS completed")


async def myrights(session: Session, command: c.MyRights) -> Result:
    letters = await sharing(session).myrights(command.mailbox)
    session.write(untagged(Atom("MYRIGHTS"), Mailbox(command.mailbox, session.utf8),
                           AString(rights.display(letters))))
    return ok("MYRIGHTS completed")
