"""SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, as a step machine.

How this works (RFC 5802 section 5): the client sends ``gs2-header client-first-bare``
(``n,,n=user,r=cnonce``); we answer :class:`NeedSecret`, then with the stored salt and
iteration count send ``r=cnonce+snonce,s=salt,i=n``. The client's final message
``c=...,r=...,p=proof`` is checked against StoredKey; we then send ``v=ServerSignature``
as a last challenge, and the client's empty answer ends the exchange (IMAP has no
"success with data", RFC 4422 section 5 item 7). Channel binding (``-PLUS``) is not
offered, so a ``p=`` gs2 flag is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from pyimapd.auth.sasl import Challenge, NeedSecret, Rejected, SaslError, Step, Verified
from pyimapd.auth.stored import SCRAM_HASHES, SCRAM_ITERATIONS, ScramSecret

_SASLNAME = re.compile(r"(?:[^,=]|=2C|=3D)+")
_EXTENSION = re.compile(r"[A-Za-z]=.+", re.S)
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_FIRST, _FINAL, _ACK, _DONE = range(4)


def _saslname(value: str) -> str:
    """``saslname``: ``,`` and ``=`` escaped as ``=2C`` and ``=3D`` (section 5.1)."""
    if not _SASLNAME.fullmatch(value):
        raise SaslError("malformed SCRAM user name")
    return value.replace("=2C", ",").replace("=3D", "=")


def _attributes(text: str, names: str) -> list[str]:
    """Splits ``a=...,b=...`` and checks the leading attribute names are ``names``."""
    parts = text.split(",")
    if len(parts) < len(names):
        raise SaslError("SCRAM message is missing attributes")
    values = []
    for name, part in zip(names, parts, strict=False):
        if not part.startswith(name + "="):
            raise SaslError(f"SCRAM message lacks the {name}= attribute")
        values.append(part[2:])
    return values + [",".join(parts[len(names):])]


class ScramMechanism:
    plaintext = False

    def __init__(self, name: str, fake_salt_key: bytes) -> None:
        self.name = name
        self._hash = SCRAM_HASHES[name]
        self._fake_key = fake_salt_key
        self._state = _FIRST
        self._gs2 = ""
        self._authzid = ""
        self._user = ""
        self._first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._secret: ScramSecret | None = None
        self._signature = b""

    def start(self, initial: bytes | None) -> Step:
        if initial is None:
            return Challenge(b"")
        return self.step(initial)

    def step(self, data: bytes) -> Step:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SaslError("SCRAM messages are UTF-8") from exc
        if self._state == _FIRST:
            return self._client_first(text)
        if self._state == _FINAL:
            return self._client_final(text)
        if self._state == _ACK and not data:
            self._state = _DONE
            return Verified(self._authzid, self._user)
        raise SaslError("unexpected SCRAM message")

    def _client_first(self, text: str) -> Step:
        flag, authz, bare = (text.split(",", 2) + ["", ""])[:3]
        if flag.startswith("p="):
            raise SaslError("channel binding is not supported")
        if flag not in ("n", "y") or (authz and not authz.startswith("a=")):
            raise SaslError("malformed SCRAM gs2 header")
        self._authzid = _saslname(authz[2:]) if authz else ""
        self._gs2 = f"{flag},{authz},"
        if bare.startswith("m="):
            raise SaslError("SCRAM mandatory extensions are not supported")
        user, nonce, extensions = _attributes(bare, "nr")
        if extensions and not all(_EXTENSION.fullmatch(x) for x in extensions.split(",")):
            raise SaslError("malformed SCRAM extension")
        if not _PRINTABLE.fullmatch(nonce):
            raise SaslError("malformed SCRAM nonce")
        self._user = _saslname(user)
        self._first_bare = bare
        self._nonce = nonce + base64.b64encode(os.urandom(18)).decode()
        return NeedSecret(self._user)

    def secret(self, stored: str | None) -> Step:
        if self._state != _FIRST or not self._nonce:
            raise SaslError("SCRAM secret given out of turn")
        secret: ScramSecret | None = None
        if stored:
            try:
                secret = ScramSecret.decode(stored)
            except ValueError:
                secret = None
        self._secret = secret
        if secret is None:  # unknown user: a stable fake salt hides that (section 9)
            salt = hmac.digest(self._fake_key, self._user.encode(), "sha256")[:16]
            iterations = SCRAM_ITERATIONS
        else:
            salt, iterations = secret.salt, secret.iterations
        self._server_first = (
            f"r={self._nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        )
        self._state = _FINAL
        return Challenge(self._server_first.encode())

    def _client_final(self, text: str) -> Step:
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        if not sep:
            raise SaslError("SCRAM final message lacks the proof")
        channel, nonce, _ = _attributes(without_proof, "cr")
        try:
            proof = base64.b64decode(proof_b64, validate=True)
            channel_ok = base64.b64decode(channel, validate=True) == self._gs2.encode()
        except ValueError as exc:
            raise SaslError("SCRAM final message has bad base64") from exc
        if not channel_ok or not hmac.compare_digest(nonce, self._nonce):
            return Rejected(self._user, "SCRAM channel binding or nonce mismatch")
        secret = self._secret
        if secret is None:
            return Rejected(self._user, f"no {self.name} secret")
        auth_message = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        signature = hmac.digest(secret.stored_key, auth_message, self._hash)
        if len(proof) != len(signature):
            return Rejected(self._user, "wrong SCRAM proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self._hash, client_key).digest(),
                                   secret.stored_key):
            return Rejected(self._user, "wrong SCRAM proof")
        server_signature = hmac.digest(secret.server_key, auth_message, self._hash)
        self._state = _ACK
        return Challenge(b"v=" + base64.b64encode(server_signature))
