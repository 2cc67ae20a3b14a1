"""SASL mechanisms (RFC 4422) as sans-IO step machines: bytes in, a step out.

How this works: the session calls ``start(initial_response)`` and then ``step(data)`` with
each decoded client response. Each call returns what the session must do next:

* :class:`Challenge` - send ``+ base64(data)`` and feed the client's answer to ``step``;
* :class:`Credentials` - a password mechanism (PLAIN, LOGIN) is done: the session checks
  the password against the argon2id hash;
* :class:`NeedSecret` - a challenge-response mechanism (CRAM-MD5, SCRAM) needs the stored
  secret of the user it names: the session looks it up and calls ``secret(stored)``
  (``None`` when there is no such user or secret; the exchange then goes on and fails
  at the end, so it does not tell whether the user exists);
* :class:`Verified` / :class:`Rejected` - the mechanism checked the proof itself.

A malformed response raises :class:`SaslError`. A mechanism never sees a socket or the
store. SCRAM lives in :mod:`pyimapd.auth.scram`.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pyimapd.auth import md5
from pyimapd.auth.stored import CRAM_MD5, cram_md5_states


class SaslError(ValueError):
    """The client's response is malformed for this mechanism."""


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a password mechanism yields: the session checks them against the store."""

    authzid: str
    authcid: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NeedSecret:
    """The mechanism needs the stored secret (``UserRecord.secrets[mechanism]``)."""

    authcid: str


@dataclass(frozen=True, slots=True)
class Verified:
    authzid: str
    authcid: str


@dataclass(frozen=True, slots=True)
class Rejected:
    authcid: str
    reason: str


Step = Challenge | Credentials | NeedSecret | Verified | Rejected


class Mechanism(Protocol):
    name: str
    plaintext: bool
    """True when the password crosses the wire (refused before TLS off loopback)."""

    def start(self, initial: bytes | None) -> Step: ...
    def step(self, data: bytes) -> Step: ...
    def secret(self, stored: str | None) -> Step: ...


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SaslError(f"{what} must be UTF-8") from exc


class _PasswordMechanism:
    plaintext = True

    def secret(self, stored: str | None) -> Step:
        raise SaslError(f"{type(self).__name__} does not use stored secrets")


class PlainMechanism(_PasswordMechanism):
    """PLAIN (RFC 4616): one message ``[authzid] NUL authcid NUL passwd``, UTF-8."""

    name = "PLAIN"

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"")
        return self.step(initial)

    def step(self, data: bytes) -> Step:
        fields_ = data.split(b"\x00")
        if len(fields_) != 3:
            raise SaslError("PLAIN expects authzid NUL authcid NUL password")
        authzid, authcid, password = (_utf8(f, "PLAIN credentials") for f in fields_)
        if not authcid or not password:
            raise SaslError("PLAIN needs a user name and a password")
        return Credentials(authzid, authcid, password)


class LoginMechanism(_PasswordMechanism):
    """LOGIN (draft-murchison-sasl-login): ``Username:`` then ``Password:`` challenges.

    Obsolete but still what many clients (Outlook among them) offer first. A SASL-IR
    initial response carries the user name.
    """

    name = "LOGIN"

    def __init__(self) -> None:
        self._user: str | None = None

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"Username:")
        return self.step(initial)

    def step(self, data: bytes) -> Step:
        if self._user is None:
            self._user = _utf8(data, "LOGIN user name")
            if not self._user:
                raise SaslError("LOGIN needs a user name")
            return Challenge(b"Password:")
        password = _utf8(data, "LOGIN password")
        if not password:
            raise SaslError("LOGIN needs a password")
        return Credentials("", self._user, password)


_CRAM_RESPONSE = re.compile(rb"(.+) ([0-9a-f]{32})", re.S)
_DUMMY_STATES = md5.hmac_states(b"pyimapd-no-such-user")


class CramMd5Mechanism:
    """CRAM-MD5 (RFC 2195): challenge ``<nonce.time@host>``, response ``user SP hex``
    where hex is HMAC-MD5(password, challenge), checked from the stored MD5 states."""

    name = CRAM_MD5
    plaintext = False

    def __init__(self, hostname: str = "localhost") -> None:
        self._challenge = f"<{os.urandom(8).hex()}.{int(time.time())}@{hostname}>".encode()
        self._user = ""
        self._digest = b""

    def start(self, initial: bytes | None) -> Step:
        if initial is not None:
            raise SaslError("CRAM-MD5 takes no initial response")
        return Challenge(self._challenge)

    def step(self, data: bytes) -> Step:
        if self._user:
            raise SaslError("CRAM-MD5 has a single response")
        m = _CRAM_RESPONSE.fullmatch(data)
        if m is None:
            raise SaslError("CRAM-MD5 expects 'user SP 32 lowercase hex digits'")
        self._user = _utf8(m.group(1), "CRAM-MD5 user name")
        self._digest = bytes.fromhex(m.group(2).decode())
        return NeedSecret(self._user)

    def secret(self, stored: str | None) -> Step:
        try:
            inner, outer = cram_md5_states(stored) if stored else _DUMMY_STATES
        except ValueError:
            inner, outer = _DUMMY_STATES
        expected = md5.hmac_from_states(inner, outer, self._challenge)
        if hmac.compare_digest(expected, self._digest) and stored:
            return Verified("", self._user)
        return Rejected(self._user, "wrong CRAM-MD5 digest" if stored else "no CRAM-MD5 secret")


def mechanisms(hostname: str, fake_salt_key: bytes) -> dict[str, Callable[[], Mechanism]]:
    """Factories of every mechanism we implement, in the order CAPABILITY lists them.

    ``fake_salt_key`` makes SCRAM answer an unknown user with a stable fake salt.
    """
    from pyimapd.auth.scram import ScramMechanism

    return {
        "PLAIN": PlainMechanism,
        "LOGIN": LoginMechanism,
        "CRAM-MD5": lambda: CramMd5Mechanism(hostname),
        "SCRAM-SHA-1": lambda: ScramMechanism("SCRAM-SHA-1", fake_salt_key),
        "SCRAM-SHA-256": lambda: ScramMechanism("SCRAM-SHA-256", fake_salt_key),
    }


MECHANISM_NAMES = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")
PLAINTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})
