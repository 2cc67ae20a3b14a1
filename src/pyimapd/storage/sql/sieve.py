"""Sieve scripts and delivery tracking: the routines behind ``ScriptStore``, over the
``sieve_scripts`` and ``sieve_tracking`` tables (docs/storage.md).

How this works: every write locks the user's row first (``user_id(lock=True)``), so the
quota checks of PUTSCRIPT and the "one active script" rule hold against writers on other
PostgreSQL nodes as they do under SQLite's single writer. The store keeps text and
names as given: whether a script is valid Sieve is ManageSieve's question (it checks
before it stores), not the store's.
"""

from __future__ import annotations

from pyimapd.storage.interface import (
    NoSuchScript,
    ScriptActive,
    ScriptExists,
    ScriptInfo,
    ScriptLimits,
    ScriptQuota,
)
from pyimapd.storage.sql.core import Dialect, Routine, count, row, rows
from pyimapd.storage.sql.mailboxes import user_id


def list_scripts(d: Dialect, user: str) -> Routine[list[ScriptInfo]]:
    uid = yield from user_id(d, user)
    found = yield rows(
        f"SELECT name, active, script FROM sieve_scripts WHERE user_id = ?"
        f" ORDER BY name{d.binary_order}", uid)
    return [ScriptInfo(r[0], bool(r[1]), len(r[2].encode("utf-8"))) for r in found]


def get_script(d: Dialect, user: str, name: str) -> Routine[str]:
    uid = yield from user_id(d, user)
    found = yield row("SELECT script FROM sieve_scripts WHERE user_id = ? AND name = ?",
                      uid, name)
    if found is None:
        raise NoSuchScript(f"There is no script named {name}")
    return str(found[0])


def put_script(
    d: Dialect, user: str, name: str, text: str, limits: ScriptLimits
) -> Routine[None]:
    uid = yield from user_id(d, user, lock=True)
    if len(text.encode("utf-8")) > limits.max_size:
        raise ScriptQuota(f"Scripts are limited to {limits.max_size} octets", "QUOTA/MAXSIZE")
    existing = yield row(
        "SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?", uid, name)
    if existing is None:
        number = yield row("SELECT COUNT(*) FROM sieve_scripts WHERE user_id = ?", uid)
        if int(number[0]) >= limits.max_scripts:
            raise ScriptQuota(f"At most {limits.max_scripts} scripts", "QUOTA/MAXSCRIPTS")
        yield count("INSERT INTO sieve_scripts (user_id, name, script) VALUES (?, ?, ?)",
                    uid, name, text)
    else:
        yield count("UPDATE sieve_scripts SET script = ? WHERE user_id = ? AND name = ?",
                    text, uid, name)


def activate(d: Dialect, user: str, name: str | None) -> Routine[None]:
    uid = yield from user_id(d, user, lock=True)
    if name is not None:
        found = yield row("SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?",
                          uid, name)
        if found is None:
            raise NoSuchScript(f"There is no script named {name}")
    yield count("UPDATE sieve_scripts SET active = FALSE WHERE user_id = ? AND active", uid)
    if name is not None:
        yield count("UPDATE sieve_scripts SET active = TRUE WHERE user_id = ? AND name = ?",
                    uid, name)


def delete_script(d: Dialect, user: str, name: str) -> Routine[None]:
    uid = yield from user_id(d, user, lock=True)
    found = yield row("SELECT active FROM sieve_scripts WHERE user_id = ? AND name = ?",
                      uid, name)
    if found is None:
        raise NoSuchScript(f"There is no script named {name}")
    if found[0]:
        raise ScriptActive("The active script cannot be deleted; deactivate it first")
    yield count("DELETE FROM sieve_scripts WHERE user_id = ? AND name = ?", uid, name)


def rename_script(d: Dialect, user: str, old: str, new: str) -> Routine[None]:
    uid = yield from user_id(d, user, lock=True)
    found = yield row("SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?", uid, old)
    if found is None:
        raise NoSuchScript(f"There is no script named {old}")
    if old == new:
        return
    taken = yield row("SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?", uid, new)
    if taken is not None:
        raise ScriptExists(f"A script named {new} already exists")
    yield count("UPDATE sieve_scripts SET name = ? WHERE user_id = ? AND name = ?",
                new, uid, old)


def active_script(d: Dialect, user: str) -> Routine[tuple[str, str] | None]:
    uid = yield from user_id(d, user)
    found = yield row(
        "SELECT name, script FROM sieve_scripts WHERE user_id = ? AND active", uid)
    return None if found is None else (str(found[0]), str(found[1]))


def seen(d: Dialect, user: str, kind: str, key: bytes, now: int) -> Routine[bool]:
    uid = yield from user_id(d, user)
    found = yield row(
        "SELECT 1 FROM sieve_tracking WHERE user_id = ? AND kind = ? AND tracking_key = ?"
        " AND expires > ?", uid, kind, key, now)
    return found is not None


def claim(
    d: Dialect, user: str, kind: str, key: bytes, expires: int, now: int
) -> Routine[bool]:
    uid = yield from user_id(d, user, lock=True)
    yield count("DELETE FROM sieve_tracking WHERE user_id = ? AND expires <= ?", uid, now)
    made = yield count(
        "INSERT INTO sieve_tracking (user_id, kind, tracking_key, expires) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, kind, tracking_key) DO NOTHING", uid, kind, key, expires)
    return bool(made)


def forget(d: Dialect, user: str, kind: str, key: bytes) -> Routine[None]:
    uid = yield from user_id(d, user)
    yield count("DELETE FROM sieve_tracking WHERE user_id = ? AND kind = ? AND tracking_key = ?",
                uid, kind, key)


def remember(
    d: Dialect, user: str, kind: str, key: bytes, expires: int, now: int
) -> Routine[None]:
    uid = yield from user_id(d, user)
    yield count("DELETE FROM sieve_tracking WHERE user_id = ? AND expires <= ?", uid, now)
    yield count(
        "INSERT INTO sieve_tracking (user_id, kind, tracking_key, expires) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, kind, tracking_key) DO UPDATE SET expires = excluded.expires",
        uid, kind, key, expires)
