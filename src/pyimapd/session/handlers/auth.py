"""LOGIN, AUTHENTICATE and STARTTLS: the not-authenticated state (RFC 3501 section 6.2)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from pyimapd.auth.sasl import MECHANISMS, Challenge, Credentials, SaslError
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import RawLine
from pyimapd.protocol.responses import ResponseCode, continuation
from pyimapd.session.state import Result, State, bad, no, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session

AUTH_FAILED = ResponseCode("AUTHENTICATIONFAILED")


async def starttls(session: Session, command: c.StartTLS) -> Result:
    return no("TLS is not configured on this server", ResponseCode("UNAVAILABLE"))


async def login(session: Session, command: c.Login) -> Result:
    if await _sign_in(session, command.userid, command.password):
        return ok("LOGIN completed")
    return no("Authentication failed", AUTH_FAILED)


async def _sign_in(session: Session, user: str, password: str) -> bool:
    """Checks the password and enters the authenticated state (section 6.2.3)."""
    record = await session.ctx.backend.users.get_user(user)
    stored = record.password_hash if record else None
    if not await session.ctx.passwords.verify_async(stored, password):
        session.log.info("authentication failed for %r from %s", user, session.io.peer)
        return False
    session.user = user
    session.store = await session.ctx.backend.open(user)
    session.state = State.AUTHENTICATED
    session.log.info("user %s logged in", user)
    return True


async def authenticate(session: Session, command: c.Authenticate) -> Result:
    """SASL exchange (RFC 3501 section 6.2.2, RFC 4959 initial response)."""
    factory = MECHANISMS.get(command.mechanism.upper())
    if factory is None:
        return no(f"Unsupported authentication mechanism {command.mechanism}")
    mechanism = factory()
    try:
        step = mechanism.start(command.initial_response)
        while isinstance(step, Challenge):
            response = await _read_response(session, step.data)
            if response is None:
                return bad("AUTHENTICATE cancelled")
            step = mechanism.step(response)
    except SaslError as exc:
        return bad(f"Invalid SASL response: {exc}")
    assert isinstance(step, Credentials)
    if step.authzid and step.authzid != step.authcid:
        return no("Authorization as another user is not allowed", AUTH_FAILED)
    if await _sign_in(session, step.authcid, step.password):
        return ok("AUTHENTICATE completed")
    return no("Authentication failed", AUTH_FAILED)


async def _read_response(session: Session, challenge: bytes) -> bytes | None:
    """Sends a ``+`` challenge and reads the client's base64 line; None on ``*``."""
    session.write(continuation(base64.b64encode(challenge).decode()))
    await session.io.drain()
    session.conn.expect_raw_line()
    event = await session.next_event()
    if not isinstance(event, RawLine):
        raise SaslError("expected a SASL response line")
    line = event.line.strip()
    if line == b"*":
        return None
    try:
        return base64.b64decode(line, validate=True)
    except binascii.Error as exc:
        raise SaslError("response is not valid base64") from exc
