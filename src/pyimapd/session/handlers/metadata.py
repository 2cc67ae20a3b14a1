"""GETMETADATA and SETMETADATA (RFC 5464 sections 4.2 and 4.3).

The rights (section 3.3 over the ACL), the limits and the server entries are the
store's (storage/sharing.py, storage/metadata.py); the session encodes the answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import metadata_commands as m
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.handlers.acl import sharing
from pyimapd.session.state import Result, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session


async def getmetadata(session: Session, command: m.GetMetadata) -> Result:
    """One METADATA response with every entry found (none when nothing is: section
    4.4.1 has no empty form); LONGENTRIES names the largest value left out (4.2.1)."""
    found, longest = await sharing(session).get_metadata(
        command.mailbox, command.entries, command.depth, command.maxsize)
    if found:
        session.write(m.metadata_response(command.mailbox, found, session.utf8))
    code = ResponseCode("METADATA", f"LONGENTRIES {longest}") if longest else None
    return ok("GETMETADATA completed", code)


async def setmetadata(session: Session, command: m.SetMetadata) -> Result:
    await sharing(session).set_metadata(command.mailbox, dict(command.values))
    return ok("SETMETADATA completed")
