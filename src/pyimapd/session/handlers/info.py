"""ID, ENABLE and NAMESPACE: what client and server tell each other about themselves
(RFC 2971, RFC 5161, RFC 2342)."""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, untagged
from pyimapd.session.handlers import uidonly
from pyimapd.session.handlers.condstore import enable_condstore, enable_qresync
from pyimapd.session.state import Result, ok
from pyimapd.storage.interface import DELIMITER

if TYPE_CHECKING:
    from pyimapd.session.session import Session

ENABLEABLE = frozenset({"CONDSTORE", "QRESYNC", "IMAP4rev2", "UIDONLY", "UTF8=ACCEPT"})
"""Extensions ENABLE may turn on (RFC 5161 section 3.1); others are ignored. IMAP4rev2
(RFC 9051 section 6.3.1) switches the session to rev2's rules from then on, UIDONLY
(RFC 9586 section 3.1) to UIDs in place of message numbers (handlers/uidonly.py)."""


_SPELLING = {n.upper(): n for n in ENABLEABLE}


def _version() -> str:
    try:
        return metadata.version("pyimapd")
    except metadata.PackageNotFoundError:
        return "unknown"


SERVER_ID = (("name", "pyimapd"), ("version", _version()))
"""RFC 2971 section 3.3 field names; nothing that would help an attacker (section 7)."""


async def id_(session: Session, command: c.Id) -> Result:
    """RFC 2971 section 3.1: log what the client says, answer with the server's ID."""
    if command.params is None:
        session.log.info("client ID: NIL")
    else:
        shown = ", ".join(f"{k}={v!r}" for k, v in command.params)
        session.log.info("client ID: %s", shown)
    values = [v for pair in SERVER_ID for v in pair]
    session.write(untagged(Atom("ID"), values))
    return ok("ID completed")


async def enable(session: Session, command: c.Enable) -> Result:
    """RFC 5161 section 3.1: unknown names are ignored; ENABLED lists only what this
    command turned on (section 3.2). QRESYNC implies CONDSTORE (RFC 7162 section 3.2.3)."""
    newly: list[str] = []
    for raw in command.capabilities:  # the parser upper-cases them
        name = _SPELLING.get(raw, raw)
        if name == "UTF8=ACCEPT" and not session.ctx.config.utf8_accept:
            continue  # not advertised: unknown here (RFC 5161 section 3.1)
        if name in ENABLEABLE and name not in session.enabled and name not in newly:
            newly.append(name)
    for name in newly:
        if name == "QRESYNC":
            enable_qresync(session)
        elif name == "UIDONLY":
            uidonly.enable(session)
        elif name == "IMAP4rev2":
            session.enabled.add(name)
            if session.view is not None:
                session.view.enter_rev2()
        elif name == "UTF8=ACCEPT":
            session.enabled.add(name)
        else:
            enable_condstore(session)
    session.write(untagged(Atom("ENABLED"), *(Atom(n) for n in newly)))
    return ok("ENABLE completed")


async def namespace(session: Session, command: c.Namespace) -> Result:
    """RFC 2342 section 5: the personal namespace has an empty prefix; other users'
    mailboxes are under ``Other Users/`` and the shared ones under ``Shared/`` (the
    configured prefixes, storage/sharing.py), NIL when there is no shared owner."""
    session.require_store()
    ns = session.ctx.backend.namespaces
    others = [[ns.other + DELIMITER, DELIMITER]]  # a string, not an astring
    shared = [[ns.shared + DELIMITER, DELIMITER]] if ns.shared_owner else None
    session.write(untagged(Atom("NAMESPACE"), [["", DELIMITER]], others, shared))
    return ok("NAMESPACE completed")
