"""Sieve at delivery (issue 19): run the recipient's active script and carry out what it
decided, for LMTP and ``pyimapd deliver``.

How this works: :class:`SieveFilter` reads the user's active script from the store
(compiled once per text and kept in a small cache), shows the interpreter
(:mod:`pyimapd.sieve`, which does no I/O) the message's header and the first
:data:`VIEW_BODY_MAX` octets of its body, and runs it in a worker thread: the
interpreter asks its questions (does this mailbox exist, was this duplicate or this
vacation reply seen) synchronously, and :class:`_StoreEnvironment` answers them from
the store on the event loop. Then the actions are carried out in order: keep and
fileinto append (creating the mailbox for ``:create``), redirect and vacation go to the
SMTP relay (``[sieve] relay``), reject refuses the recipient with LMTP's 550 5.7.1,
discard stores nothing.

Nothing is lost (RFC 5228 section 2.10.6 and the issue's rule): a script that does not
compile any more, fails at run time, or asks for something that cannot be done (a
missing mailbox without ``:create``, a redirect with no relay or a relay that is down)
ends with the message in the default mailbox and a log line saying why. LMTP's 250 comes
only after every copy is stored (durable) and every redirect accepted by the relay.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from pyimapd.config import SieveConfig
from pyimapd.relay import RelayError, SmtpRelay
from pyimapd.sieve import (
    CheckedScript,
    Discard,
    Envelope,
    FileInto,
    Keep,
    MessageView,
    Redirect,
    Reject,
    Result,
    SieveError,
    Vacation,
    compile_script,
    evaluate,
)
from pyimapd.storage.interface import MailStore, NoSuchMailbox, NoSuchScript, PreparedMessage

log = logging.getLogger("pyimapd.sieve")

VIEW_BODY_MAX = 1024 * 1024
"""Octets of the body the ``body`` test sees; the header is always seen whole (up to
:data:`HEADER_MAX`). A test on a larger message's body looks at its first MiB, and
``size`` still sees the whole size."""
HEADER_MAX = 1024 * 1024
COMPILED_CACHE = 256
"""Compiled scripts kept, by text: delivery to the same users reuses them."""
ASK_TIMEOUT = 30.0
"""Seconds one question of the interpreter may wait for the store."""

SYSTEM_FLAG_NAMES = {"\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft"}


@dataclass(frozen=True, slots=True)
class Filed:
    """What a filtered delivery did, for the LMTP reply and the log."""

    code: int
    status: str
    text: str
    mailbox: str | None = None
    uid: int | None = None


DefaultMailbox = Callable[[], Awaitable[str]]
Store = Callable[[str, frozenset[str], PreparedMessage], Awaitable[tuple[str, int]]]
"""Appends a message into a mailbox with flags; returns (mailbox, uid)."""


def _key(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).digest()


class _StoreEnvironment:
    """The interpreter's questions (``pyimapd.sieve.Environment``), asked from its
    worker thread and answered by the store on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, store: MailStore,
                 mailboxes: set[str], addresses: Sequence[str], global_dir: str) -> None:
        self.loop = loop
        self.store = store
        self.mailboxes = mailboxes
        self.addresses = list(addresses)
        self.global_dir = global_dir
        self.clock = datetime.now(UTC).astimezone()

    def _ask(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(ASK_TIMEOUT)  # type: ignore[arg-type]

    def mailbox_exists(self, name: str) -> bool:
        return name in self.mailboxes

    def duplicate_seen(self, handle: str, value: str) -> bool:
        return bool(self._ask(self.store.scripts().seen(
            "duplicate", _key(handle, value), int(time.time()))))

    def vacation_sent_recently(self, handle: str, sender: str, seconds: int) -> bool:
        return bool(self._ask(self.store.scripts().seen(
            "vacation", _key(handle, sender.lower()), int(time.time()))))

    def include(self, name: str, location: str) -> str | None:
        if location == "global":
            if not self.global_dir or not re.fullmatch(r"[\w.+-]+", name) or name[0] == ".":
                return None
            folder = Path(self.global_dir)
            for candidate in (folder / name, folder / f"{name}.sieve"):
                if candidate.is_file():
                    return candidate.read_text("utf-8")
            return None
        try:
            return str(self._ask(self.store.scripts().get(name)))
        except NoSuchScript:
            return None

    def now(self) -> datetime:
        return self.clock

    def user_addresses(self) -> Sequence[str]:
        return self.addresses


@dataclass
class SieveFilter:
    config: SieveConfig
    relay: SmtpRelay | None = None
    hostname: str = "localhost"
    _compiled: OrderedDict[str, CheckedScript] = field(default_factory=OrderedDict)

    def _compile(self, text: str) -> CheckedScript:
        found = self._compiled.get(text)
        if found is None:
            found = compile_script(text)
            self._compiled[text] = found
            if len(self._compiled) > COMPILED_CACHE:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(text)
        return found

    async def deliver(
        self, store: MailStore, user: str, address: str, prepared: PreparedMessage,
        sender: str, default_mailbox: DefaultMailbox, put: Store,
        default_flags: frozenset[str],
    ) -> Filed | None:
        """Runs the user's active script over the message; None when there is none (or
        it cannot run), and the caller delivers as without Sieve."""
        active = await store.scripts().active()
        if active is None:
            return None
        name, text = active
        try:
            compiled = self._compile(text)
        except SieveError as exc:
            log.error("active script %r of %s does not compile (%s); keeping the message",
                      name, user, exc)
            return None
        raw, offset = await asyncio.to_thread(_head_of, prepared)
        view = MessageView(raw)
        view.size = prepared.size
        mailboxes = {m.name for m in await store.list_mailboxes() if not m.noselect}
        env = _StoreEnvironment(asyncio.get_running_loop(), store, mailboxes,
                                _addresses(user, address), self.config.global_dir)
        try:
            result: Result = await asyncio.to_thread(
                evaluate, compiled, view, Envelope(from_=sender, to=address), env)
        except Exception:
            log.exception("script %r of %s failed; keeping the message", name, user)
            return None
        for error in result.errors:
            log.warning("script %r of %s: %s; the message is kept", name, user, error)
        for warning in result.warnings:
            log.info("script %r of %s: %s", name, user, warning)
        run = _Run(self, store, user, address, prepared, sender, default_mailbox, put,
                   default_flags, result)
        return await run.carry_out(offset)


def _head_of(prepared: PreparedMessage) -> tuple[bytes, int]:
    """The header (whole, up to HEADER_MAX) and the start of the body, and where the
    header ends in the stored message."""
    source = prepared.source
    source.seek(0)
    data = source.read(min(prepared.size, HEADER_MAX + VIEW_BODY_MAX))
    end = data.find(b"\r\n\r\n")
    header_end = end + 4 if end >= 0 else len(data)
    return data[:header_end + VIEW_BODY_MAX], header_end


def _addresses(user: str, address: str) -> list[str]:
    """The recipient as addressed (first: vacation's default From) and the account name
    when it is an address."""
    out = [address]
    if "@" in user and user.lower() != address.lower():
        out.append(user)
    return out


class _Run:
    """Carrying out one script's result for one recipient."""

    def __init__(self, owner: SieveFilter, store: MailStore, user: str, address: str,
                 prepared: PreparedMessage, sender: str, default_mailbox: DefaultMailbox,
                 put: Store, default_flags: frozenset[str], result: Result) -> None:
        self.owner = owner
        self.store = store
        self.user = user
        self.address = address
        self.prepared = prepared
        self.sender = sender
        self.default_mailbox = default_mailbox
        self.put = put
        self.default_flags = default_flags
        self.result = result
        self.stored: list[tuple[str, int]] = []
        self.done: set[tuple[str, frozenset[str]]] = set()
        self.redirected = 0
        self._spool: Any = None  # the edited message's spool, closed at the end

    async def carry_out(self, header_end: int) -> Filed:
        try:
            return await self._carry_out(header_end)
        finally:
            if self._spool is not None:
                self._spool.close()

    async def _carry_out(self, header_end: int) -> Filed:
        if self.result.header is not None:
            await self._use_edited_header(header_end)
        for action in self.result.actions:
            if isinstance(action, Reject):
                return await self._reject(action)
            if isinstance(action, Keep):
                await self._store(await self.default_mailbox(), action.flags)
            elif isinstance(action, FileInto):
                await self._fileinto(action)
            elif isinstance(action, Redirect):
                await self._redirect(action)
            elif isinstance(action, Vacation):
                await self._vacation(action)
            elif isinstance(action, Discard):
                log.info("script of %s discarded the message for <%s>", self.user, self.address)
        now = int(time.time())
        for record in self.result.duplicates:
            await self.store.scripts().remember(
                "duplicate", _key(record.handle, record.value), now + record.seconds, now)
        if self.stored:
            mailbox, uid = self.stored[0]
            return Filed(250, "2.0.0", f"<{self.address}> Delivered", mailbox, uid)
        what = "Redirected" if self.redirected else "Discarded by the recipient's filter"
        return Filed(250, "2.0.0", f"<{self.address}> {what}")

    async def _use_edited_header(self, header_end: int) -> None:
        """RFC 5293: the stored (and redirected) message has the edited header."""
        from pyimapd.delivery import Spool

        spool = Spool()
        try:
            assert self.result.header is not None
            spool.feed(self.result.header)
            source = self.prepared.source
            source.seek(header_end)
            while chunk := await asyncio.to_thread(source.read, 64 * 1024):
                spool.feed(chunk)
            self.prepared = await spool.finish()
        except BaseException:
            spool.close()
            raise
        self._spool = spool  # kept open while the message is stored

    async def _store(self, mailbox: str, flags: tuple[str, ...] | None) -> None:
        chosen = self.default_flags if flags is None else frozenset(_storable(flags))
        if (mailbox, chosen) in self.done:
            return
        self.stored.append(await self.put(mailbox, chosen, self.prepared))
        self.done.add((mailbox, chosen))

    async def _fileinto(self, action: FileInto) -> None:
        try:
            await self._store(action.mailbox, action.flags)
            return
        except NoSuchMailbox:
            if not action.create:
                log.warning("script of %s files into %r, which does not exist; kept in the "
                            "default mailbox instead", self.user, action.mailbox)
                await self._store(await self.default_mailbox(), action.flags)
                return
        await self.store.create_mailbox(action.mailbox)  # RFC 5490 :create
        await self._store(action.mailbox, action.flags)

    async def _keep_instead(self, why: str) -> None:
        log.warning("script of %s: %s; the message is kept in the default mailbox",
                    self.user, why)
        await self._store(await self.default_mailbox(), None)

    async def _redirect(self, action: Redirect) -> None:
        relay = self.owner.relay
        if relay is None:
            await self._keep_instead(f"redirect to <{action.address}> needs [sieve] relay")
            return
        if self.redirected >= self.owner.config.max_redirects:
            await self._keep_instead(f"more than {self.owner.config.max_redirects} redirects")
            return
        name, value = action.loop_header
        head = f"{name}: {value}\r\n".encode() if name else b""
        try:
            await relay.send(self.sender, [action.address], head, self.prepared.source, 0)
        except RelayError as exc:
            await self._keep_instead(f"redirect to <{action.address}> failed: {exc}")
            return
        self.redirected += 1
        log.info("script of %s redirected the message for <%s> to <%s>",
                 self.user, self.address, action.address)

    async def _vacation(self, action: Vacation) -> None:
        """RFC 5230 section 5 and RFC 3834: from the null reverse-path, marked
        auto-replied, recorded for ``seconds`` once the relay took it."""
        relay = self.owner.relay
        if relay is None:
            log.warning("script of %s answers <%s> with vacation, but there is no "
                        "[sieve] relay; no reply sent", self.user, action.to)
            return
        scripts = self.store.scripts()
        key, now = _key(action.handle, action.to.lower()), int(time.time())
        if not await scripts.claim("vacation", key, now + action.seconds, now):
            log.info("vacation reply of %s to <%s> already sent by a delivery meanwhile",
                     self.user, action.to)
            return
        try:
            await relay.send("", [action.to], _vacation_message(action, self.owner.hostname))
        except RelayError as exc:
            await scripts.forget("vacation", key)  # the next message tries again
            log.warning("vacation reply of %s to <%s> failed: %s", self.user, action.to, exc)
            return
        log.info("vacation reply of %s sent to <%s>", self.user, action.to)

    async def _reject(self, action: Reject) -> Filed:
        """RFC 5429: refused in LMTP (550 5.7.1), so the MTA bounces with the reason; a
        message from the null reverse-path cannot be bounced and is discarded."""
        if not self.sender:
            log.info("script of %s rejects a message from <>: discarded", self.user)
            return Filed(250, "2.0.0", f"<{self.address}> Discarded (rejected, null sender)")
        reason = " ".join(action.reason.split()) or "Rejected"
        return Filed(550, "5.7.1", f"<{self.address}> {reason[:400]}")


def _storable(flags: tuple[str, ...] | Sequence[str]) -> list[str]:
    """Flags an APPEND may set: system flags other than \\Recent, and keywords."""
    return [f for f in flags if (f.lower() in SYSTEM_FLAG_NAMES) or not f.startswith("\\")]


def _vacation_message(action: Vacation, hostname: str) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = action.from_
    message["To"] = action.to
    message["Subject"] = action.subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=hostname)
    message["Auto-Submitted"] = "auto-replied"
    if action.in_reply_to:
        message["In-Reply-To"] = action.in_reply_to
    if action.references:
        message["References"] = action.references
    if not action.mime:
        message.set_content(action.body)
        return message.as_bytes()
    message["MIME-Version"] = "1.0"
    entity = action.body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return message.as_bytes().rstrip(b"\r\n") + b"\r\n" + entity
