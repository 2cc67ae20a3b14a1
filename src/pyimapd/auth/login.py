"""Checking who a client is, for every protocol that logs in (IMAP, ManageSieve).

How this works: an :class:`Authenticator` holds what a login needs across sessions of
one process (the account store, the argon2id hasher, the login cache, the failed-login
throttle, the SASL fake-salt key) and offers the three steps each protocol's session
runs in its own wire format: :meth:`~Authenticator.check_password` for LOGIN and the
password mechanisms, :meth:`~Authenticator.exchange` to drive a SASL step machine with
a callback that sends a challenge and reads the answer, and
:meth:`~Authenticator.failed` / :meth:`~Authenticator.succeeded` for the throttle and
the log. So a password is checked one way whatever the protocol, and a guesser
gets the same progressive delay on every listener.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyimapd.auth import stored as stored_secrets
from pyimapd.auth.cache import LoginCache
from pyimapd.auth.passwords import Passwords
from pyimapd.auth.sasl import (
    PLAINTEXT_MECHANISMS,
    Challenge,
    Credentials,
    Mechanism,
    NeedSecret,
    Rejected,
    Step,
    Verified,
    mechanisms,
)
from pyimapd.auth.throttle import LoginThrottle
from pyimapd.storage.interface import StorageError, UserStore

ReadResponse = Callable[[bytes], Awaitable[bytes | None]]
"""Sends a challenge, returns the client's decoded answer, None when it cancelled."""


@dataclass
class Authenticator:
    users: UserStore
    passwords: Passwords
    cache: LoginCache | None
    throttle: LoginThrottle | None
    sasl_key: bytes
    configured: tuple[str, ...]
    """The mechanisms the configuration enables, in its order."""
    rehash: bool = True
    """An imported hash (or argon2id with old parameters) becomes argon2id at the first
    login that proves the password (``[auth] rehash_imported``)."""

    def enabled(self) -> dict[str, Callable[[], Mechanism]]:
        factories = mechanisms("localhost", self.sasl_key)
        return {m: factories[m] for m in self.configured if m in factories}

    def advertised(self, plaintext_allowed: bool) -> list[str]:
        """Before TLS off loopback, the mechanisms that send a password are not offered."""
        return [m for m in self.enabled()
                if plaintext_allowed or m not in PLAINTEXT_MECHANISMS]

    async def check_password(self, user: str, password: str) -> bool:
        """argon2id, unless the login cache remembers these credentials against the hash
        the store holds now (one cheap lookup; see pyimapd.auth.cache)."""
        record = await self.users.get_user(user)
        stored = record.password_hash if record else None
        if self.cache is not None and stored is not None:
            good = await self.cache.verify_once(
                user, password, stored, lambda: self.passwords.verify_async(stored, password))
        else:
            good = await self.passwords.verify_async(stored, password)
        if good and stored is not None and self.rehash and self.passwords.needs_rehash(stored):
            await self._rehash(user, password)
        return good

    async def _rehash(self, user: str, password: str) -> None:
        """argon2id and the SASL secrets from the password just proved (issue 20)."""
        new_hash = await asyncio.to_thread(self.passwords.hash, password)
        secrets = await asyncio.to_thread(stored_secrets.derive, password)
        try:
            await self.users.set_password(user, new_hash, secrets)
        except StorageError as exc:
            logging.getLogger("pyimapd.auth").warning(
                "could not rehash the password of %s: %s", user, exc.text)
            return
        logging.getLogger("pyimapd.auth").info("password of %s rehashed to argon2id", user)

    async def exchange(
        self, mechanism: Mechanism, initial: bytes | None, read: ReadResponse
    ) -> Step | None:
        """Runs the step machine to its end; None when the client cancelled."""
        step = mechanism.start(initial)
        while True:
            if isinstance(step, Challenge):
                response = await read(step.data)
                if response is None:
                    return None
                step = mechanism.step(response)
            elif isinstance(step, NeedSecret):
                record = await self.users.get_user(step.authcid)
                step = mechanism.secret(record.secrets.get(mechanism.name) if record else None)
            else:
                return step

    async def conclude(self, step: Step) -> tuple[str | None, str]:
        """The user a finished exchange proved, or None with the reason it did not."""
        if isinstance(step, Rejected):
            return None, step.reason
        assert isinstance(step, Credentials | Verified)
        if step.authzid and step.authzid != step.authcid:
            return None, f"asked to act as {step.authzid!r}"
        if isinstance(step, Credentials) and not await self.check_password(
                step.authcid, step.password):
            return None, "wrong password or no such user"
        return step.authcid, ""

    async def failed(self, log: logging.LoggerAdapter[logging.Logger], ip: str, user: str,
                     how: str, reason: str) -> None:
        """Logs the failure with the client's IP and waits the throttle's delay."""
        delay = self.throttle.record_failure(ip, user) if self.throttle is not None else 0.0
        log.warning("authentication failed for %r from %s via %s (%s); answering in %.1fs",
                    user, ip, how, reason, delay)
        if delay:
            await asyncio.sleep(delay)

    def succeeded(self, user: str) -> None:
        if self.throttle is not None:
            self.throttle.record_success(user)


def authcid_of(step: Step) -> str:
    """Whom a finished exchange was about, for the log of a failure."""
    return getattr(step, "authcid", "")
