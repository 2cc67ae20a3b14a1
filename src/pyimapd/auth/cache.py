"""A cache of recent successful password verifications, so that clients which reconnect
often (phones, IDLE-per-folder clients) do not pay argon2id on every LOGIN.

How this works: an entry is keyed by HMAC-SHA256(per-process random key, user NUL
password), so neither the password nor an unkeyed hash of it is ever held. The entry
records the user's stored argon2 hash at the time it was verified. A hit counts only if
it has not expired (``ttl`` seconds) *and* the user's stored hash is still the same: the
caller does one cheap store lookup and passes the current hash in. That is how ``pyimapd
user passwd`` and ``user del``, which run in another process, invalidate entries: a new
password means a new hash (new salt), a deleted user has none. Failed logins are never
cached. The cache is bounded (``max_entries``); the oldest entries go first.

Logins of the same credentials that arrive together (fifty clients of one account
started at once, every phone of a family after the server restarts) share one argon2id
run, :meth:`LoginCache.verify_once`: each run costs 0.1 s of a core and 64 MiB, and
before this a 50-client start-up kept both cores busy for seconds, with clients waiting
more than 3 s for their first answer (issue 15).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_TTL = 300.0
DEFAULT_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    stored_hash: str
    expires: float


class LoginCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._running: dict[tuple[bytes, str], asyncio.Task[bool]] = {}
        self.hits = 0
        self.misses = 0

    def _slot(self, user: str, password: str) -> bytes:
        material = user.encode("utf-8", "surrogatepass") + b"\x00" + password.encode(
            "utf-8", "surrogatepass")
        return hmac.digest(self._key, material, hashlib.sha256)

    def check(self, user: str, password: str, current_hash: str | None) -> bool:
        """True when these credentials were verified against ``current_hash`` within
        the TTL. ``current_hash`` is the user's stored hash now (None: no such user)."""
        if self.ttl <= 0 or current_hash is None:
            return False
        slot = self._slot(user, password)
        entry = self._entries.get(slot)
        if entry is None:
            self.misses += 1
            return False
        if entry.expires <= self._clock() or not hmac.compare_digest(
            entry.stored_hash.encode(), current_hash.encode()
        ):
            del self._entries[slot]
            self.misses += 1
            return False
        self.hits += 1
        return True

    async def verify_once(
        self, user: str, password: str, stored_hash: str,
        verify: Callable[[], Awaitable[bool]],
    ) -> bool:
        """Whether the credentials match ``stored_hash``: from the cache, else from the
        verification of the same credentials already running, else by running
        ``verify`` (remembered if it succeeds). The run is a task of its own, so a
        client that disconnects does not cancel it for the others waiting on it."""
        if self.check(user, password, stored_hash):
            return True
        key = (self._slot(user, password), stored_hash)
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._verify(key, user, password, stored_hash, verify))
            self._running[key] = task
        return await asyncio.shield(task)

    async def _verify(
        self, key: tuple[bytes, str], user: str, password: str, stored_hash: str,
        verify: Callable[[], Awaitable[bool]],
    ) -> bool:
        try:
            ok = await verify()
        finally:
            self._running.pop(key, None)
        if ok:
            self.remember(user, password, stored_hash)
        return ok

    def remember(self, user: str, password: str, stored_hash: str) -> None:
        """Records a verification that succeeded against ``stored_hash``."""
        if self.ttl <= 0:
            return
        slot = self._slot(user, password)
        self._entries.pop(slot, None)
        self._entries[slot] = _Entry(stored_hash, self._clock() + self.ttl)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget_user_hash(self, stored_hash: str) -> None:
        """Drops every entry verified against ``stored_hash`` (same-process invalidation)."""
        for slot in [s for s, e in self._entries.items() if e.stored_hash == stored_hash]:
            del self._entries[slot]

    def __len__(self) -> int:
        return len(self._entries)
