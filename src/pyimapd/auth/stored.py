"""What is stored per account for the challenge-response SASL mechanisms.

LOGIN and PLAIN are checked against the argon2id hash. CRAM-MD5 and SCRAM cannot be: the
server never sees the password, so it needs a secret derived from it. None of these is
the password itself:

``SCRAM-SHA-1``, ``SCRAM-SHA-256`` (RFC 5802 section 3, RFC 7677)
    ``iterations,salt,StoredKey,ServerKey`` (base64). StoredKey = H(HMAC(SaltedPassword,
    "Client Key")) lets the server check a proof without being able to produce one.
``CRAM-MD5`` (RFC 2195)
    the hex of the two MD5 states HMAC-MD5 reaches after absorbing ``key XOR ipad`` and
    ``key XOR opad``, in that order (Dovecot's CRAM-MD5 scheme keeps the same two
    states, the opad one first: auth/foreign.py converts). Not the password, but
    equivalent to it for CRAM-MD5 logins: see docs/security.md.

:func:`derive` builds all of them when a password is set (``pyimapd user add|passwd``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata
from dataclasses import dataclass

from pyimapd.auth import md5

SCRAM_ITERATIONS = 4096
"""RFC 7677 section 4: at least 4096 iterations for SCRAM-SHA-256."""

SCRAM_HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}
CRAM_MD5 = "CRAM-MD5"


def saslprep(text: str) -> str:
    """SASLprep (RFC 4013): the string preparation SCRAM applies to passwords.

    Mapping (section 2.1), NFKC (2.2), prohibited output (2.3) and the bidi rule (2.4).
    Unassigned code points are allowed, as for a "query" (RFC 3454 section 7).
    """
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch
        for ch in text
        if not stringprep.in_table_b1(ch)
    )
    prepared = unicodedata.normalize("NFKC", mapped)
    prohibited = (
        stringprep.in_table_c12, stringprep.in_table_c21, stringprep.in_table_c22,
        stringprep.in_table_c3, stringprep.in_table_c4, stringprep.in_table_c5,
        stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
        stringprep.in_table_c9,
    )
    for ch in prepared:
        if any(test(ch) for test in prohibited):
            raise ValueError("the password contains a character SASLprep prohibits")
    rtl = [stringprep.in_table_d1(ch) for ch in prepared]
    if any(rtl):
        if any(stringprep.in_table_d2(ch) for ch in prepared):
            raise ValueError("the password mixes left-to-right and right-to-left text")
        if not (rtl[0] and rtl[-1]):
            raise ValueError("right-to-left text must start and end with an RTL character")
    return prepared


@dataclass(frozen=True, slots=True)
class ScramSecret:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def encode(self) -> str:
        b64 = base64.b64encode
        return ",".join(
            [str(self.iterations)]
            + [b64(x).decode() for x in (self.salt, self.stored_key, self.server_key)]
        )

    @classmethod
    def decode(cls, text: str) -> ScramSecret:
        iterations, salt, stored, server = text.split(",")
        b64 = base64.b64decode
        return cls(int(iterations), b64(salt), b64(stored), b64(server))


def scram_secret(
    hash_name: str, password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> ScramSecret:
    """RFC 5802 section 3: SaltedPassword = Hi(Normalize(password), salt, i)."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac(hash_name, saslprep(password).encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", hash_name)
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", hash_name)
    return ScramSecret(iterations, salt, stored_key, server_key)


def cram_md5_secret(password: str) -> str:
    inner, outer = md5.hmac_states(password.encode("utf-8"))
    return (md5.pack_state(inner) + md5.pack_state(outer)).hex()


def cram_md5_states(secret: str) -> tuple[md5.State, md5.State]:
    raw = bytes.fromhex(secret)
    if len(raw) != 32:
        raise ValueError("a CRAM-MD5 secret is 32 octets")
    return md5.unpack_state(raw[:16]), md5.unpack_state(raw[16:])


def derive(password: str, iterations: int = SCRAM_ITERATIONS) -> dict[str, str]:
    """Every SASL secret for ``password``, keyed by mechanism name. A password SASLprep
    refuses gets no SCRAM secrets (SCRAM logins are then impossible, PLAIN still works)."""
    secrets = {CRAM_MD5: cram_md5_secret(password)}
    for mechanism, hash_name in SCRAM_HASHES.items():
        try:
            secrets[mechanism] = scram_secret(hash_name, password, None, iterations).encode()
        except ValueError:
            continue
    return secrets
