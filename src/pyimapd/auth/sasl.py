"""SASL mechanisms (RFC 4422) as sans-IO step machines: bytes in, a challenge or an end.

A mechanism never sees a socket or the store: the session feeds it the client's decoded
responses and, when the mechanism is done, verifies the credentials it produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


class PlainMechanism:
    """PLAIN (RFC 4616): one message ``[authzid] NUL authcid NUL passwd``, UTF-8."""

    name = "PLAIN"

    def start(self, initial: bytes | None) -> Challenge | Credentials:
        if initial is None:
            return Challenge(b"")
        return self.step(initial)

    def step(self, data: bytes) -> Challenge | Credentials:
        fields_ = data.split(b"\x00")
        if len(fields_) != 3:
            raise SaslError("PLAIN expects authzid NUL authcid NUL password")
        try:
            authzid, authcid, password = (f.decode("utf-8") for f in fields_)
        except UnicodeDecodeError as exc:
            raise SaslError("PLAIN credentials must be UTF-8") from exc
        if not authcid or not password:
            raise SaslError("PLAIN needs a user name and a password")
        return Credentials(authzid, authcid, password)


MECHANISMS: dict[str, type[PlainMechanism]] = {"PLAIN": PlainMechanism}
