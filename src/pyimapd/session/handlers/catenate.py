"""CATENATE's URL parts (RFC 4469 section 3): the octets an IMAP URL names, streamed
from the store into the new message's spool.

How this works: each URL is parsed (:mod:`pyimapd.protocol.imapurl`) and resolved
against the session's base URL, ``imap://user@server/`` or, in the selected state,
``imap://user@server/mailbox``; an absolute URL must name this server and this user
(RFC 4469 section 3 leaves other servers and users out of scope). The mailbox is the
selected one when it is named, or opened read-only once per APPEND (EXAMINE changes no
state, and "The APPEND command does not cause the \\Seen flag to be set"). The part is
found as FETCH ``BODY.PEEK[section]<partial>`` finds it (:func:`mime.locate`; RFC 5092's
``;PARTIAL=offset.length`` is FETCH's ``<offset.length>``, its length optional) and its
bytes are fed to the spool 64 KiB at a time, so memory stays bounded whatever their
size; only a HEADER.FIELDS section is read whole (a header, at most ``HEADER_READ_MAX``)
to be filtered. Every failure is ``NO [BADURL url]`` (section 4.1); a message that
would grow past the APPEND limit is ``NO [TOOBIG]`` (section 4.2). An URL with
``;URLAUTH=`` is refused here: it is only good for URLFETCH with URLAUTH (RFC 4467).
"""

from __future__ import annotations

import socket
from functools import cache
from typing import TYPE_CHECKING

from pyimapd import mime
from pyimapd.delivery import Spool
from pyimapd.protocol.imapurl import BadUrl, ImapUrl, merge_mailbox, parse_url
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.handlers.fetch import HEADER_READ_MAX
from pyimapd.session.state import CommandFailed, Result, no
from pyimapd.storage import names
from pyimapd.storage.interface import MessageRecord, SelectedMailbox, StorageError

if TYPE_CHECKING:
    from pyimapd.session.session import Session


@cache
def local_names() -> frozenset[str]:
    """Host names an absolute URL may give for this server (lower case)."""
    found = {"localhost", "127.0.0.1", "[::1]"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            found.add(name.lower())
    return frozenset(found)


def server_names(session: Session) -> frozenset[str]:
    hostname = session.ctx.config.lmtp.hostname
    return local_names() | ({hostname.lower()} if hostname else frozenset())


def badurl(url: str, text: str) -> CommandFailed:
    """RFC 4469 section 4.1; ``url-resp-text`` is any TEXT-CHAR but ``]``."""
    shown = "".join(ch for ch in url if ch != "]" and 0x20 <= ord(ch) < 0x7F)
    return CommandFailed(no(f"Cannot use the URL: {text}",
                            ResponseCode("BADURL", f'"{_quote(shown)}"' if shown else None)))


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class UrlSource:
    """The mailboxes one APPEND's URLs read from, opened at most once each."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._opened: dict[str, tuple[SelectedMailbox, int]] = {}

    async def close(self) -> None:
        for mailbox, _ in self._opened.values():
            await mailbox.close()
        self._opened.clear()

    async def copy(self, text: str, spool: Spool, room: int) -> Result | None:
        """Appends what ``text`` names to ``spool``; a NO when it cannot (nothing of the
        part is fed then). ``room``: octets the message may still grow by."""
        try:
            url = self._parse(text)
            mailbox, record = await self._message(url, text)
            start, end, data = await self._range(mailbox, record, url, text)
        except CommandFailed as exc:
            return exc.result
        if end - start > room:
            return no("The message would be too large", ResponseCode("TOOBIG"))
        if data is not None:
            spool.feed(data)
            return None
        try:
            async for chunk in mailbox.read(record.content, start, end - start):
                spool.feed(chunk)
        except StorageError:
            # The message was expunged meanwhile; what was fed is dropped with the spool.
            return badurl(text, "the message is gone").result
        return None

    def _parse(self, text: str) -> ImapUrl:
        try:
            url = parse_url(text)
        except BadUrl as exc:
            raise badurl(text, str(exc)) from exc
        if url.access is not None:
            raise badurl(text, "an URLAUTH URL is for URLFETCH")
        if url.absolute and (url.user != self.session.user
                             or url.host not in server_names(self.session)):
            raise badurl(text, "not a mailbox of this user on this server")
        return url

    async def _message(self, url: ImapUrl, text: str) -> tuple[SelectedMailbox, MessageRecord]:
        view = self.session.view
        name = merge_mailbox(view.name if view is not None and not url.absolute else None, url)
        if name is None:
            raise badurl(text, "no mailbox named and none selected")
        name = names.normalize(name)
        mailbox, uidvalidity = await self._open(name, text)
        if url.uidvalidity is not None and url.uidvalidity != uidvalidity:
            raise badurl(text, "UIDVALIDITY mismatch")
        async for record in mailbox.fetch([(url.uid, url.uid)], with_structure=True):
            return mailbox, record
        raise badurl(text, "no such message")

    async def _open(self, name: str, text: str) -> tuple[SelectedMailbox, int]:
        view = self.session.view
        if view is not None and view.name == name:
            return view.mailbox, view.uidvalidity
        if name not in self._opened:
            try:
                mailbox, result = await self.session.require_store().select(name, True)
            except StorageError as exc:
                raise badurl(text, "no such mailbox") from exc
            self._opened[name] = (mailbox, result.uidvalidity)
        return self._opened[name]

    async def _range(
        self, mailbox: SelectedMailbox, record: MessageRecord, url: ImapUrl, text: str
    ) -> tuple[int, int, bytes | None]:
        """``[start, end)`` of the stored message, or the bytes themselves for a filtered
        header (then start and end span them)."""
        section = url.section
        if section is None or (not section.part and not section.text):
            start, end = 0, record.size
        else:
            root = mime.loads(record.structure) if record.structure is not None else None
            found = mime.locate(root, section.part, section.text) if root is not None else None
            if found is None:
                raise badurl(text, "no such body part")
            start, end = found.start, found.end
            if section.text.startswith("HEADER.FIELDS"):
                end = min(end, start + HEADER_READ_MAX)
                header = b"".join([c async for c in mailbox.read(record.content, start,
                                                                 end - start)])
                data = mime.filter_header_fields(header, section.fields,
                                                 exclude=section.text.endswith(".NOT"))
                lo, hi = _clip(0, len(data), url.partial)
                return 0, hi - lo, data[lo:hi]
        lo, hi = _clip(start, end, url.partial)
        return lo, hi, None


def _clip(start: int, end: int, partial: tuple[int, int | None] | None) -> tuple[int, int]:
    """RFC 5092 ``;PARTIAL=offset[.length]``: like FETCH's ``<offset.length>``, clipped
    to the section; without a length, to its end."""
    if partial is None:
        return start, end
    offset, length = partial
    lo = min(start + offset, end)
    return lo, end if length is None else min(lo + length, end)
