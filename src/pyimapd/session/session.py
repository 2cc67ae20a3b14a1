"""One client session: the RFC 3501 state machine between the protocol and the store.

How this works: :meth:`Session.run` pulls events from the sans-IO
:class:`~pyimapd.protocol.connection.ServerConnection`, reading from the channel only when
the parser needs more bytes, and hands each command to its handler through the table of
``table.py``, which also says in which states a command is allowed. Commands run one at a
time, so responses never interleave. Every error reaches the wire here, in one place:
syntax errors become BAD, store refusals NO with their response code, anything unexpected
``NO [SERVERBUG]`` (logged with its traceback), fatal conditions BYE.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyimapd.auth.cache import LoginCache
from pyimapd.auth.login import Authenticator
from pyimapd.auth.passwords import Passwords
from pyimapd.auth.throttle import LoginThrottle
from pyimapd.config import Config
from pyimapd.protocol.commands import Command
from pyimapd.protocol.connection import ServerConnection
from pyimapd.protocol.events import NeedData, ParseError
from pyimapd.protocol.responses import ResponseCode, continuation, tagged, untagged_status
from pyimapd.session.handlers import uidonly
from pyimapd.session.handlers.notify import announce_new
from pyimapd.session.io import Channel
from pyimapd.session.state import CommandFailed, ConnectionClosed, Result, State, bad, no
from pyimapd.session.table import TABLE, command_name
from pyimapd.session.view import SelectedView, SharedPolls
from pyimapd.storage.interface import Backend, MailStore, NoSuchMailbox, StorageError
from pyimapd.watchdog import LoopWatchdog

if TYPE_CHECKING:
    from pyimapd.session.handlers.notify import Notifier

log = logging.getLogger("pyimapd.session")


@dataclass
class ServerContext:
    """What every session of a server shares: the login cache and the failed-login
    throttle are per process (see docs/security.md)."""

    config: Config
    backend: Backend
    passwords: Passwords
    capabilities_extra: tuple[str, ...] = ()
    sessions: set[Session] = field(default_factory=set)
    login_cache: LoginCache | None = None
    throttle: LoginThrottle | None = None
    sasl_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    metrics: Any = None
    """A :class:`pyimapd.metrics.Metrics` when ``metrics_listen`` is set."""
    polls: SharedPolls = field(default_factory=SharedPolls)
    """Store polls shared by the sessions of this process (session/view.py)."""
    watchdog: LoopWatchdog | None = None
    """Names the command that blocks the loop (``[timeouts] loop_stall``)."""

    authenticator: Authenticator = field(init=False)
    """Password and SASL checks with the cache and throttle above (auth/login.py),
    shared with the ManageSieve listener."""

    def __post_init__(self) -> None:
        auth = self.config.auth
        if self.login_cache is None:
            self.login_cache = LoginCache(ttl=auth.login_cache_ttl)
        if self.throttle is None:
            self.throttle = LoginThrottle(auth.failure_delay, auth.failure_delay_max)
        self.authenticator = Authenticator(
            self.backend.users, self.passwords, self.login_cache, self.throttle,
            self.sasl_key, tuple(auth.mechanisms), auth.rehash_imported)


class Session:
    def __init__(self, ctx: ServerContext, channel: Channel) -> None:
        self.ctx = ctx
        self.io = channel
        self.conn = ServerConnection(ctx.config.limits)
        self.state = State.NOT_AUTHENTICATED
        self.user: str | None = None
        self.store: MailStore | None = None
        self.view: SelectedView | None = None
        self.bad_commands = 0
        self.after_response: Callable[[], Awaitable[None]] | None = None
        """Run once the tagged response is flushed (STARTTLS's handshake)."""
        self.connected_at = time.monotonic()
        self.enabled: set[str] = set()  # RFC 5161 ENABLE: CONDSTORE, QRESYNC
        self.notifier: Notifier | None = None
        """RFC 5465 NOTIFY's registration (handlers/notify.py), None without one."""
        self.id = secrets.token_hex(4)
        self.log = logging.LoggerAdapter(log, {"session": self.id, "peer": channel.peer})

    @property
    def rev2(self) -> bool:
        """ENABLE IMAP4rev2 (RFC 9051 section 6.3.1): the session follows rev2's rules."""
        return "IMAP4rev2" in self.enabled

    @property
    def utf8_accept(self) -> bool:
        """ENABLE UTF8=ACCEPT (RFC 6855): 8-bit header fields may be appended and
        SEARCH takes no CHARSET."""
        return "UTF8=ACCEPT" in self.enabled

    @property
    def utf8(self) -> bool:
        """Mailbox names go out in UTF-8, not modified UTF-7: after ENABLE UTF8=ACCEPT
        (RFC 6855 section 3) or IMAP4rev2 (RFC 9051 section 5.1)."""
        return "IMAP4rev2" in self.enabled or "UTF8=ACCEPT" in self.enabled

    # --- the loop -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.io.write(data)

    async def run(self) -> None:
        self.write(untagged_status("OK", "IMAP4rev1 Service Ready"))
        try:
            await self.io.drain()
            while self.state is not State.LOGOUT:
                notifier = self.notifier
                event = await (self.next_event() if notifier is None else notifier.next_event())
                await self.dispatch(event)
                await self.io.drain()
        except TimeoutError:
            if self.state is State.NOT_AUTHENTICATED:
                self.log.info("no login within %ss; disconnecting",
                              self.ctx.config.timeouts.unauthenticated)
                self.write(untagged_status("BYE", "Autologout; too slow to log in"))
            else:
                self.log.info("autologout after %ss idle", self.ctx.config.timeouts.autologout)
                self.write(untagged_status("BYE", "Autologout; idle for too long"))
        except (ConnectionClosed, ConnectionError):
            pass
        finally:
            await self.end()

    async def end(self) -> None:
        self.set_notifier(None)
        await self.unselect()
        if self.store is not None:
            await self.store.close()
            self.store = None
        try:
            await self.io.drain()
        except ConnectionError:
            pass
        await self.io.close()

    def read_timeout(self) -> float:
        """Before login the whole not-authenticated phase is bounded, not each read, so
        a client dribbling a byte at a time (slowloris) is cut off all the same."""
        t = self.ctx.config.timeouts
        if self.state is State.NOT_AUTHENTICATED:
            return max(0.0, self.connected_at + t.unauthenticated - time.monotonic())
        return t.autologout

    async def next_event(self) -> Any:
        """The next event from the parser, reading from the client as needed."""
        while True:
            event = self.conn.next_event()
            if not isinstance(event, NeedData):
                return event
            pending = self.conn.data_to_send()
            if pending:
                self.write(pending)
                await self.io.drain()
            if self.conn.eof:
                raise ConnectionClosed()
            async with asyncio.timeout(self.read_timeout()):  # no task per read, unlike wait_for
                data = await self.io.read()
            self.conn.receive_data(data)

    def ask_for_line(self, text: str) -> None:
        """Sends ``+ text`` (RFC 3501 section 7.5) and has the parser hand over the
        client's next line raw, for a handler that reads a line of its own: a SASL
        response, IDLE's DONE. The handler then reads it with :meth:`next_event`."""
        self.write(continuation(text))
        self.conn.expect_raw_line()

    async def read_continuation(self, text: str) -> Any:
        """:meth:`ask_for_line`, sent at once, then the client's answer: a RawLine
        event (or what the parser made of something else)."""
        self.ask_for_line(text)
        await self.io.drain()
        return await self.next_event()

    # --- dispatch -------------------------------------------------------------------

    async def dispatch(self, event: Any) -> None:
        if isinstance(event, ParseError):
            await self.on_parse_error(event)
            return
        if not isinstance(event, Command):
            self.log.warning("stray protocol event %r", type(event).__name__)
            return
        spec = TABLE.get(type(event))
        name = command_name(event)
        if spec is None:
            await self.on_bad(event.tag, f"{name} is not supported")
            return
        if self.state not in spec.states:
            await self.refuse_in_state(event, name)
            return
        refused = uidonly.refusal(self, event, name)
        if refused is not None:
            await self.refuse(event, refused)
            return
        started = time.monotonic()
        watchdog = self.ctx.watchdog
        if watchdog is None:
            result = await self.run_handler(spec.handler, event)
        else:
            watchdog.command_started(f"{event.tag} {name} of user {self.user or '(none)'}")
            try:
                result = await self.run_handler(spec.handler, event)
            finally:
                watchdog.command_ended()
        self.observe(name, result.status, time.monotonic() - started)
        if self.notifier is not None:
            await self.notifier.after_command(event)
        await self.flush_updates(spec.allows_expunge(event))
        self.write(tagged(event.tag, result.status, result.text, result.code))
        if result.status == "BAD":
            await self.count_bad()
        if self.after_response is not None:
            hook, self.after_response = self.after_response, None
            await self.io.drain()
            await hook()

    def observe(self, name: str, status: str, seconds: float) -> None:
        """One debug line per command (its name only: never arguments, so never a
        password) and the metrics; see pyimapd.logs and pyimapd.metrics."""
        logger = self.log.logger
        if logger.isEnabledFor(logging.DEBUG):  # off in production: skip the dict
            ms = round(seconds * 1000, 2)
            extra = {**(self.log.extra or {}), "command": name, "result": status, "ms": ms}
            logger.debug("command %s %s in %.2f ms", name, status, ms, extra=extra)
        if self.ctx.metrics is not None:
            self.ctx.metrics.command(name, status, seconds)

    async def run_handler(self, handler: Any, command: Command) -> Result:
        try:
            result: Result = await handler(self, command)
            return result
        except CommandFailed as exc:
            return exc.result
        except StorageError as exc:
            code = ResponseCode(exc.code) if exc.code else None
            return no(exc.text, code)
        except (ConnectionClosed, ConnectionError, TimeoutError):
            raise
        except Exception:
            self.log.exception("handler for %s failed", command_name(command))
            return no("Internal server error, logged", ResponseCode("SERVERBUG"))

    async def refuse_in_state(self, command: Command, name: str) -> None:
        text = f"{name} is not allowed in the {self.state.value} state"
        await self.refuse(command, bad(text))

    async def refuse(self, command: Command, result: Result) -> None:
        """A command turned away before its handler: a BAD, and an APPEND's literal
        is not read."""
        from pyimapd.session.handlers.append import refuse_append

        await refuse_append(self, command)
        await self.on_bad(command.tag, result.text, result.code)

    async def flush_updates(self, allow_expunge: bool, flags: bool = True) -> None:
        """A mailbox deleted under the session cannot be reported otherwise: say BYE.
        ``flags``: False keeps flag changes back (NOTIFY without FlagChange)."""
        view = self.view
        if view is None:
            return
        try:
            lines = await view.refresh(allow_expunge, flags)
        except NoSuchMailbox:
            self.write(untagged_status("BYE", "The selected mailbox was deleted"))
            self.enter_logout()
            raise ConnectionClosed() from None
        for line in lines:
            self.write(line)
        if view.last_new and (self.notifier is not None or view.contexts):
            await announce_new(self, view)

    def set_notifier(self, notifier: Notifier | None) -> None:
        """NOTIFY SET or NONE (RFC 5465 section 3.1): the new registration replaces the
        old one, whose subscriptions end."""
        if self.notifier is not None and self.notifier is not notifier:
            self.notifier.close()
        self.notifier = notifier

    async def on_parse_error(self, error: ParseError) -> None:
        if error.fatal:
            self.write(untagged_status("BYE", error.text))
            self.enter_logout()
            return
        code = ResponseCode(error.code) if error.code else None
        if error.tag is None:
            self.write(untagged_status("BAD", error.text, code))
            await self.count_bad()
        elif error.status == "NO":
            self.write(tagged(error.tag, "NO", error.text, code))
        else:
            await self.on_bad(error.tag, error.text, code)

    async def on_bad(self, tag: str, text: str, code: ResponseCode | None = None) -> None:
        self.write(tagged(tag, "BAD", text, code))
        await self.count_bad()

    async def count_bad(self) -> None:
        self.bad_commands += 1
        config = self.ctx.config
        limit = (
            config.max_bad_commands_unauthenticated
            if self.state is State.NOT_AUTHENTICATED
            else config.max_bad_commands
        )
        if self.bad_commands >= limit:
            self.log.info("too many bad commands; disconnecting")
            self.write(untagged_status("BYE", "Too many invalid commands"))
            self.enter_logout()

    # --- state changes (RFC 3501 section 3) ----------------------------------------

    async def enter_authenticated(self, user: str) -> None:
        """LOGIN or AUTHENTICATE succeeded: the user's store is opened."""
        self.store = await self.ctx.backend.open(user)
        self.user = user
        self.state = State.AUTHENTICATED

    def enter_selected(self, view: SelectedView) -> None:
        """SELECT or EXAMINE succeeded (the previous mailbox was left first)."""
        self.view = view
        self.state = State.SELECTED

    async def leave_authenticated(self) -> None:
        """RFC 8437 UNAUTHENTICATE: the user's state goes (the selected mailbox is left
        without expunging, NOTIFY and ENABLEd extensions end, the store is closed); TLS
        and COMPRESS stay, and the login timeout starts again."""
        self.set_notifier(None)
        await self.unselect()
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()
        self.user = None
        self.enabled.clear()
        self.bad_commands = 0
        self.connected_at = time.monotonic()
        self.state = State.NOT_AUTHENTICATED

    def enter_logout(self) -> None:
        """LOGOUT, a fatal error or BYE: the connection ends after this response."""
        self.state = State.LOGOUT

    async def unselect(self) -> None:
        if self.view is not None:
            view, self.view = self.view, None
            view.subscription.close()
            await view.mailbox.close()
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    def require_store(self) -> MailStore:
        if self.store is None:
            raise CommandFailed(bad("Not authenticated"))
        return self.store

    def require_view(self) -> SelectedView:
        if self.view is None:
            raise CommandFailed(bad("No mailbox selected"))
        return self.view
