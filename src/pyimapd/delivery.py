"""Turning raw message bytes into a :class:`PreparedMessage`, and storing it for its
recipients: one path for APPEND, LMTP delivery and the importers.

Bytes are normalised to CRLF line endings as they arrive (IMAP sends CRLF, and sizes and
offsets must agree with what FETCH returns), spooled to a temporary file that stays in
memory while small, then parsed once into the MIME part tree. Nothing holds a large
message in memory.

:class:`Delivery` then stores one prepared message for any number of recipients and
returns one :class:`DeliveryResult` per recipient, with the SMTP reply code and enhanced
status code (RFC 3463) that LMTP sends for it (RFC 2033 section 4.2) and that the
importers report. Addresses map to accounts as described in :func:`address_candidates`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pyimapd import mime
from pyimapd.mime import recode
from pyimapd.mime.preview import make_preview
from pyimapd.storage.interface import (
    Backend,
    MailStore,
    NoSuchMailbox,
    NoSuchUser,
    OverQuota,
    PreparedMessage,
    StorageError,
)

if TYPE_CHECKING:
    from pyimapd.filtering import SieveFilter

log = logging.getLogger("pyimapd.delivery")

SPOOL_IN_MEMORY = 256 * 1024
"""Messages up to this size are spooled in memory; larger ones go to a temporary file."""


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_EIGHT_BIT = re.compile(rb"[\x80-\xff]")


class Spool:
    """Collects one message in chunks; :meth:`finish` parses it off the event loop."""

    def __init__(self, tmp_dir: Path | None = None, in_memory: int = SPOOL_IN_MEMORY,
                 binary: bool = False) -> None:
        """``in_memory``: bytes kept in memory before the spool moves to a file (0: a
        file from the start, for callers holding many spools, like MULTIAPPEND).
        ``binary``: the message came as RFC 3516's ``literal8``, so it is kept as sent
        until :meth:`finish` has found its binary parts (see :mod:`pyimapd.mime.recode`)."""
        self._tmp_dir = str(tmp_dir) if tmp_dir else None
        self._in_memory = in_memory
        self._file = self._new_file()
        self._crlf = None if binary else mime.CRLFNormalizer()
        self._nul = False
        self.size = 0
        self.header_8bit = False
        """Whether an octet of the top-level header is above 127 (RFC 6855 section 4
        lets only a client that ENABLEd UTF8=ACCEPT append such a message)."""
        self._in_header = True
        self._header_tail = b""

    def _new_file(self) -> tempfile.SpooledTemporaryFile[bytes]:
        # Owned by the Spool, closed by close(): a context manager cannot span the events.
        spooled = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=self._in_memory, dir=self._tmp_dir
        )
        if self._in_memory <= 0:
            spooled.rollover()  # max_size=0 would mean "never roll over"
        return spooled

    def feed(self, data: bytes) -> None:
        out = self._crlf.feed(data) if self._crlf is not None else data
        self._nul = self._nul or b"\x00" in out
        if self._in_header:
            self._watch_header(out)
        self.size += len(out)
        self._file.write(out)

    def _watch_header(self, out: bytes) -> None:
        """Follows the header up to its blank line (a literal8 may end lines in bare
        LF), noting an 8-bit octet; only the last octets are kept between chunks."""
        seen = self._header_tail + out
        if self.size == 0:
            seen = b"\n" + seen  # a message without header starts with the blank line
        end = _BLANK_LINE.search(seen)
        if _EIGHT_BIT.search(seen if end is None else seen[: end.start()]):
            self.header_8bit = True
        if end is not None or self.header_8bit:
            self._in_header = False
        self._header_tail = seen[-3:]

    async def finish(self) -> PreparedMessage:
        if self._crlf is not None:
            tail = self._crlf.flush()
            self.size += len(tail)
            self._file.write(tail)
        self._file.flush()
        if self._crlf is None or self._nul:
            await asyncio.to_thread(self._recode)
        return await asyncio.to_thread(_prepare, self._file, self.size)

    def _recode(self) -> None:
        """Stores binary and NUL-holding parts as base64, the rest CRLF-normalised (a
        ``literal8`` arrived as sent, so it is normalised only here)."""
        self._file.seek(0)
        root = mime.parse_message(self._file, self.size)  # type: ignore[arg-type]
        leaves = recode.leaves_to_encode(self._file, root, self._crlf is None)  # type: ignore[arg-type]
        if not leaves and self._crlf is not None:
            return  # a NUL outside any leaf body (a header): kept as it is
        out = self._new_file()
        try:
            size = recode.write_recoded(self._file, self.size, leaves, out)  # type: ignore[arg-type]
        except BaseException:
            out.close()
            raise
        self._file.close()
        self._file, self.size = out, size

    def close(self) -> None:
        self._file.close()


def _prepare(source: tempfile.SpooledTemporaryFile[bytes], size: int) -> PreparedMessage:
    source.seek(0)
    root = mime.parse_message(source, size)  # type: ignore[arg-type]
    headers, text = mime.search_fields(source, root)  # type: ignore[arg-type]
    preview = make_preview(source, root)  # type: ignore[arg-type]
    return PreparedMessage(
        source=source,  # type: ignore[arg-type]
        size=size,
        structure=mime.dumps(root),
        sent_date=mime.sent_date(root),
        search_headers=headers,
        search_text=text,
        preview=preview,
    )


async def prepare_bytes(data: bytes, tmp_dir: Path | None = None) -> tuple[Spool, PreparedMessage]:
    """For callers that already hold a small message (tests, LMTP of small mail)."""
    spool = Spool(tmp_dir)
    spool.feed(data)
    return spool, await spool.finish()


# --- delivery to recipients ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How addresses map to accounts and how store refusals are reported.

    ``detail_delimiter`` separates a user from a detail (``user+tag@domain``; empty turns
    details off). With ``detail_mailbox``, a message for ``user+tag`` goes into the
    user's mailbox named ``tag`` when it exists, else into INBOX. ``quota_tempfail``
    makes a full mailbox a temporary failure (452 4.2.2, the MTA retries) instead of a
    permanent one (552 5.2.2, the sender gets a bounce).
    """

    detail_delimiter: str = "+"
    detail_mailbox: bool = True
    quota_tempfail: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """Where one recipient's copy goes: an account and a mailbox in it. ``detail`` is the
    address's ``+detail`` (the mailbox is chosen from it at delivery time)."""

    address: str
    user: str
    mailbox: str = "INBOX"
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome for one recipient: an SMTP reply code, an enhanced status code and a
    text, plus the UID and mailbox of the stored copy on success."""

    address: str
    code: int
    status: str
    text: str
    mailbox: str | None = None
    uid: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500


def unknown_user(address: str) -> DeliveryResult:
    return DeliveryResult(address, 550, "5.1.1", f"<{address}> No such user here")


def result_for_error(address: str, exc: BaseException, policy: DeliveryPolicy) -> DeliveryResult:
    """The one mapping of store failures to SMTP replies (RFC 3463 codes)."""
    if isinstance(exc, NoSuchUser):
        return unknown_user(address)
    if isinstance(exc, OverQuota):
        if policy.quota_tempfail:
            return DeliveryResult(address, 452, "4.2.2", f"<{address}> Mailbox full: {exc.text}")
        return DeliveryResult(address, 552, "5.2.2", f"<{address}> Mailbox full: {exc.text}")
    text = exc.text if isinstance(exc, StorageError) else "local error"
    return DeliveryResult(address, 451, "4.3.0", f"<{address}> Temporary failure: {text}")


def address_candidates(address: str, delimiter: str) -> list[tuple[str, str | None]]:
    """Account names to try for an address, most specific first, with the detail each
    implies: the address itself (accounts may be named ``user@domain``), the address
    without its detail, the local part, the local part without its detail. Each is
    tried as given and lower-cased (local parts are case-sensitive in RFC 5321 section
    2.4, but nobody relies on it)."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    base, detail = local, None
    if delimiter and delimiter in local:
        base, _, detail = local.partition(delimiter)
    forms: list[tuple[str, str | None]] = [(address, None)]
    if detail is not None and at:
        forms.append((f"{base}@{domain}", detail))
    if at:
        forms.append((local, None))
    if detail is not None:
        forms.append((base, detail))
    out: dict[str, str | None] = {}
    for name, tag in forms:
        for variant in (name, name.lower()):
            if variant and variant not in out:
                out[variant] = tag
    return list(out.items())


