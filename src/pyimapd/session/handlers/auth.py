"""LOGIN, AUTHENTICATE and STARTTLS: the not-authenticated state (RFC 3501 section 6.2).

Passwords (LOGIN, SASL PLAIN and LOGIN) are checked against the argon2id hash, through
the login cache; CRAM-MD5 and SCRAM check proofs against stored secrets inside their
step machines (:mod:`pyimapd.auth.sasl`). Every failure is logged with the client's IP
and answered only after the throttle's progressive delay. Before TLS, on a connection
that is not from loopback, plaintext mechanisms are refused (``LOGINDISABLED``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyimapd.auth.sasl import (
    PLAINTEXT_MECHANISMS,
    Challenge,
    Credentials,
    Mechanism,
    NeedSecret,
    Rejected,
    SaslError,
    Step,
    Verified,
    mechanisms,
)
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


def enabled_mechanisms(session: Session) -> dict[str, Callable[[], Mechanism]]:
    factories = mechanisms("localhost", session.ctx.sasl_key)
    return {m: factories[m] for m in session.ctx.config.auth.mechanisms if m in factories}


def advertised_mechanisms(session: Session) -> list[str]:
    allowed = plaintext_allowed(session)
    return [m for m in enabled_mechanisms(session) if allowed or m not in PLAINTEXT_MECHANISMS]


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
    if await _check_password(session, command.userid, command.password):
        await _enter(session, command.userid)
        return ok("LOGIN completed")
    return await _fail(session, command.userid, "LOGIN", "wrong password or no such user")


async def _check_password(session: Session, user: str, password: str) -> bool:
    """argon2id, unless the login cache remembers these credentials against the hash the
    store holds now (one cheap lookup; see pyimapd.auth.cache)."""
    record = await session.ctx.backend.users.get_user(user)
    stored = record.password_hash if record else None
    cache = session.ctx.login_cache
    passwords = session.ctx.passwords
    if cache is not None and stored is not None:
        return await cache.verify_once(
            user, password, stored, lambda: passwords.verify_async(stored, password))
    return await passwords.verify_async(stored, password)


async def _enter(session: Session, user: str) -> None:
    """Enters the authenticated state (section 6.2.3)."""
    await session.enter_authenticated(user)
    if session.ctx.throttle is not None:
        session.ctx.throttle.record_success(user)
    session.log.info("user %s logged in from %s", user, session.io.peer_host)


async def _fail(session: Session, user: str, how: str, reason: str) -> Result:
    """Logs the failure with the client's IP and waits the throttle's delay."""
    delay = 0.0
    if session.ctx.throttle is not None:
        delay = session.ctx.throttle.record_failure(session.io.peer_host, user)
    session.log.warning(
        "authentication failed for %r from %s via %s (%s); answering in %.1fs",
        user, session.io.peer_host, how, reason, delay,
    )
    if delay:
        await asyncio.sleep(delay)
    return no("Authentication failed", AUTH_FAILED)


# --- AUTHENTICATE ------------------------------------------------------------------------


async def authenticate(session: Session, command: c.Authenticate) -> Result:
    """SASL exchange (RFC 3501 section 6.2.2, RFC 4959 initial response, RFC 4422)."""
    name = command.mechanism.upper()
    factory = enabled_mechanisms(session).get(name)
    if factory is None:
        return no(f"Unsupported authentication mechanism {command.mechanism}")
    if name in PLAINTEXT_MECHANISMS and not plaintext_allowed(session):
        session.log.info("AUTHENTICATE %s before TLS refused for %s", name, session.io.peer)
        return no(f"AUTHENTICATE {name} is disabled before TLS; use STARTTLS", PRIVACY_REQUIRED)
    mechanism = factory()
    try:
        step = await _exchange(session, mechanism, command.initial_response)
    except SaslError as exc:
        return bad(f"Invalid SASL response: {exc}")
    if step is None:
        return bad("AUTHENTICATE cancelled")
    return await _conclude(session, name, step)


async def _exchange(session: Session, mechanism: Mechanism, initial: bytes | None) -> Step | None:
    """Runs the step machine to its end; None when the client cancelled with ``*``."""
    step = mechanism.start(initial)
    while True:
        if isinstance(step, Challenge):
            response = await _read_response(session, step.data)
            if response is None:
                return None
            step = mechanism.step(response)
        elif isinstance(step, NeedSecret):
            record = await session.ctx.backend.users.get_user(step.authcid)
            step = mechanism.secret(record.secrets.get(mechanism.name) if record else None)
        else:
            return step


async def _conclude(session: Session, name: str, step: Step) -> Result:
    if isinstance(step, Rejected):
        return await _fail(session, step.authcid, name, step.reason)
    assert isinstance(step, Credentials | Verified)
    if step.authzid and step.authzid != step.authcid:
        session.log.warning("%r asked to act as %r: refused", step.authcid, step.authzid)
        return no("Authorization as another user is not allowed", AUTH_FAILED)
    if isinstance(step, Credentials) and not await _check_password(
        session, step.authcid, step.password
    ):
        return await _fail(session, step.authcid, name, "wrong password or no such user")
    await _enter(session, step.authcid)
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
