"""One ManageSieve connection (RFC 5804): log in, then manage the user's Sieve scripts.

How this works: :class:`SieveSession` reads lines through the sans-IO
:class:`~pyimapd.managesieve.protocol.LineReader`, one command at a time, and answers
in the formats of :mod:`pyimapd.managesieve.protocol`. Logging in goes through the
same :class:`~pyimapd.auth.login.Authenticator` as IMAP (password hashes, login cache,
throttle, SASL step machines, the plaintext policy), so a password guesser meets the
same delays on both listeners. Scripts live in the store (``MailStore.scripts()``),
which enforces the quotas and the one-active rule; this module checks that a script is
valid Sieve before it is stored or activated, so delivery never meets a script that
does not parse (RFC 5804 section 2.6: PUTSCRIPT "MUST" check it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from pyimapd.auth.login import Authenticator, authcid_of
from pyimapd.auth.sasl import PLAINTEXT_MECHANISMS, SaslError
from pyimapd.config import Config
from pyimapd.managesieve.protocol import (
    Argument,
    Atom,
    Line,
    LineReader,
    Malformed,
    TooLarge,
    capability_lines,
    literal,
    response,
    string,
)
from pyimapd.session.io import Channel
from pyimapd.sieve import SieveError, compile_script
from pyimapd.storage.interface import (
    Backend,
    MailStore,
    ScriptLimits,
    ScriptStore,
    StorageError,
)

log = logging.getLogger("pyimapd.managesieve")

MAX_NAME = 255
"""Characters in a script name (RFC 5804 section 1.6 lets a server limit them)."""


class InvalidScript(ValueError):
    """A script that is not valid Sieve for this server; the text says where and why
    (``line:column: ...``)."""


Checker = Callable[[str], list[str]]
"""Checks a script: returns its warnings, raises :class:`InvalidScript`."""


def check_script(text: str) -> list[str]:
    """The interpreter's parse and check (:mod:`pyimapd.sieve`): every problem with its
    ``line:column``, so the user can fix them all at once."""
    try:
        compile_script(text)
    except SieveError as exc:
        raise InvalidScript("; ".join(str(e) for e in exc.errors)) from None
    return []


@dataclass(frozen=True, slots=True)
class SieveServices:
    """What every ManageSieve session of a process shares."""

    config: Config
    backend: Backend
    authenticator: Authenticator
    checker: Checker
    extensions: tuple[str, ...]
    """The Sieve extensions the interpreter supports, for the SIEVE capability."""


class _Closed(Exception):
    pass


class SieveSession:
    def __init__(self, services: SieveServices, channel: Channel,
                 logger: logging.LoggerAdapter[logging.Logger]) -> None:
        self.services = services
        self.io = channel
        self.log = logger
        self.config = services.config
        self.reader = LineReader(max_literal=self.config.sieve.max_script_size)
        self.user: str | None = None
        self.store: MailStore | None = None
        self.errors = 0
        self.started = time.monotonic()

    # --- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        try:
            self.io.write(self._capabilities() + response("OK", "pyimapd ManageSieve ready"))
            await self.io.drain()
            while True:
                event = await self._next_event()
                if isinstance(event, TooLarge):
                    await self._error(event.reason, "QUOTA/MAXSIZE")
                elif isinstance(event, Malformed):
                    await self._error(event.reason)
                elif not event.arguments or not isinstance(event.arguments[0], Atom):
                    await self._error("Expected a command")
                elif not await self._dispatch(event.arguments[0].value, event.arguments[1:]):
                    return
                await self.io.drain()
        except TimeoutError:
            self.io.write(response("BYE", "Autologout; idle for too long"))
        except (_Closed, ConnectionError):
            pass
        finally:
            await self._logout_store()
            try:
                await self.io.drain()
            except ConnectionError:
                pass
            await self.io.close()

    async def _next_event(self) -> Line | Malformed | TooLarge:
        while True:
            event = self.reader.next_event()
            if event is not None:
                return event
            timeouts = self.config.timeouts
            timeout = timeouts.autologout if self.user else max(
                0.0, self.started + timeouts.unauthenticated - time.monotonic())
            async with asyncio.timeout(timeout):
                data = await self.io.read()
            if not data:
                raise _Closed()
            self.reader.receive(data)

    async def _error(self, text: str, code: str | None = None) -> None:
        """RFC 5804 has no BAD: a command it cannot take is NO; too many end the
        connection, as for IMAP."""
        self.errors += 1
        limit = (self.config.max_bad_commands if self.user
                 else self.config.max_bad_commands_unauthenticated)
        if self.errors >= limit:
            self.io.write(response("BYE", "Too many invalid commands"))
            raise _Closed()
        self.io.write(response("NO", text, code))

    async def _dispatch(self, name: str, args: tuple[Argument, ...]) -> bool:
        """Runs one command; False when the connection is to end."""
        if name == "LOGOUT":
            self.io.write(response("OK", "Logout completed"))
            return False
        handler = (_ANY.get(name) or (_AUTHENTICATED if self.user else _NOT_AUTHENTICATED)
                   .get(name))
        if handler is None:
            known = name in _AUTHENTICATED or name in _NOT_AUTHENTICATED
            await self._error(f"{name} is not allowed now" if known else f"Unknown command {name}")
            return True
        arity, run = handler
        if not _arguments_fit(args, arity):
            await self._error(f"Wrong arguments for {name}")
            return True
        try:
            await run(self, *args)
        except StorageError as exc:
            self.io.write(response("NO", exc.text, exc.code))
        return True

    # --- helpers --------------------------------------------------------------------

    def _plaintext_allowed(self) -> bool:
        if self.io.secure:
            return True
        policy = self.config.auth.plaintext_auth
        return policy == "always" or (policy == "loopback" and self.io.loopback)

    def _capabilities(self) -> bytes:
        """Section 1.7. SASL lists what may be used now (no password mechanism before
        TLS off loopback); STARTTLS only while it can be used."""
        sieve = self.config.sieve
        items: list[tuple[str, str | None]] = [
            ("IMPLEMENTATION", "pyimapd"),
            ("SIEVE", " ".join(self.services.extensions)),
        ]
        if self.user is None:
            mechanisms = self.services.authenticator.advertised(self._plaintext_allowed())
            items.append(("SASL", " ".join(mechanisms)))
            if self.io.tls_available:
                items.append(("STARTTLS", None))
        else:
            items.append(("OWNER", self.user))
        items += [("MAXREDIRECTS", str(sieve.max_redirects)), ("UNAUTHENTICATE", None),
                  ("VERSION", "1.0")]
        return capability_lines(items)

    def _scripts(self) -> ScriptStore:
        assert self.store is not None
        return self.store.scripts()

    def _limits(self) -> ScriptLimits:
        sieve = self.config.sieve
        return ScriptLimits(sieve.max_scripts, sieve.max_script_size)

    def _check(self, text: str) -> list[str] | None:
        """The script's warnings, or None after answering NO with its error."""
        try:
            return self.services.checker(text)
        except InvalidScript as exc:
            self.io.write(response("NO", str(exc)))
            return None

    async def _logout_store(self) -> None:
        if self.store is not None:
            await self.store.close()
            self.store = None
        self.user = None

    # --- commands -------------------------------------------------------------------

    async def capability(self) -> None:
        self.io.write(self._capabilities() + response("OK", "Capability completed"))

    async def noop(self, tag: str | None = None) -> None:
        """Section 2.13: the optional string comes back in a TAG response code."""
        code = None if tag is None else "TAG " + string(tag).decode("utf-8")
        self.io.write(response("OK", "Done", code))

    async def starttls(self) -> None:
        """Section 2.2, with IMAP's guard: nothing sent after the STARTTLS line is kept;
        the capabilities are sent again once TLS is up."""
        if self.io.secure or not self.io.tls_available:
            self.io.write(response("NO", "TLS is not available"))
            return
        dropped = self.io.hold_input() + self.reader.discard()
        if dropped:
            self.log.warning("discarded %d octets sent after STARTTLS", dropped)
        self.io.write(response("OK", "Begin TLS negotiation now"))
        await self.io.drain()
        try:
            await self.io.start_tls()
        except (OSError, TimeoutError, ConnectionError) as exc:
            self.log.info("TLS handshake with %s failed: %s", self.io.peer, exc)
            raise _Closed() from None
        self.io.write(self._capabilities() + response("OK", "TLS active"))

    async def authenticate(self, mechanism: str, initial: str | None = None) -> None:
        """Section 2.1: challenges and answers are base64 strings; ``"*"`` cancels."""
        authenticator = self.services.authenticator
        name = mechanism.upper()
        factory = authenticator.enabled().get(name)
        if factory is None:
            self.io.write(response("NO", f"Unsupported mechanism {mechanism}"))
            return
        if name in PLAINTEXT_MECHANISMS and not self._plaintext_allowed():
            self.io.write(response("NO", f"{name} is disabled before TLS; use STARTTLS",
                                   "ENCRYPT-NEEDED"))
            return
        try:
            first = None if initial is None else _b64(initial)
            step = await authenticator.exchange(factory(), first, self._challenge)
        except SaslError as exc:
            self.io.write(response("NO", f"Invalid SASL response: {exc}"))
            return
        if step is None:
            self.io.write(response("NO", "Authentication cancelled"))
            return
        user, reason = await authenticator.conclude(step)
        if user is None:
            await authenticator.failed(self.log, self.io.peer_host, authcid_of(step),
                                       f"ManageSieve {name}", reason)
            self.io.write(response("NO", "Authentication failed"))
            return
        self.store = await self.services.backend.open_owner(user)
        self.user = user
        authenticator.succeeded(user)
        self.log.info("user %s logged in to ManageSieve from %s", user, self.io.peer_host)
        self.io.write(response("OK", "Logged in"))

    async def _challenge(self, data: bytes) -> bytes | None:
        self.io.write(string(base64.b64encode(data).decode("ascii")) + b"\r\n")
        await self.io.drain()
        event = await self._next_event()
        if not isinstance(event, Line) or len(event.arguments) != 1 \
                or not isinstance(event.arguments[0], str):
            raise SaslError("expected a string")
        answer = event.arguments[0]
        return None if answer == "*" else _b64(answer)

    async def unauthenticate(self) -> None:
        """Section 2.14.1 (UNAUTHENTICATE): back to the not-authenticated state."""
        await self._logout_store()
        self.started = time.monotonic()
        self.io.write(response("OK", "Logged out; log in again"))

    async def havespace(self, name: str, size: int) -> None:
        """Section 2.5: would PUTSCRIPT of this size fit the quotas now?"""
        if not _valid_name(self, name):
            return
        limits = self._limits()
        if size > limits.max_size:
            self.io.write(response("NO", f"Scripts are limited to {limits.max_size} octets",
                                   "QUOTA/MAXSIZE"))
            return
        scripts = await self._scripts().list()
        if name not in {s.name for s in scripts} and len(scripts) >= limits.max_scripts:
            self.io.write(response("NO", f"At most {limits.max_scripts} scripts",
                                   "QUOTA/MAXSCRIPTS"))
            return
        self.io.write(response("OK", "Putscript would succeed"))

    async def putscript(self, name: str, text: str) -> None:
        """Section 2.6: checked, then stored (replacing one of the same name)."""
        if not _valid_name(self, name):
            return
        warnings = self._check(text)
        if warnings is None:
            return
        await self._scripts().put(name, text, self._limits())
        self._ok_with(warnings, "Script stored")

    async def checkscript(self, text: str) -> None:
        """Section 2.12: as PUTSCRIPT, without storing."""
        warnings = self._check(text)
        if warnings is not None:
            self._ok_with(warnings, "Script is valid")

    def _ok_with(self, warnings: list[str], text: str) -> None:
        if warnings:
            self.io.write(response("OK", "; ".join(warnings), "WARNINGS"))
        else:
            self.io.write(response("OK", text))

    async def listscripts(self) -> None:
        """Section 2.7."""
        out = bytearray()
        for info in await self._scripts().list():
            out += string(info.name) + (b" ACTIVE" if info.active else b"") + b"\r\n"
        self.io.write(bytes(out) + response("OK", "Listscripts completed"))

    async def setactive(self, name: str) -> None:
        """Section 2.8: ``""`` deactivates. The script is checked again: one stored by
        an older server may use what this one does not know."""
        scripts = self._scripts()
        if name == "":
            await scripts.activate(None)
            self.io.write(response("OK", "No script is active now"))
            return
        if self._check(await scripts.get(name)) is None:
            return
        await scripts.activate(name)
        self.io.write(response("OK", f"{name} is active"))

    async def getscript(self, name: str) -> None:
        """Section 2.9: the script as a literal, on its own line."""
        text = await self._scripts().get(name)
        self.io.write(literal(text) + response("OK", "Getscript completed"))

    async def deletescript(self, name: str) -> None:
        """Section 2.10: never the active script (NO (ACTIVE))."""
        await self._scripts().delete(name)
        self.io.write(response("OK", "Script deleted"))

    async def renamescript(self, old: str, new: str) -> None:
        """Section 2.11."""
        if not _valid_name(self, new):
            return
        await self._scripts().rename(old, new)
        self.io.write(response("OK", "Script renamed"))


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SaslError("not valid base64") from exc


