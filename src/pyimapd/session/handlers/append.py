"""APPEND (RFC 3501 section 6.3.11) and MULTIAPPEND (RFC 3502), streamed from the wire to
the store.

The parser announces each message literal (``AppendStart``, then ``AppendNext`` for the
further messages of a MULTIAPPEND) before any of its bytes are read. The handler checks
the size and the target mailbox first and only then lets the client send the message
(``reject_append`` withdraws the queued ``+`` otherwise), so a refused APPEND costs no
bandwidth and no memory. The bytes are spooled (CRLF-normalised and parsed once, see
:mod:`pyimapd.delivery`); once the command line ends, every message is stored in one
durable step: all of them or none (RFC 3502 section 6.3.11's atomicity). Only the first
spools may stay in memory (up to ``SPOOL_IN_MEMORY`` each, ``HELD_IN_MEMORY`` in all);
the others go to files, so a long MULTIAPPEND never piles up in memory. A message may
come as RFC 3516's ``literal8``: its binary parts are stored base64-encoded (section 4.4
allows it; :mod:`pyimapd.mime.recode` says why), so that BINARY returns them as sent.

CATENATE (RFC 4469): a message may instead be a list of parts, TEXT literals (streamed
like a message) and URLs, whose octets are copied from the store into the same spool
(:mod:`pyimapd.session.handlers.urls`). An URL that cannot be used fails the whole
command with ``NO [BADURL url]``, the rest of the command is withdrawn
(``reject_append``) and nothing is stored, not even the messages before it; so does a
message that grows past the APPEND limit (``NO [TOOBIG]``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyimapd.delivery import SPOOL_IN_MEMORY, Spool
from pyimapd.protocol import commands as c
from pyimapd.protocol.events import (
    AppendAbort,
    AppendData,
    AppendEnd,
    AppendNext,
    CatenateText,
    CatenateUrl,
    ParseError,
)
from pyimapd.protocol.responses import ResponseCode, untagged_status
from pyimapd.session.handlers.urls import UrlSource
from pyimapd.session.state import Result, bad, no, ok
from pyimapd.storage import names
from pyimapd.storage.interface import AppendItem, AppendResult

if TYPE_CHECKING:
    from pyimapd.session.session import Session
    from pyimapd.session.view import SelectedView

HELD_IN_MEMORY = 4 * SPOOL_IN_MEMORY
"""Octets of small messages one MULTIAPPEND may keep in memory before spooling to files."""


async def refuse_append(session: Session, command: c.Command) -> None:
    """An APPEND that will not run must not receive its literal."""
    if isinstance(command, c.AppendStart):
        session.conn.reject_append()


class _Batch:
    """The spooled messages of one APPEND command, with their flags and dates."""

    def __init__(self, session: Session) -> None:
        self.tmp = session.ctx.config.data_dir / "tmp"
        self.spools: list[Spool] = []
        self.heads: list[tuple[tuple[str, ...], datetime | None]] = []
        self.held = 0

    def start(
        self, flags: tuple[str, ...], date_time: datetime | None, size: int, binary: bool,
        catenate: bool,
    ) -> Spool:
        """``size`` of a CATENATE message is unknown: count it as a full in-memory spool."""
        size = SPOOL_IN_MEMORY if catenate else size
        in_memory = SPOOL_IN_MEMORY if self.held + size <= HELD_IN_MEMORY else 0
        self.held += min(size, SPOOL_IN_MEMORY) if in_memory else 0
        self.spools.append(Spool(self.tmp, in_memory, binary))
        self.heads.append((flags, date_time))
        return self.spools[-1]

    async def items(self) -> list[AppendItem]:
        now = datetime.now(UTC).astimezone()
        out = []
        for spool, (flags, when) in zip(self.spools, self.heads, strict=True):
            out.append(AppendItem(await spool.finish(), frozenset(flags), when or now))
        return out

    def close(self) -> None:
        for spool in self.spools:
            spool.close()


async def append(session: Session, command: c.AppendStart) -> Result:
    store = session.require_store()
    refused = await _refuse_early(session, command)
    if refused is not None:
        return refused

    async def commit(items: list[AppendItem]) -> list[AppendResult]:
        if len(items) == 1:
            item = items[0]
            return [await store.append(
                command.mailbox, item.message, item.flags, item.internaldate)]
        return await store.append_many(command.mailbox, items)

    results = await _spooled(session, command, commit)
    if not isinstance(results, list):
        return results
    if session.view is not None and session.view.name == command.mailbox:
        session.view.note_own_new(r.uid for r in results)
    return ok("APPEND completed", _appenduid(results))


async def replace(session: Session, command: c.ReplaceStart) -> Result:
    """REPLACE and UID REPLACE (RFC 8508 section 3): the new message is stored in the
    named mailbox and the old one leaves the selected mailbox in one step (section 3.4).
    The APPENDUID goes in an untagged OK before the EXPUNGE, as MOVE's COPYUID does,
    so the client can match the two (section 3.3)."""
    name = "UID REPLACE" if command.uid else "REPLACE"
    view = session.require_view()
    uid = _replaced(view, command)
    refused = None
    if view.readonly:
        refused = no("Mailbox is read-only", ResponseCode("READ-ONLY"))
    elif uid is None:
        refused = no(f"{name}: no such message")
    if refused is not None:
        session.conn.reject_append()
        return refused
    refused = await _refuse_early(session, command)
    if refused is not None:
        return refused
    assert uid is not None

    async def commit(items: list[AppendItem]) -> list[AppendResult]:
        result, removed = await view.mailbox.replace(uid, command.mailbox, items[0])
        gone.append(removed)
        return [result]

    gone: list[bool] = []
    results = await _spooled(session, command, commit)
    if not isinstance(results, list):
        return results
    session.write(untagged_status("OK", "Replacement message ready", _appenduid(results)))
    if view.name == command.mailbox:
        view.note_own_new(r.uid for r in results)
    if gone[0]:
        for line in view.remove_expunged([uid]):
            session.write(line)
    return ok(f"{name} completed")


def _replaced(view: SelectedView, command: c.ReplaceStart) -> int | None:
    """The UID REPLACE names; None when there is no such message (RFC 8508 section 3.2:
    NO, for a sequence number beyond EXISTS too)."""
    uids = view.uids
    if command.uid:
        known = command.number is not None and view.msn_of(command.number) is not None
        return command.number if known else None
    if not uids:
        return None
    if command.number is None:
        return uids[-1]
    return uids[command.number - 1] if command.number <= len(uids) else None


async def _refuse_early(session: Session, command: c.AppendStart) -> Result | None:
    """Refused before the literal is read, so a client that must CREATE first does not
    upload the message twice. The mailbox list is a small read (a STATUS would count a
    large mailbox's messages on every APPEND)."""
    store = session.require_store()
    limit = session.ctx.config.limits.max_append
    if command.size > limit:
        session.conn.reject_append()
        return no(f"Message larger than the limit of {limit} octets", ResponseCode("TOOBIG"))
    try:
        target = names.normalize(command.mailbox)
        if not any(m.name == target and not m.noselect for m in await store.list_mailboxes()):
            session.conn.reject_append()
            return no(f"Mailbox {target} does not exist", ResponseCode("TRYCREATE"))
    except BaseException:
        session.conn.reject_append()
        raise
    return None


async def _spooled(
    session: Session, command: c.AppendStart,
    commit: Callable[[list[AppendItem]], Awaitable[list[AppendResult]]],
) -> list[AppendResult] | Result:
    """Receives the command's messages into spools and hands them to ``commit``; the
    Result when the command failed on the way."""
    batch = _Batch(session)
    urls = UrlSource(session)
    try:
        spool = batch.start(command.flags, command.date_time, command.size, command.binary,
                            command.catenate)
        refused = await _receive(session, batch, spool, urls)
        if refused is not None:
            return refused
        if (session.ctx.config.utf8_accept and not session.utf8_accept
                and any(s.header_8bit for s in batch.spools)):
            # RFC 6855 section 4: "MUST reject, with a NO response"
            return no("The message header holds 8-bit characters: ENABLE UTF8=ACCEPT"
                      " first, or encode them (RFC 2047)", ResponseCode("CANNOT"))
        return await commit(await batch.items())
    finally:
        batch.close()
        await urls.close()


async def _receive(
    session: Session, batch: _Batch, spool: Spool, urls: UrlSource
) -> Result | None:
    """Spools the messages until the command line ends; a Result when it went wrong."""
    limit = session.ctx.config.limits.max_append
    while True:
        event = await session.next_event()
        if isinstance(event, AppendData):
            spool.feed(event.data)
        elif isinstance(event, AppendNext):
            spool = batch.start(event.flags, event.date_time, event.size, event.binary,
                                event.catenate)
        elif isinstance(event, CatenateText | CatenateUrl):
            refused = await _part(session, event, spool, urls, limit)
            if refused is not None:
                session.conn.reject_append()  # RFC 3502/4469: then none is stored
                return refused
        elif isinstance(event, AppendEnd):
            return None
        elif isinstance(event, AppendAbort):
            return bad(event.text)
        elif isinstance(event, ParseError) and event.code == "TOOBIG":
            return no(event.text, ResponseCode("TOOBIG"))  # RFC 3502: none is stored
        elif isinstance(event, ParseError):
            if event.fatal:  # a line too long: BYE, and the stream is dropped
                await session.on_parse_error(event)
            return bad(event.text)
        else:
            return bad("APPEND interrupted")


async def _part(
    session: Session, event: CatenateText | CatenateUrl, spool: Spool, urls: UrlSource,
    limit: int,
) -> Result | None:
    """One CATENATE part (RFC 4469 section 3); TOOBIG when the message outgrows the
    APPEND limit (section 4.2: also a server-specific limit)."""
    if isinstance(event, CatenateText):
        if spool.size + event.size > limit:
            return no(f"Message larger than the limit of {limit} octets", ResponseCode("TOOBIG"))
        return None
    return await urls.copy(event.url, spool, limit - spool.size)


def _appenduid(results: list[AppendResult]) -> ResponseCode:
    """RFC 4315 section 3: ``APPENDUID uidvalidity uid-set``; MULTIAPPEND's UIDs are
    consecutive (one transaction), so a range."""
    uids = [r.uid for r in results]
    uid_set = str(uids[0]) if len(uids) == 1 else f"{uids[0]}:{uids[-1]}"
    return ResponseCode("APPENDUID", f"{results[0].uidvalidity} {uid_set}")