class Delivery:
    """Stores prepared messages for recipients; one result per recipient.

    With ``keep_open`` the per-user stores stay open between calls (the importers store
    thousands of messages for one user) until :meth:`close`. ``observe`` is called with
    each result (metrics).
    """

    def __init__(
        self,
        backend: Backend,
        policy: DeliveryPolicy | None = None,
        keep_open: bool = False,
        observe: Callable[[DeliveryResult], None] | None = None,
        sieve: SieveFilter | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy or DeliveryPolicy()
        self.keep_open = keep_open
        self.observe = observe
        self.sieve = sieve
        """Runs the recipient's active Sieve script (pyimapd.filtering) for deliveries
        that come with an envelope sender (LMTP, ``pyimapd deliver``); imports do not."""
        self._stores: dict[str, MailStore] = {}

    async def resolve(self, address: str) -> Target | DeliveryResult:
        """The account for an address (RCPT time), or a 550 5.1.1 result."""
        try:
            for user, detail in address_candidates(address, self.policy.detail_delimiter):
                if await self.backend.users.get_user(user) is not None:
                    return Target(address, user, "INBOX", detail)
        except Exception as exc:  # the store is down: the MTA should retry
            log.warning("looking up %s failed: %s", address, exc)
            return result_for_error(address, exc, self.policy)
        return unknown_user(address)

    async def deliver(
        self,
        prepared: PreparedMessage,
        targets: Sequence[Target],
        flags: frozenset[str] = frozenset(),
        internaldate: datetime | None = None,
        sender: str | None = None,
    ) -> list[DeliveryResult]:
        """Stores ``prepared`` once per target, in order; a failure for one recipient
        never stops the others (RFC 2033 section 4.2). Each append is durable before its
        result says 250. ``sender`` is the envelope's reverse-path ("" for ``<>``); with
        it, the recipient's Sieve script decides where the message goes."""
        when = internaldate or datetime.now(UTC).astimezone()
        results = []
        for target in targets:
            result = await self._deliver_one(prepared, target, flags, when, sender)
            if self.observe is not None:
                self.observe(result)
            results.append(result)
        if not self.keep_open:
            await self.close()
        return results

    async def _deliver_one(
        self, prepared: PreparedMessage, target: Target, flags: frozenset[str], when: datetime,
        sender: str | None = None,
    ) -> DeliveryResult:
        try:
            store = await self._store(target.user)
            if self.sieve is not None and sender is not None:
                filed = await self._filter(store, prepared, target, flags, when, sender)
                if filed is not None:
                    return filed
            mailbox = await self._mailbox(store, target)
            try:
                appended = await store.append(mailbox, prepared, flags, when)
            except NoSuchMailbox:
                if mailbox == "INBOX" or target.mailbox != "INBOX":
                    raise
                mailbox = "INBOX"  # the detail folder went away meanwhile
                appended = await store.append(mailbox, prepared, flags, when)
        except Exception as exc:
            if not isinstance(exc, StorageError):
                log.exception("delivery to %s failed", target.address)
            else:
                log.info("delivery to %s refused: %s", target.address, exc.text)
            await self._drop(target.user)
            return result_for_error(target.address, exc, self.policy)
        return DeliveryResult(
            target.address, 250, "2.0.0", f"<{target.address}> Delivered",
            mailbox=mailbox, uid=appended.uid,
        )

    async def _filter(
        self, store: MailStore, prepared: PreparedMessage, target: Target,
        flags: frozenset[str], when: datetime, sender: str,
    ) -> DeliveryResult | None:
        """The Sieve script's delivery (pyimapd.filtering), None without a script."""
        assert self.sieve is not None

        async def put(mailbox: str, chosen: frozenset[str],
                      message: PreparedMessage) -> tuple[str, int]:
            return mailbox, (await store.append(mailbox, message, chosen, when)).uid

        filed = await self.sieve.deliver(
            store, target.user, target.address, prepared, sender,
            lambda: self._mailbox(store, target), put, flags)
        if filed is None:
            return None
        return DeliveryResult(target.address, filed.code, filed.status, filed.text,
                              mailbox=filed.mailbox, uid=filed.uid)

    async def _store(self, user: str) -> MailStore:
        store = self._stores.get(user)
        if store is None:
            store = await self.backend.open_owner(user)
            self._stores[user] = store
        return store

    async def _drop(self, user: str) -> None:
        store = self._stores.pop(user, None)
        if store is not None:
            try:
                await store.close()
            except Exception:
                log.debug("closing the store of %s failed", user, exc_info=True)

    async def _mailbox(self, store: MailStore, target: Target) -> str:
        """The detail's mailbox when it exists and may hold messages, else the target's
        (exact name first, then case-insensitively)."""
        if not (target.detail and self.policy.detail_mailbox):
            return target.mailbox
        names = [m.name for m in await store.list_mailboxes() if not m.noselect]
        if target.detail in names:
            return target.detail
        folded = target.detail.lower()
        return next((n for n in names if n.lower() == folded), target.mailbox)

    async def close(self) -> None:
        for user in list(self._stores):
            await self._drop(user)
