"""The octets an IMAP URL (RFC 5092) names, for CATENATE (RFC 4469 section 3) and
URLFETCH (RFC 4467 section 7), and the check of an URLAUTH-authorized URL.

How this works: an URL is parsed (:mod:`pyimapd.protocol.imapurl`) and resolved. A
plain URL is read from the session's own store against the session's base URL,
``imap://user@server/`` or, in the selected state, ``imap://user@server/mailbox``; an
absolute one must name this server and this user (RFC 4469 section 3 leaves others out
of scope). An URL with ``;URLAUTH=`` is read from the store of the user its server part
names, and only once :meth:`UrlSource.authorized` has verified it (RFC 4467 section 6):
absolute, naming this server, mechanism INTERNAL, not expired, an access identifier
that admits this session, and the HMAC of its rump under the mailbox's access key
(:mod:`pyimapd.auth.urlauth`). Every way to fail that check looks the same, so an URL
that does not verify tells nothing about what exists.

The mailbox is the selected one when it is named, or opened read-only once per command
(EXAMINE changes no state, and "The APPEND command does not cause the \\Seen flag to be
set"). The part is found as FETCH ``BODY.PEEK[section]<partial>`` finds it
(:func:`mime.locate`; RFC 5092's ``;PARTIAL=offset.length`` is FETCH's
``<offset.length>``, its length optional) and its bytes are read 64 KiB at a time, so
memory stays bounded whatever their size; only a HEADER.FIELDS section is read whole (a
header, at most ``HEADER_READ_MAX``) to be filtered. For CATENATE every failure is
``NO [BADURL url]`` (section 4.1) and a message past the APPEND limit ``NO [TOOBIG]``
(section 4.2).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from pyimapd import mime
from pyimapd.auth import urlauth
from pyimapd.delivery import Spool
from pyimapd.protocol.imapurl import BadUrl, ImapUrl, merge_mailbox, parse_url
from pyimapd.protocol.responses import ResponseCode
from pyimapd.session.handlers.fetch import HEADER_READ_MAX
from pyimapd.session.state import CommandFailed, Result, no
from pyimapd.storage import names
from pyimapd.storage.interface import MailStore, MessageRecord, SelectedMailbox, StorageError

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


def names_this_server(session: Session, url: ImapUrl) -> bool:
    return url.host is not None and url.host in server_names(session)


def badurl(url: str, text: str) -> CommandFailed:
    """RFC 4469 section 4.1; ``url-resp-text`` is any TEXT-CHAR but ``]``."""
    shown = "".join(ch for ch in url if ch != "]" and 0x20 <= ord(ch) < 0x7F)
    return CommandFailed(no(f"Cannot use the URL: {text}",
                            ResponseCode("BADURL", f'"{_quote(shown)}"' if shown else None)))


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def admits(session: Session, access: str) -> bool:
    """RFC 4467 section 3: whether this session may use an URL with ``access``."""
    if access in ("anonymous", "authuser"):
        return session.user is not None  # URLFETCH and APPEND need a login anyway
    kind, _, user = access.partition("+")
    if kind == "user":
        return session.user == user
    return session.user in session.ctx.config.auth.submit_users  # "submit+user"


def expired(url: ImapUrl, now: datetime) -> bool:
    """RFC 4467 section 3: ``;EXPIRE=`` is "the latest date and time that the URL is
    valid"; only after it has the URL expired."""
    return url.expire is not None and now > url.expire


@dataclass(frozen=True, slots=True)
class Located:
    """Where an URL's octets are: ``[start, end)`` of the message, or ``data`` itself
    (a filtered header; then ``end - start`` is its length)."""

    mailbox: SelectedMailbox
    record: MessageRecord
    start: int
    end: int
    data: bytes | None

    @property
    def size(self) -> int:
        return self.end - self.start