def _valid_name(session: SieveSession, name: str) -> bool:
    """Section 1.6: a script name is non-empty Net-Unicode without control characters
    (C0, DEL, C1) or the line and paragraph separators."""
    bad = (not name or len(name) > MAX_NAME or name != unicodedata.normalize("NFC", name)
           or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029"
                  for ch in name))
    if bad:
        session.io.write(response("NO", "Invalid script name"))
    return not bad


def _arguments_fit(args: tuple[Argument, ...], arity: tuple[type, ...]) -> bool:
    """``arity`` lists the argument types, optional ones as ``type | None``-ish: a
    trailing ``None`` entry marks where the optional ones start."""
    required = arity.index(type(None)) if type(None) in arity else len(arity)
    kinds = [k for k in arity if k is not type(None)]
    if not required <= len(args) <= len(kinds):
        return False
    return all(isinstance(a, k) and not isinstance(a, bool) for a, k in zip(args, kinds,
                                                                          strict=False))


Handler = tuple[tuple[type, ...], Callable[..., object]]
_NONE = type(None)
_ANY: dict[str, Handler] = {
    "CAPABILITY": ((), SieveSession.capability),
    "NOOP": ((_NONE, str), SieveSession.noop),
}
_NOT_AUTHENTICATED: dict[str, Handler] = {
    "STARTTLS": ((), SieveSession.starttls),
    "AUTHENTICATE": ((str, _NONE, str), SieveSession.authenticate),
}
_AUTHENTICATED: dict[str, Handler] = {
    "UNAUTHENTICATE": ((), SieveSession.unauthenticate),
    "HAVESPACE": ((str, int), SieveSession.havespace),
    "PUTSCRIPT": ((str, str), SieveSession.putscript),
    "CHECKSCRIPT": ((str,), SieveSession.checkscript),
    "LISTSCRIPTS": ((), SieveSession.listscripts),
    "SETACTIVE": ((str,), SieveSession.setactive),
    "GETSCRIPT": ((str,), SieveSession.getscript),
    "DELETESCRIPT": ((str,), SieveSession.deletescript),
    "RENAMESCRIPT": ((str, str), SieveSession.renamescript),
}
