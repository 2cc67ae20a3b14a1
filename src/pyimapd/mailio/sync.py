"""``pyimapd sync USER imap[s]://LOGIN@HOST[:PORT]``: copy an account from any live IMAP
server, keeping UIDVALIDITY and UIDs, and on later runs transfer only what changed
(issue 20).

How this works: the source is read with the stdlib ``imaplib`` (in worker threads: its
calls block), one mailbox at a time and one message at a time. For each selectable
source mailbox:

- a target mailbox that is missing or empty takes the source's UIDVALIDITY, UIDNEXT and
  HIGHESTMODSEQ (``MailStore.restore_mailbox``) and every message is stored under its
  source UID, in ascending order, so an interrupted run resumes where it stopped;
- a target with the source's UIDVALIDITY (an earlier sync) gets the messages above its
  highest UID, the flag changes since the last run (``CHANGEDSINCE`` when the source has
  CONDSTORE, else every message's flags compared), and loses the UIDs the source no
  longer has;
- a target with other mail under another UIDVALIDITY cannot keep UIDs: the source's
  messages whose Message-ID it lacks are added with new UIDs, and the report says so.

What the last run saw of each source mailbox (its UIDVALIDITY and HIGHESTMODSEQ) is kept
in ``DATA_DIR/sync/USER.json``, written after each mailbox. ``dry_run`` reports what a
run would do and changes nothing. Subscriptions are copied. The source's hierarchy
delimiter becomes ``/``.
"""

from __future__ import annotations

import asyncio
import imaplib
import json
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pyimapd.delivery import Spool
from pyimapd.mailio.importer import message_id
from pyimapd.mailio.progress import Progress
from pyimapd.protocol.utf7 import decode_mailbox_name
from pyimapd.storage.interface import (
    SYSTEM_FLAGS,
    AppendItem,
    MailStore,
    NoSuchMailbox,
    StorageError,
)

log = logging.getLogger("pyimapd.sync")

_LIST = re.compile(rb'\((?P<attrs>[^)]*)\) (?P<delim>"(?:\\.|[^"])*"|NIL) (?P<name>.+)$')
_FIELD = re.compile(rb"(UID|FLAGS|INTERNALDATE|MODSEQ) (\d+|\([^)]*\)|\"[^\"]*\")")
_STATUS = re.compile(rb"(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ|MESSAGES) (\d+)")


class SyncError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Source:
    url: str
    login: str
    host: str
    port: int
    implicit_tls: bool

    @classmethod
    def parse(cls, url: str) -> Source:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise SyncError(f"expected imap[s]://LOGIN@HOST[:PORT], not {url!r}")
        tls = parts.scheme == "imaps"
        return cls(url, unquote(parts.username), parts.hostname,
                   parts.port or (993 if tls else 143), tls)


@dataclass
class MailboxReport:
    name: str
    kept_uids: bool = True
    added: int = 0
    flags_changed: int = 0
    removed: int = 0
    skipped: int = 0


