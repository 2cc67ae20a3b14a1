"""CAPABILITY, NOOP and LOGOUT: valid in every state (RFC 3501 section 6.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, untagged, untagged_status
from pyimapd.session.state import Result, State, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session


def capability_list(session: Session) -> list[str]:
    """IMAP4rev1 first, then what the command table and the SASL mechanisms bring."""
    from pyimapd.session.handlers.auth import advertised_mechanisms, plaintext_allowed
    from pyimapd.session.table import capabilities

    caps = ["IMAP4rev1", "IMAP4rev2"]  # RFC 9051 section 6.1.1: both, rev1 until ENABLE
    if session.state is State.NOT_AUTHENTICATED:
        if session.io.tls_available:
            caps.append("STARTTLS")
        if not plaintext_allowed(session):
            caps.append("LOGINDISABLED")  # RFC 3501 section 6.2.3
        caps += [f"AUTH={m}" for m in advertised_mechanisms(session)]
        caps.append("SASL-IR")  # RFC 4959
    caps += capabilities()
    # RFC 7889 section 2 (a): one limit for every mailbox, the parser's (TOOBIG above it).
    caps.append(f"APPENDLIMIT={session.ctx.config.limits.max_append}")
    if session.ctx.config.utf8_accept:
        caps.append("UTF8=ACCEPT")
    caps += list(session.ctx.capabilities_extra)
    return caps


async def capability(session: Session, command: c.Capability) -> Result:
    session.write(untagged(Atom("CAPABILITY"), *(Atom(x) for x in capability_list(session))))
    return ok("CAPABILITY completed")


async def noop(session: Session, command: c.Noop) -> Result:
    """Nothing to do: the dispatcher sends the pending mailbox updates (section 6.1.2)."""
    if session.view is not None:
        session.view.mark_dirty()
    return ok("NOOP completed")


async def logout(session: Session, command: c.Logout) -> Result:
    session.write(untagged_status("BYE", "IMAP4rev1 server terminating connection"))
    await session.unselect()
    session.enter_logout()
    return ok("LOGOUT completed")
