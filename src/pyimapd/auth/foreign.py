"""Password hashes brought from Dovecot (issue 20): verified as they are, so that users
keep their passwords across the switch, and replaced by argon2id at the first login.

A foreign hash is stored with Dovecot's scheme prefix, ``{SCHEME}hash``, which no
argon2 PHC string starts with. Each scheme is checked by a library made for it:
argon2-cffi for ``{ARGON2ID}``/``{ARGON2I}`` (PHC strings), ``bcrypt`` for
``{BLF-CRYPT}`` (``$2y$``...), libpass (the maintained passlib) for ``{SHA512-CRYPT}``,
``{SHA256-CRYPT}`` and ``{SSHA512}``; ``{CRAM-MD5}`` is the HMAC-MD5 context pair that
:mod:`pyimapd.auth.stored` already keeps for CRAM-MD5 logins, so a password is checked
by deriving it again; ``{PLAIN}`` is only ever seen at import, where it is hashed at
once and never stored.
"""

from __future__ import annotations

import hmac

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from passlib.hash import ldap_salted_sha512, sha256_crypt, sha512_crypt

from pyimapd.auth import stored

SCHEMES = ("ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "SSHA512",
           "CRAM-MD5", "PLAIN")
"""What ``pyimapd user import-passwd`` takes, in Dovecot's spelling."""

_ARGON2 = PasswordHasher()


def split(value: str) -> tuple[str, str] | None:
    """``{SCHEME}rest`` -> (SCHEME upper-cased, rest); None without a prefix."""
    if not value.startswith("{") or "}" not in value:
        return None
    scheme, _, rest = value[1:].partition("}")
    return scheme.upper(), rest


def is_foreign(stored_hash: str) -> bool:
    return stored_hash.startswith("{")


def verify(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches a ``{SCHEME}hash``; False for an unknown scheme."""
    parts = split(stored_hash)
    if parts is None:
        return False
    scheme, value = parts
    secret = password.encode("utf-8", "surrogateescape")
    try:
        if scheme in ("ARGON2ID", "ARGON2I"):
            return _ARGON2.verify(value, secret)
        if scheme == "BLF-CRYPT":
            return bcrypt.checkpw(secret, value.encode("ascii"))
        if scheme == "SHA512-CRYPT":
            return bool(sha512_crypt.verify(secret, value))
        if scheme == "SHA256-CRYPT":
            return bool(sha256_crypt.verify(secret, value))
        if scheme == "SSHA512":
            return bool(ldap_salted_sha512.verify(secret, "{SSHA512}" + value))
        if scheme == "CRAM-MD5":
            return hmac.compare_digest(stored.cram_md5_secret(password),
                                       cram_md5_from_dovecot(value))
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, TypeError):
        return False
    return False


def cram_md5_from_dovecot(value: str) -> str:
    """Dovecot's ``{CRAM-MD5}`` is the same two HMAC-MD5 states as ours
    (:func:`pyimapd.auth.stored.cram_md5_secret`), outer one first; ours is inner first."""
    value = value.lower()
    return value[32:] + value[:32]


def check_format(scheme: str, value: str) -> str | None:
    """Why ``value`` cannot be a hash of ``scheme`` (for import's line-numbered
    errors), or None when it looks right."""
    prefixes = {"ARGON2ID": "$argon2id$", "ARGON2I": "$argon2i$", "BLF-CRYPT": "$2",
                "SHA512-CRYPT": "$6$", "SHA256-CRYPT": "$5$"}
    if scheme not in SCHEMES:
        return f"unknown password scheme {{{scheme}}}; supported: " + ", ".join(
            "{" + s + "}" for s in SCHEMES)
    want = prefixes.get(scheme)
    if want is not None and not value.startswith(want):
        return f"a {{{scheme}}} hash starts with {want}"
    if scheme == "CRAM-MD5" and (len(value) != 64 or not all(
            c in "0123456789abcdefABCDEF" for c in value)):
        return "a {CRAM-MD5} value is 64 hexadecimal digits"
    if scheme == "PLAIN" and not value:
        return "an empty {PLAIN} password"
    return None