@dataclass
class SyncReport:
    mailboxes: list[MailboxReport] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class _Imap:
    """The source connection; every call runs in a worker thread."""

    def __init__(self, source: Source, password: str, tls: ssl.SSLContext | None) -> None:
        self.source = source
        self.password = password
        self.tls = tls
        self.conn: imaplib.IMAP4 | None = None
        self.condstore = False

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def open(self) -> None:
        def connect() -> imaplib.IMAP4:
            s = self.source
            if s.implicit_tls:
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=self.tls,
                                                       timeout=60)
            else:
                conn = imaplib.IMAP4(s.host, s.port, timeout=60)
                if "STARTTLS" in conn.capabilities:
                    conn.starttls(self.tls)
            conn.login(s.login, self.password)
            return conn

        try:
            self.conn = await self.call(connect)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SyncError(f"cannot log in to {self.source.host}: {exc}") from exc
        caps = await self.call(self.conn.capability)
        self.condstore = b"CONDSTORE" in caps[1][0].upper().split()

    async def close(self) -> None:
        if self.conn is not None:
            try:
                await self.call(self.conn.logout)
            except (OSError, imaplib.IMAP4.error):
                pass

    async def ok(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        status, data = await self.call(fn, *args)
        if status != "OK":
            raise SyncError(f"{fn.__name__}: {data!r}")
        return list(data)

    async def mailboxes(self) -> tuple[list[tuple[str, str]], set[str]]:
        """(source name on the wire, our name) of each selectable mailbox; the
        subscribed names (ours)."""
        assert self.conn is not None
        found: list[tuple[str, str]] = []
        for line in await self.ok(self.conn.list):
            parsed = _parse_list(line)
            if parsed is not None and "\\noselect" not in parsed[0] and \
                    "\\nonexistent" not in parsed[0]:
                found.append((parsed[2], _our_name(parsed[2], parsed[1])))
        subscribed = set()
        for line in await self.ok(self.conn.lsub):
            parsed = _parse_list(line)
            if parsed is not None:
                subscribed.add(_our_name(parsed[2], parsed[1]))
        return found, subscribed


def _parse_list(line: Any) -> tuple[set[str], str | None, str] | None:
    if not isinstance(line, bytes):
        return None
    m = _LIST.match(line)
    if m is None:
        return None
    attrs = {a.decode("ascii", "replace").lower() for a in m.group("attrs").split()}
    delim = m.group("delim")
    sep = None if delim == b"NIL" else delim[1:-1].replace(b"\\\\", b"\\").decode()
    name = m.group("name").strip()
    if name.startswith(b'"'):
        name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
    return attrs, sep, name.decode("utf-8", "replace")


def _our_name(wire: str, sep: str | None) -> str:
    try:
        name = decode_mailbox_name(wire)
    except ValueError:
        name = wire
    if name.upper() == "INBOX":
        return "INBOX"
    return name.replace(sep, "/") if sep and sep != "/" else name


def _quoted(wire: str) -> str:
    """A name as the source listed it (already modified UTF-7), quoted for a command."""
    return '"' + wire.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Syncer:
    def __init__(self, store: MailStore, source: Source, password: str, state_dir: Path,
                 user: str, dry_run: bool = False, progress: bool = True,
                 tls: ssl.SSLContext | None = None, tmp_dir: Path | None = None) -> None:
        self.store = store
        self.imap = _Imap(source, password, tls)
        self.state_path = state_dir / f"{user}.json"
        self.dry_run = dry_run
        self.progress = progress
        self.tmp_dir = tmp_dir
        self.report = SyncReport()
        self.state: dict[str, dict[str, int]] = {}

    async def run(self) -> SyncReport:
        try:
            self.state = json.loads(self.state_path.read_text()).get(self.imap.source.url, {})
        except (OSError, ValueError):
            self.state = {}
        await self.imap.open()
        try:
            boxes, subscribed = await self.imap.mailboxes()
            overall = Progress("sync", len(boxes), enabled=self.progress)
            for wire, name in boxes:
                try:
                    self.report.mailboxes.append(await self._mailbox(wire, name))
                except (SyncError, StorageError, imaplib.IMAP4.error) as exc:
                    text = getattr(exc, "text", str(exc))
                    log.warning("sync of %s failed: %s", name, text)
                    self.report.failed.append(f"{name}: {text}")
                overall.update()
            overall.close()
            if not self.dry_run:
                for name in sorted(subscribed):
                    try:
                        await self.store.set_subscribed(name, True)
                    except StorageError:
                        log.info("subscription %r not kept", name)
        finally:
            await self.imap.close()
        return self.report

    def _save(self, name: str, uidvalidity: int, modseq: int) -> None:
        if self.dry_run:
            return
        try:
            everything = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            everything = {}
        everything.setdefault(self.imap.source.url, {})[name] = {
            "uidvalidity": uidvalidity, "highestmodseq": modseq}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(everything, indent=1))
        tmp.replace(self.state_path)

    async def _mailbox(self, wire: str, name: str) -> MailboxReport:
        conn = self.imap.conn
        assert conn is not None
        report = MailboxReport(name)
        items = "(UIDVALIDITY UIDNEXT HIGHESTMODSEQ)" if self.imap.condstore else (
            "(UIDVALIDITY UIDNEXT)")
        status = await self.imap.ok(conn.status, _quoted(wire), items)
        fields = {k.decode(): int(v) for k, v in _STATUS.findall(status[0])}
        uidvalidity = fields.get("UIDVALIDITY", 0)
        uidnext, modseq = fields.get("UIDNEXT", 1), fields.get("HIGHESTMODSEQ", 1)
        await self.imap.ok(conn.select, _quoted(wire), True)  # EXAMINE: \Seen untouched
        source = await self._source_flags(None)
        try:
            st = await self.store.status(name)
        except NoSuchMailbox:
            st = None
        if st is None or st.messages == 0:
            if not self.dry_run:
                await self.store.restore_mailbox(name, uidvalidity, max(uidnext, 1), modseq)
            target: dict[int, frozenset[str]] = {}
        elif st.uidvalidity == uidvalidity:
            target = await self._target_flags(name)
        else:
            report.kept_uids = False
            await self._add_new_numbering(wire, name, source, report)
            self._save(name, uidvalidity, modseq)
            return report
        highest = max(target, default=0)
        new = sorted(u for u in source if u > highest)
        await self._copy(name, new, source, report)
        since = self.state.get(name, {})
        if target:
            await self._flags(name, source, target, since, uidvalidity, report)
            gone = sorted(set(target) - set(source))
            if gone:
                report.removed = len(gone)
                if not self.dry_run:
                    await self._remove(name, gone)
        self._save(name, uidvalidity, modseq)
        return report

    async def _source_flags(self, changed_since: int | None) -> dict[int, frozenset[str]]:
        conn = self.imap.conn
        assert conn is not None
        query = "(UID FLAGS)" + (f" (CHANGEDSINCE {changed_since})" if changed_since else "")
        found: dict[int, frozenset[str]] = {}
        status, data = await self.imap.call(conn.uid, "FETCH", "1:*", query)
        if status != "OK":
            raise SyncError(f"UID FETCH: {data!r}")
        for item in data:
            if not isinstance(item, bytes):
                continue
            fields = dict(_FIELD.findall(item))
            if b"UID" in fields:
                flags = fields.get(b"FLAGS", b"()")[1:-1].decode("utf-8", "replace").split()
                found[int(fields[b"UID"])] = frozenset(f for f in flags if f != "\\Recent")
        return found

    async def _target_flags(self, name: str) -> dict[int, frozenset[str]]:
        selected, result = await self.store.select(name, readonly=True)
        out: dict[int, frozenset[str]] = {}
        try:
            if result.uids:
                async for page in selected.fetch_flags([(1, max(result.uids))]):
                    for uid, flags, _ in page:
                        out[uid] = flags
        finally:
            await selected.close()
        return out

    async def _fetch(self, uid: int) -> tuple[bytes, frozenset[str], datetime | None] | None:
        conn = self.imap.conn
        assert conn is not None
        status, data = await self.imap.call(
            conn.uid, "FETCH", str(uid), "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        if status != "OK":
            raise SyncError(f"UID FETCH {uid}: {data!r}")
        for item in data:
            if isinstance(item, tuple):
                head, body = item[0], item[1]
                fields = dict(_FIELD.findall(head))
                flags = fields.get(b"FLAGS", b"()")[1:-1].decode("utf-8", "replace").split()
                date = fields.get(b"INTERNALDATE")
                when = _internaldate(date[1:-1]) if date else None
                return bytes(body), frozenset(f for f in flags if f != "\\Recent"), when
        return None  # expunged meanwhile

    async def _copy(self, name: str, uids: list[int], source: dict[int, frozenset[str]],
                    report: MailboxReport) -> None:
        progress = Progress(f"sync {name}", len(uids), enabled=self.progress and bool(uids))
        for uid in uids:
            report.added += 1
            progress.update()
            if self.dry_run:
                continue
            fetched = await self._fetch(uid)
            if fetched is None:
                report.added -= 1
                continue
            await self._store(name, fetched, uid)
        progress.close()

    async def _store(self, name: str, fetched: tuple[bytes, frozenset[str], datetime | None],
                     uid: int | None) -> None:
        data, flags, when = fetched
        spool = Spool(self.tmp_dir)
        try:
            spool.feed(data)
            prepared = await spool.finish()
            stamp = when or prepared.sent_date or datetime.now().astimezone()
            await self.store.append_many(name, [AppendItem(prepared, flags, stamp, uid)])
        finally:
            spool.close()

    async def _flags(self, name: str, source: dict[int, frozenset[str]],
                     target: dict[int, frozenset[str]], since: dict[str, int],
                     uidvalidity: int, report: MailboxReport) -> None:
        """Sets the target's flags to the source's where they differ. With CONDSTORE
        and a previous run under the same UIDVALIDITY only the messages changed since
        (CHANGEDSINCE) are compared; else all of them."""
        if self.imap.condstore and since.get("uidvalidity") == uidvalidity:
            changed = await self._source_flags(since.get("highestmodseq", 0))
        else:
            changed = source
        differ = {u: f for u, f in changed.items() if u in target and
                  _comparable(target[u]) != _comparable(f)}
        report.flags_changed = len(differ)
        if self.dry_run or not differ:
            return
        selected, _ = await self.store.select(name, readonly=False)
        try:
            for uid, flags in differ.items():
                await selected.store([uid], "", flags)
        finally:
            await selected.close()

    async def _remove(self, name: str, uids: list[int]) -> None:
        selected, _ = await self.store.select(name, readonly=False)
        try:
            await selected.store(uids, "+", frozenset({"\\Deleted"}))
            await selected.expunge(uids)
        finally:
            await selected.close()

    async def _add_new_numbering(self, wire: str, name: str,
                                 source: dict[int, frozenset[str]],
                                 report: MailboxReport) -> None:
        """A target that has other mail: add what it lacks (by Message-ID)."""
        from pyimapd.mailio.importer import existing_message_ids

        present = await existing_message_ids(self.store, name)
        for uid in sorted(source):
            fetched = await self._fetch(uid)
            if fetched is None:
                continue
            spool = Spool(self.tmp_dir)
            try:
                spool.feed(fetched[0])
                mid = message_id(await spool.finish())
            finally:
                spool.close()
            if mid is not None and mid in present:
                report.skipped += 1
                continue
            report.added += 1
            if not self.dry_run:
                await self._store(name, fetched, None)


def _comparable(flags: frozenset[str]) -> frozenset[str]:
    """System flags compare case-insensitively (RFC 3501 section 2.3.2)."""
    system = {f.lower(): f for f in SYSTEM_FLAGS}
    return frozenset(system.get(f.lower(), f) for f in flags)


def _internaldate(text: bytes) -> datetime | None:
    """``dd-Mon-yyyy hh:mm:ss +zzzz`` (RFC 3501 date-time)."""
    try:
        day, month, rest = text.decode("ascii").strip().split("-", 2)
        return parsedate_to_datetime(f"{day} {month} {rest}")
    except (ValueError, TypeError):
        return None
