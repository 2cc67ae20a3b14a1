"""Contract suite: Sieve scripts and delivery tracking (the ScriptStore Protocol) on
every backend: RFC 5804's rules (one active script, no deleting it, renames keep the
mark) and the PUTSCRIPT quotas, enforced by the store."""

from __future__ import annotations

import asyncio

import pytest

from pyimapd.storage.interface import (
    Backend,
    MailStore,
    NoSuchScript,
    ScriptActive,
    ScriptExists,
    ScriptInfo,
    ScriptLimits,
    ScriptQuota,
)

LIMITS = ScriptLimits(max_scripts=3, max_size=100)


async def test_put_list_get_and_replace(store: MailStore) -> None:
    scripts = store.scripts()
    assert await scripts.list() == []
    assert await scripts.active() is None
    await scripts.put("b", 'keep;', LIMITS)
    await scripts.put("a", 'require "fileinto";\nfileinto "Ä";\n', LIMITS)
    assert await scripts.list() == [ScriptInfo("a", False, 35), ScriptInfo("b", False, 5)]
    assert await scripts.get("a") == 'require "fileinto";\nfileinto "Ä";\n'
    await scripts.put("b", "discard;", LIMITS)  # replacing is not a new script
    assert await scripts.get("b") == "discard;"
    with pytest.raises(NoSuchScript):
        await scripts.get("c")


async def test_one_active_script(store: MailStore) -> None:
    scripts = store.scripts()
    await scripts.put("one", "keep;", LIMITS)
    await scripts.put("two", "discard;", LIMITS)
    await scripts.activate("one")
    await scripts.activate("two")
    assert [s.name for s in await scripts.list() if s.active] == ["two"]
    assert await scripts.active() == ("two", "discard;")
    with pytest.raises(NoSuchScript):
        await scripts.activate("three")
    assert await scripts.active() == ("two", "discard;")  # unchanged by the failure
    with pytest.raises(ScriptActive):
        await scripts.delete("two")
    await scripts.delete("one")
    await scripts.rename("two", "renamed")  # the active mark goes with the name
    assert await scripts.active() == ("renamed", "discard;")
    await scripts.activate(None)
    assert await scripts.active() is None
    await scripts.delete("renamed")
    assert await scripts.list() == []


async def test_rename_errors(store: MailStore) -> None:
    scripts = store.scripts()
    await scripts.put("x", "keep;", LIMITS)
    await scripts.put("y", "keep;", LIMITS)
    with pytest.raises(ScriptExists):
        await scripts.rename("x", "y")
    with pytest.raises(NoSuchScript):
        await scripts.rename("z", "w")
    with pytest.raises(NoSuchScript):
        await scripts.delete("z")
    await scripts.rename("x", "x")
    assert [s.name for s in await scripts.list()] == ["x", "y"]


async def test_quotas(store: MailStore) -> None:
    scripts = store.scripts()
    with pytest.raises(ScriptQuota) as too_big:
        await scripts.put("big", "#" * 101, LIMITS)
    assert too_big.value.code == "QUOTA/MAXSIZE"
    for name in ("a", "b", "c"):
        await scripts.put(name, "keep;", LIMITS)
    with pytest.raises(ScriptQuota) as too_many:
        await scripts.put("d", "keep;", LIMITS)
    assert too_many.value.code == "QUOTA/MAXSCRIPTS"
    await scripts.put("c", "#" * 100, LIMITS)  # replacing one is allowed at the limit
    assert len(await scripts.list()) == 3


async def test_scripts_are_per_user(backend: Backend, store: MailStore) -> None:
    await store.scripts().put("mine", "keep;", LIMITS)
    await backend.users.add_user("bob", "hash-b", default_mailboxes=False)
    other = await backend.open("bob")
    assert await other.scripts().list() == []


async def test_tracking_expires(store: MailStore) -> None:
    scripts = store.scripts()
    key = b"\x00\x01vacation-hash"
    assert not await scripts.seen("vacation", key, 1000)
    await scripts.remember("vacation", key, 2000, 1000)
    assert await scripts.seen("vacation", key, 1999)
    assert not await scripts.seen("vacation", key, 2000)
    assert not await scripts.seen("duplicate", key, 1500)  # kinds are separate
    await scripts.remember("vacation", key, 5000, 1500)  # extends
    assert await scripts.seen("vacation", key, 4000)


async def test_claim_is_once_per_live_record(store: MailStore) -> None:
    scripts = store.scripts()
    key = b"reply-to-alice"
    assert await scripts.claim("vacation", key, 2000, 1000)
    assert not await scripts.claim("vacation", key, 3000, 1500)  # still live
    assert await scripts.claim("vacation", key, 5000, 2000)  # expired: claimed again
    await scripts.forget("vacation", key)
    assert not await scripts.seen("vacation", key, 2500)
    results = await asyncio.gather(*(scripts.claim("vacation", b"race", 9000, 3000)
                                     for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
