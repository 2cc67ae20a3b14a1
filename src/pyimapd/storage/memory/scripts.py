"""The memory backend's Sieve scripts (the ``ScriptStore`` Protocol), for tests and
``--store memory``: the same rules as storage/sql/sieve.py over an account's dicts."""

from __future__ import annotations

from pyimapd.storage.interface import (
    NoSuchScript,
    ScriptActive,
    ScriptExists,
    ScriptInfo,
    ScriptLimits,
    ScriptQuota,
)
from pyimapd.storage.memory.state import _Account


class MemoryScriptStore:
    def __init__(self, account: _Account) -> None:
        self._account = account

    async def list(self) -> list[ScriptInfo]:
        account = self._account
        return [ScriptInfo(name, name == account.active, len(text.encode("utf-8")))
                for name, text in sorted(account.scripts.items())]

    async def get(self, name: str) -> str:
        try:
            return self._account.scripts[name]
        except KeyError:
            raise NoSuchScript(f"There is no script named {name}") from None

    async def put(self, name: str, text: str, limits: ScriptLimits) -> None:
        scripts = self._account.scripts
        if len(text.encode("utf-8")) > limits.max_size:
            raise ScriptQuota(f"Scripts are limited to {limits.max_size} octets", "QUOTA/MAXSIZE")
        if name not in scripts and len(scripts) >= limits.max_scripts:
            raise ScriptQuota(f"At most {limits.max_scripts} scripts", "QUOTA/MAXSCRIPTS")
        scripts[name] = text

    async def activate(self, name: str | None) -> None:
        if name is not None:
            await self.get(name)
        self._account.active = name

    async def delete(self, name: str) -> None:
        await self.get(name)
        if self._account.active == name:
            raise ScriptActive("The active script cannot be deleted; deactivate it first")
        del self._account.scripts[name]

    async def rename(self, old: str, new: str) -> None:
        account = self._account
        text = await self.get(old)
        if old == new:
            return
        if new in account.scripts:
            raise ScriptExists(f"A script named {new} already exists")
        del account.scripts[old]
        account.scripts[new] = text
        if account.active == old:
            account.active = new

    async def active(self) -> tuple[str, str] | None:
        account = self._account
        if account.active is None:
            return None
        return account.active, account.scripts[account.active]

    async def seen(self, kind: str, key: bytes, now: int) -> bool:
        return self._account.tracking.get((kind, key), 0) > now

    async def claim(self, kind: str, key: bytes, expires: int, now: int) -> bool:
        if await self.seen(kind, key, now):
            return False
        await self.remember(kind, key, expires, now)
        return True

    async def forget(self, kind: str, key: bytes) -> None:
        self._account.tracking.pop((kind, key), None)

    async def remember(self, kind: str, key: bytes, expires: int, now: int) -> None:
        tracking = self._account.tracking
        for stale in [k for k, until in tracking.items() if until <= now]:
            del tracking[stale]
        tracking[(kind, key)] = expires
