"""LOGIN, AUTHENTICATE and STARTTLS: the not-authenticated state (RFC 3501 section 6.2).

Passwords (LOGIN, SASL PLAIN and LOGIN) are checked against the argon2id hash, through
the login cache; CRAM-MD5 and SCRAM check proofs against stored secrets inside their
step machines (:mod:`pyimapd.auth.sasl`). Every failure is logged with the client's IP
and answered only after the throttle's progressive delay. Before TLS, on a connection
that is not from loopback, plaintext mechanisms are refused (``LOGINDISABLED``).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from pyimapd.auth.login import authcid_of
from pyimapd.auth.sasl import PLAINTEXT_MECHANISMS, SaslError
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import RawLine
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.state import Result, bad, no, ok

if TYPE_CHECKING:
    from pyimapd.session.session import Session

AUTH_FAILED = ResponseCode("AUTHENTICATIONFAILED")
PRIVACY_REQUIRED = ResponseCode("PRIVACYREQUIRED")
"""RFC 5530 section 3: the operation is not permitted without TLS."""


def plaintext_allowed(session: Session) -> bool:
    """May a password cross this connection (RFC 3501 sections 6.2.3 and 7.2.1)?"""
    if session.io.secure:
        return True
    policy = session.ctx.config.auth.plaintext_auth
    return policy == "always" or (policy == "loopback" and session.io.loopback)


def advertised_mechanisms(session: Session) -> list[str]:
    return session.ctx.authenticator.advertised(plaintext_allowed(session))


# --- STARTTLS ----------------------------------------------------------------------------


async def starttls(session: Session, command: c.StartTLS) -> Result:
    """RFC 3501 section 6.2.1. Nothing the client sent after the STARTTLS line is kept:
    the channel stops reading plaintext and both its buffer and the parser's are dropped
    before the OK goes out; the handshake starts once the OK is flushed."""
    if session.io.secure:
        return bad("TLS is already active")
    if not session.io.tls_available:
        return no("TLS is not configured on this server", ResponseCode("UNAVAILABLE"))
    dropped = session.io.hold_input() + len(session.conn.discard_buffered())
    if dropped:
        session.log.warning(
            "discarded %d octets sent after STARTTLS by %s (command injection?)",
            dropped, session.io.peer,
        )
    session.after_response = lambda: _handshake(session)
    return ok("Begin TLS negotiation now")


async def _handshake(session: Session) -> None:
    from pyimapd.session.session import ConnectionClosed

    try:
        await session.io.start_tls()
    except (OSError, TimeoutError, ConnectionError) as exc:
        session.log.info("TLS handshake with %s failed: %s", session.io.peer, exc)
        session.enter_logout()
        raise ConnectionClosed() from None
    session.log.info("TLS established with %s", session.io.peer)


# --- LOGIN -------------------------------------------------------------------------------


async def login(session: Session, command: c.Login) -> Result:
    if not plaintext_allowed(session):
        session.log.info("LOGIN before TLS refused for %s", session.io.peer)
        return no("LOGIN is disabled before TLS; use STARTTLS", PRIVACY_REQUIRED)
    if await session.ctx.authenticator.check_password(command.userid, command.password):
        await _enter(session, command.userid)
        return ok("LOGIN completed")
    return await _fail(session, command.userid, "LOGIN", "wrong password or no such user")


async def _enter(session: Session, user: str) -> None:
    """Enters the authenticated state (section 6.2.3)."""
    await session.enter_authenticated(user)
    session.ctx.authenticator.succeeded(user)
    session.log.info("user %s logged in from %s", user, session.io.peer_host)


async def _fail(session: Session, user: str, how: str, reason: str) -> Result:
    await session.ctx.authenticator.failed(session.log, session.io.peer_host, user, how, reason)
    return no("Authentication failed", AUTH_FAILED)


async def unauthenticate(session: Session, command: c.Unauthenticate) -> Result:
    """RFC 8437: the same connection may log in again, as the same or another user."""
    user = session.user
    await session.leave_authenticated()
    session.log.info("user %s unauthenticated", user)
    return ok("UNAUTHENTICATE completed")


# --- AUTHENTICATE ------------------------------------------------------------------------


async def authenticate(session: Session, command: c.Authenticate) -> Result:
    """SASL exchange (RFC 3501 section 6.2.2, RFC 4959 initial response, RFC 4422)."""
    authenticator = session.ctx.authenticator
    name = command.mechanism.upper()
    factory = authenticator.enabled().get(name)
    if factory is None:
        return no(f"Unsupported authentication mechanism {command.mechanism}")
    if name in PLAINTEXT_MECHANISMS and not plaintext_allowed(session):
        session.log.info("AUTHENTICATE %s before TLS refused for %s", name, session.io.peer)
        return no(f"AUTHENTICATE {name} is disabled before TLS; use STARTTLS", PRIVACY_REQUIRED)
    try:
        step = await authenticator.exchange(
            factory(), command.initial_response, lambda data: _read_response(session, data))
    except SaslError as exc:
        return bad(f"Invalid SASL response: {exc}")
    if step is None:
        return bad("AUTHENTICATE cancelled")
    user, reason = await authenticator.conclude(step)
    if user is None:
        return await _fail(session, authcid_of(step), name, reason)
    await _enter(session, user)
    return ok("AUTHENTICATE completed")


async def _read_response(session: Session, challenge: bytes) -> bytes | None:
    """Sends a ``+`` challenge and reads the client's base64 line; None on ``*``."""
    event = await session.read_continuation(base64.b64encode(challenge).decode())
    if not isinstance(event, RawLine):
        raise SaslError("expected a SASL response line")
    line = event.line.strip()
    if line == b"*":
        return None
    try:
        return base64.b64decode(line, validate=True)
    except binascii.Error as exc:
        raise SaslError("response is not valid base64") from exc