class UrlSource:
    """The stores and mailboxes one command's URLs read from, opened at most once each."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._opened: dict[tuple[str, str], tuple[SelectedMailbox, int]] = {}
        self._stores: dict[str, MailStore] = {}

    async def close(self) -> None:
        for mailbox, _ in self._opened.values():
            await mailbox.close()
        self._opened.clear()
        for store in self._stores.values():
            await store.close()
        self._stores.clear()

    # --- CATENATE -------------------------------------------------------------------------

    async def copy(self, text: str, spool: Spool, room: int) -> Result | None:
        """Appends what ``text`` names to ``spool``; a NO when it cannot (nothing of the
        part is fed then). ``room``: octets the message may still grow by."""
        try:
            url, store = await self._catenate_url(text)
            located = await self.locate(url, text, store)
        except CommandFailed as exc:
            return exc.result
        if located.size > room:
            return no("The message would be too large", ResponseCode("TOOBIG"))
        try:
            async for chunk in self.read(located):
                spool.feed(chunk)
        except StorageError:
            # The message was expunged meanwhile; what was fed is dropped with the spool.
            return badurl(text, "the message is gone").result
        return None

    async def _catenate_url(self, text: str) -> tuple[ImapUrl, MailStore]:
        try:
            url = parse_url(text)
        except BadUrl as exc:
            raise badurl(text, str(exc)) from exc
        if url.access is not None:
            store = await self.authorized(url)
            if store is None:
                raise badurl(text, "the URLAUTH does not verify")
            return url, store
        if url.absolute and (url.user != self.session.user
                             or not names_this_server(self.session, url)):
            raise badurl(text, "not a mailbox of this user on this server")
        return url, self.session.require_store()

    # --- URLAUTH --------------------------------------------------------------------------

    async def authorized(self, url: ImapUrl) -> MailStore | None:
        """RFC 4467 section 6: the store of the URL's owner when the URL verifies."""
        if (url.user is None or not names_this_server(self.session, url)
                or url.rump is None or url.token is None or url.mailbox is None
                or url.mechanism != urlauth.MECHANISM or url.access is None
                or not admits(self.session, url.access)):
            return None
        if expired(url, datetime.now(UTC)):
            return None
        store = await self._store(url.user)
        key = None
        if store is not None:
            try:
                key = await store.urlauth_key(names.normalize(url.mailbox), create=False)
            except StorageError:
                key = None
        return store if urlauth.verify(key, url.rump, url.token) else None

    async def _store(self, user: str) -> MailStore | None:
        if user == self.session.user:
            return self.session.require_store()
        if user not in self._stores:
            try:
                self._stores[user] = await self.session.ctx.backend.open_owner(user)
            except StorageError:
                return None
        return self._stores[user]

    # --- reading --------------------------------------------------------------------------

    async def locate(self, url: ImapUrl, text: str, store: MailStore) -> Located:
        """The octets ``url`` names in ``store``; raises BADURL's CommandFailed."""
        view = self.session.view
        own = store is self.session.store
        base = view.name if view is not None and own and not url.absolute else None
        name = merge_mailbox(base, url)
        if name is None:
            raise badurl(text, "no mailbox named and none selected")
        mailbox, uidvalidity = await self._open(store, names.normalize(name), text)
        if url.uidvalidity is not None and url.uidvalidity != uidvalidity:
            raise badurl(text, "UIDVALIDITY mismatch")
        async for record in mailbox.fetch([(url.uid, url.uid)], with_structure=True):
            return await self._range(mailbox, record, url, text)
        raise badurl(text, "no such message")

    def read(self, located: Located) -> AsyncIterator[bytes]:
        """The octets, in chunks of at most 64 KiB."""
        if located.data is not None:
            return _one(located.data)
        return located.mailbox.read(located.record.content, located.start, located.size)

    async def _open(self, store: MailStore, name: str, text: str) -> tuple[SelectedMailbox, int]:
        view = self.session.view
        if view is not None and store is self.session.store and view.name == name:
            return view.mailbox, view.uidvalidity
        key = (store.user, name)
        if key not in self._opened:
            try:
                mailbox, result = await store.select(name, True)
            except StorageError as exc:
                raise badurl(text, "no such mailbox") from exc
            self._opened[key] = (mailbox, result.uidvalidity)
        return self._opened[key]

    async def _range(
        self, mailbox: SelectedMailbox, record: MessageRecord, url: ImapUrl, text: str
    ) -> Located:
        section = url.section
        if section is None or (not section.part and not section.text):
            lo, hi = _clip(0, record.size, url.partial)
            return Located(mailbox, record, lo, hi, None)
        root = mime.loads(record.structure) if record.structure is not None else None
        found = mime.locate(root, section.part, section.text) if root is not None else None
        if found is None:
            raise badurl(text, "no such body part")
        if not section.text.startswith("HEADER.FIELDS"):
            lo, hi = _clip(found.start, found.end, url.partial)
            return Located(mailbox, record, lo, hi, None)
        end = min(found.end, found.start + HEADER_READ_MAX)
        header = b"".join([c async for c in mailbox.read(record.content, found.start,
                                                         end - found.start)])
        data = mime.filter_header_fields(header, section.fields,
                                         exclude=section.text.endswith(".NOT"))
        lo, hi = _clip(0, len(data), url.partial)
        return Located(mailbox, record, 0, hi - lo, data[lo:hi])


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _clip(start: int, end: int, partial: tuple[int, int | None] | None) -> tuple[int, int]:
    """RFC 5092 ``;PARTIAL=offset[.length]``: like FETCH's ``<offset.length>``, clipped
    to the section; without a length, to its end."""
    if partial is None:
        return start, end
    offset, length = partial
    lo = min(start + offset, end)
    return lo, end if length is None else min(lo + length, end)
