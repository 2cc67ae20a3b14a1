"""NOTIFY (RFC 5465): the server tells the client of changes between commands, for the
selected mailbox and for others, as the client asked.

How this works: NOTIFY SET installs a :class:`Notifier` on the session. It subscribes
to the change feed for every mailbox an event group watches for message events, and to
the user's mailbox-list key (``MAILBOX_LIST``, signalled by CREATE, DELETE, RENAME,
SUBSCRIBE and UNSUBSCRIBE in any session, worker or node). While the session waits for
the client's next command, :meth:`Notifier.next_event` waits on the client's line and
on those subscriptions with one future, as IDLE does, and on a wake-up pushes:

- for the selected mailbox, what the view's refresh reports (EXISTS, EXPUNGE or VANISHED,
  FETCH FLAGS), with the MessageNew FETCH attributes for new messages (section 5.2);
  SELECTED-DELAYED keeps expunges back until a command that may report them (6.1.2);
- for another mailbox, a STATUS with what changed since the last one sent (5.1-5.3),
  computed from the store, never from the feed (which only says "look");
- for the mailbox list, LIST responses made by comparing the list with the one last
  seen: a name that went is ``\\NonExistent``, a name that came under another's
  UIDVALIDITY is a rename with OLDNAME (5.4); a changed ``\\Subscribed`` is a
  SubscriptionChange (5.5).

Changes the session makes itself are not reported back (section 5, SHOULD): after each
command the notifier takes in what that command changed without writing it. IDLE, while
a notifier is installed, sends exactly what NOTIFY asked for (section 4).

Without METADATA or ANNOTATE the server supports neither AnnotationChange nor the two
metadata events: NOTIFY asking for them is refused with BADEVENT (section 3.1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, Mailbox, ResponseCode, Value, untagged, untagged_status
from pyimapd.session.handlers.fetch import push_fetch
from pyimapd.session.handlers.listing import mailbox_attributes
from pyimapd.session.handlers.mailbox import list_line
from pyimapd.session.state import Result, no, ok
from pyimapd.storage.interface import (
    MAILBOX_LIST,
    MailboxRecord,
    NoSuchMailbox,
    StorageError,
    Subscription,
)
from pyimapd.storage.names import DELIMITER, is_inferior, normalize, parents
from pyimapd.storage.sharing import feed_key

if TYPE_CHECKING:
    from pyimapd.session.session import Session
    from pyimapd.session.view import SelectedView

SUPPORTED = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName",
             "SubscriptionChange")
"""The events this server reports, in the order BADEVENT lists them (section 3.1)."""

MAX_WATCHED = 2000
"""Mailboxes one session may watch for message events: each costs a feed subscription
and a STATUS read when it changes. More is NOTIFICATIONOVERFLOW (sections 3.1, 5.8)."""

_MESSAGE = frozenset(c.MESSAGE_EVENTS)
_STATUS_ORDER = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ")


class Overflow(Exception):
    """More mailboxes to watch than :data:`MAX_WATCHED`."""


async def notify(session: Session, command: c.Notify) -> Result:
    """Section 3.1. A failed NOTIFY SET leaves the previous registration in force."""
    if command.groups is None:
        session.set_notifier(None)
        return ok("NOTIFY completed")
    asked = {e for g in command.groups for e in g.events}
    if not asked <= set(SUPPORTED):
        return no(f"Unsupported event {sorted(asked - set(SUPPORTED))[0]}",
                  ResponseCode("BADEVENT", [Atom(e) for e in SUPPORTED]))
    notifier = Notifier(session, command.groups)
    try:
        await notifier.start(command.status)
    except Overflow:
        notifier.close()
        return no(f"NOTIFY would watch more than {MAX_WATCHED} mailboxes",
                  ResponseCode("NOTIFICATIONOVERFLOW"))
    except BaseException:
        notifier.close()
        raise
    session.set_notifier(notifier)
    return ok("NOTIFY completed")


async def announce_new(session: Session, view: SelectedView) -> None:
    """The FETCH that follows the EXISTS of new mail another session added: NOTIFY's
    MessageNew attributes (section 5.2) and those of the UPDATE contexts the message
    joined (section 7), combined into one FETCH per message as section 5.2 asks. It
    comes after the contexts' ADDTO, as section 5.2 orders (section 7's example puts
    it before; the two sections disagree)."""
    notifier = session.notifier
    base: tuple[c.FetchItem, ...] = ()
    if notifier is not None and "MessageNew" in notifier.selected_events:
        base = notifier.fetch
    extra = view.contexts.fetch_items(view.last_new) if view.contexts else {}
    groups: dict[tuple[c.FetchItem, ...], list[int]] = {}
    for uid in view.last_new:
        items = tuple(dict.fromkeys((*base, *extra.get(uid, ()))))
        if items:
            groups.setdefault(items, []).append(uid)
    for items, uids in groups.items():
        await push_fetch(session, view, uids, items)


def _covers(group: c.NotifyGroup, name: str, subscribed: set[str]) -> bool:
    return covers(group.filter, group.mailboxes, name, subscribed)


def covers(kind: str, mailboxes: Sequence[str], name: str, subscribed: set[str]) -> bool:
    """Whether a filter other than SELECTED names ``name`` (sections 6.2 to 6.6), for
    NOTIFY and MULTISEARCH's ESEARCH (RFC 7377 section 2, which adds SUBTREE-ONE: the
    mailbox and its immediate children). Every mailbox is in the personal namespace,
    and mail may be filed into any of them, so INBOXES is PERSONAL (section 6.3 allows
    that)."""
    if kind in ("PERSONAL", "INBOXES"):
        return True
    if kind == "SUBSCRIBED":
        return name in subscribed
    wanted = [normalize(m) for m in mailboxes]
    if kind == "SUBTREE":
        return any(name == m or is_inferior(name, m) for m in wanted)
    if kind == "SUBTREE-ONE":
        return any(name == m or (is_inferior(name, m) and DELIMITER not in name[len(m) + 1:])
                   for m in wanted)
    return name in wanted  # MAILBOXES: no wildcards (section 6.6)


@dataclass(frozen=True, slots=True)
class _Listed:
    """A name as the client was last told of it."""

    uidvalidity: int  # 0 for a subscribed name without a mailbox
    attributes: tuple[str, ...]


def _snapshot(records: list[MailboxRecord], subscriptions: Iterable[str]) -> dict[str, _Listed]:
    """Every name LIST would show with RETURN (SUBSCRIBED CHILDREN), with its attributes
    accurately computed (section 5.5)."""
    existing = {r.name: r for r in records}
    subscribed = set(subscriptions)
    with_children = {p for name in existing for p in parents(name)}
    out: dict[str, _Listed] = {}
    for name in existing.keys() | subscribed:
        record = existing.get(name)
        attributes = mailbox_attributes(record, name in with_children)
        if name in subscribed:
            attributes.append("\\Subscribed")
        out[name] = _Listed(record.uidvalidity if record else 0, tuple(attributes))
    return out


@dataclass(frozen=True, slots=True)
class _ListEvent:
    name: str
    attributes: tuple[str, ...]
    kind: str  # "MailboxName" or "SubscriptionChange"
    oldname: str | None = None


def _list_events(old: dict[str, _Listed], new: dict[str, _Listed]) -> list[_ListEvent]:
    """What changed between two snapshots, as section 5.4 and 5.5 report it. A name
    that appears under the UIDVALIDITY of a name that went is that mailbox renamed
    (RENAME keeps it); its inferiors, renamed with it, get no event of their own."""
    gone_by_uv = {v.uidvalidity: n for n, v in old.items()
                  if v.uidvalidity and (n not in new or new[n].uidvalidity != v.uidvalidity)}
    renames: dict[str, str] = {}
    for name, now in new.items():
        before = old.get(name)
        if (before is None or before.uidvalidity != now.uidvalidity) and now.uidvalidity:
            source = gone_by_uv.get(now.uidvalidity)
            if source is not None and source != name:
                renames[name] = source
    moved = {src for src in renames.values()}
    events: list[_ListEvent] = []
    for name, now in sorted(new.items()):
        before = old.get(name)
        if name in renames:
            source = renames[name]
            if not _inside_rename(source, name, renames):
                events.append(_ListEvent(name, now.attributes, "MailboxName", source))
        elif before is None or before.uidvalidity != now.uidvalidity:
            events.append(_ListEvent(name, now.attributes, "MailboxName"))
        elif before.attributes != now.attributes:
            plain = tuple(a for a in now.attributes if a != "\\Subscribed")
            if plain == tuple(a for a in before.attributes if a != "\\Subscribed"):
                events.append(_ListEvent(name, now.attributes, "SubscriptionChange"))
            else:
                events.append(_ListEvent(name, now.attributes, "MailboxName"))
    for name in sorted(old.keys() - new.keys()):
        if name not in moved:
            events.append(_ListEvent(name, ("\\NonExistent",), "MailboxName"))
    return events


def _inside_rename(source: str, name: str, renames: dict[str, str]) -> bool:
    """Whether ``source`` -> ``name`` is an inferior carried along by the rename of one
    of its superiors (section 5.4: no event of its own)."""
    for new, old in renames.items():
        if is_inferior(source, old) and name == new + source[len(old):]:
            return True
    return False


@dataclass(slots=True)
class _Watched:
    """A mailbox other than the selected one, watched for message events."""

    subscription: Subscription
    events: frozenset[str]
    status: dict[str, int] = field(default_factory=dict)
    """What the client knows, as far as these events report it."""


class Notifier:
    """One session's NOTIFY registration (see the module docstring)."""

    def __init__(self, session: Session, groups: tuple[c.NotifyGroup, ...]) -> None:
        self.session = session
        selected = next((g for g in groups if g.selected and g.events), None)
        self.selected_events = frozenset(selected.events) if selected else frozenset()
        self.delayed = selected is not None and selected.filter == "SELECTED-DELAYED"
        self.fetch = selected.fetch if selected else ()
        self.others = [g for g in groups if not g.selected and g.events]
        self.boxes: dict[str, _Watched] = {}
        self.listing: dict[str, _Listed] = {}
        self.listing_sub: Subscription | None = None
        self.closed = False

    @property
    def _feed(self) -> Any:
        return self.session.ctx.backend.changes

    @property
    def _user(self) -> str:
        assert self.session.user is not None
        return self.session.user

    # --- registration ---------------------------------------------------------------

    async def start(self, status: bool) -> None:
        """Subscribes first and reads second, so no change falls between the two."""
        if self.others:
            self.listing_sub = self._feed.subscribe(self._user, MAILBOX_LIST)
        await self._read_listing()
        await self._rewatch(report=status)

    def close(self) -> None:
        self.closed = True
        if self.listing_sub is not None:
            self.listing_sub.close()
        for box in self.boxes.values():
            box.subscription.close()
        self.boxes.clear()

    async def _read_listing(self) -> dict[str, _Listed]:
        store = self.session.require_store()
        records = await store.list_mailboxes()
        old, self.listing = self.listing, _snapshot(records, await store.list_subscriptions())
        return old

    def _wanted(self) -> dict[str, frozenset[str]]:
        """Each selectable mailbox some group watches for message events, with them."""
        subscribed = {n for n, v in self.listing.items() if "\\Subscribed" in v.attributes}
        wanted: dict[str, frozenset[str]] = {}
        groups = [g for g in self.others if _MESSAGE.intersection(g.events)]
        if not groups:
            return wanted
        for name, listed in self.listing.items():
            if not listed.uidvalidity or "\\Noselect" in listed.attributes:
                continue
            events: set[str] = set()
            for group in groups:
                if _covers(group, name, subscribed):
                    events.update(_MESSAGE.intersection(group.events))
            if events:
                wanted[name] = frozenset(events)
        return wanted

    async def _rewatch(self, report: bool) -> None:
        """Brings the watched mailboxes in line with the listing: a mailbox that came
        into a filter is read (and with ``report``, its STATUS sent: NOTIFY SET STATUS),
        one that left it is dropped. Raises :class:`Overflow` past :data:`MAX_WATCHED`."""
        wanted = self._wanted()
        if len(wanted) > MAX_WATCHED:
            raise Overflow()
        for name in [n for n in self.boxes if n not in wanted]:
            self.boxes.pop(name).subscription.close()
        for name, events in sorted(wanted.items()):
            box = self.boxes.get(name)
            if box is not None and box.events == events:
                continue
            if box is None:
                key = feed_key(self.session.require_store(), name)  # the owner's
                box = self.boxes[name] = _Watched(self._feed.subscribe(*key), events)
            box.events = events
            now = await self._status(name, box)
            if now is None:
                continue
            box.status = now
            if report and not self._is_selected(name):
                # Section 3.1: MESSAGES, UIDNEXT and UIDVALIDITY; with FlagChange on a
                # server that supports CONDSTORE, HIGHESTMODSEQ too, enabled or not.
                initial = ["MESSAGES", "UIDNEXT", "UIDVALIDITY"]
                if "HIGHESTMODSEQ" in now:
                    initial.append("HIGHESTMODSEQ")
                self._write_status(name, initial, now)

    # --- waiting --------------------------------------------------------------------

    def watch(self, future: asyncio.Future[None]) -> list[Subscription]:
        """Has every watched change resolve ``future``; returns what to unwatch."""
        subs = [box.subscription for box in self.boxes.values()]
        if self.listing_sub is not None:
            subs.append(self.listing_sub)
        view = self.session.view
        if view is not None and self.selected_events:
            subs.append(view.subscription)
        for sub in subs:
            sub.watch(future)
        return subs

    async def next_event(self) -> Any:
        """The client's next event, pushing notifications while it is awaited. One task
        reads the client for the whole wait, as in IDLE: a read is never cut short."""
        session = self.session
        loop = asyncio.get_running_loop()
        reader: asyncio.Future[Any] = asyncio.ensure_future(session.next_event())
        try:
            while not self.closed:
                wake: asyncio.Future[None] = loop.create_future()

                def resolve(_: object, wake: asyncio.Future[None] = wake) -> None:
                    if not wake.done():
                        wake.set_result(None)

                reader.add_done_callback(resolve)
                watched = self.watch(wake)
                try:
                    await wake
                finally:
                    reader.remove_done_callback(resolve)
                    for sub in watched:
                        sub.unwatch(wake)
                if reader.done():
                    break
                try:
                    await self.push(idle=False)
                except StorageError as exc:  # the store is away: the next signal retries
                    session.log.warning("NOTIFY could not read the store: %s", exc)
                await session.io.drain()
            return await reader
        finally:
            if not reader.done():
                reader.cancel()

    # --- reporting ------------------------------------------------------------------

    async def push(self, idle: bool) -> None:
        """Everything the registration covers that changed (see the module docstring).
        ``idle``: in IDLE, where SELECTED-DELAYED's expunges may go out (section 6.1.2)."""
        session = self.session
        if self.selected_events and session.view is not None:
            await session.flush_updates(allow_expunge=idle or not self.delayed,
                                        flags="FlagChange" in self.selected_events)
        if self.listing_sub is not None and await self.listing_sub.wait(0):
            await self._listing_changed(set())
        for name, box in list(self.boxes.items()):
            if not self.closed and await box.subscription.wait(0):
                await self._box_changed(name, box, report=not self._is_selected(name))

    async def after_command(self, command: c.Command) -> None:
        """Takes in, without reporting them, the changes ``command`` made itself (section
        5: the server SHOULD NOT notify the client of its own events). Other sessions'
        changes found on the way are reported as usual."""
        view = self.session.view
        own: set[str] = set()
        if isinstance(command, c.Create | c.Delete | c.Subscribe | c.Unsubscribe):
            own = {normalize(command.mailbox)}
        elif isinstance(command, c.Rename):
            own = {normalize(command.old), normalize(command.new)}
        if own and self.listing_sub is not None:
            await self.listing_sub.wait(0)
            await self._listing_changed(own | {p for n in own for p in parents(n)})
        target = getattr(command, "mailbox", None) if isinstance(
            command, c.AppendStart | c.Copy | c.Move) else None
        quiet = {view.name} if view is not None else set()
        if target is not None:
            quiet.add(normalize(target))
        for name in quiet:
            box = self.boxes.get(name)
            if box is not None and await box.subscription.wait(0):
                await self._box_changed(name, box, report=False)


    def _is_selected(self, name: str) -> bool:
        view = self.session.view
        return view is not None and view.name == name

    async def _listing_changed(self, own: set[str]) -> None:
        old = await self._read_listing()
        subscribed = {n for n, v in (old | self.listing).items() if "\\Subscribed" in v.attributes}
        for event in _list_events(old, self.listing):
            if event.name in own or (event.oldname is not None and event.oldname in own):
                continue
            if not any(event.kind in g.events and (
                    _covers(g, event.name, subscribed)
                    or (event.oldname is not None and _covers(g, event.oldname, subscribed)))
                    for g in self.others):
                continue
            extended: list[Value] = []
            if event.oldname is not None:
                extended = ["OLDNAME", [Mailbox(event.oldname, self.session.utf8)]]
            self.session.write(list_line(
                "LIST", event.name, event.attributes, *extended, utf8=self.session.utf8))
        try:
            await self._rewatch(report=False)
        except Overflow:
            self.session.write(untagged_status(
                "OK", "Too many mailboxes to watch; NOTIFY is off",
                ResponseCode("NOTIFICATIONOVERFLOW")))
            self.session.set_notifier(None)  # as if NOTIFY NONE (section 5.8)

    async def _status(self, name: str, box: _Watched) -> dict[str, int] | None:
        try:
            st = await self.session.require_store().status(name)
        except NoSuchMailbox:
            return None  # gone meanwhile: the listing will drop it
        now = {"MESSAGES": st.messages, "UIDNEXT": st.uidnext, "UIDVALIDITY": st.uidvalidity}
        if "FlagChange" in box.events:
            now["UNSEEN"] = st.unseen
        if "FlagChange" in box.events or "CONDSTORE" in self.session.enabled:
            now["HIGHESTMODSEQ"] = st.highestmodseq
        return now

    async def _box_changed(self, name: str, box: _Watched, report: bool) -> None:
        """Sections 5.1 to 5.3 for a mailbox other than the selected one: MESSAGES and
        UIDNEXT when messages came or went, UNSEEN when \\Seen changed, HIGHESTMODSEQ
        (with UIDVALIDITY) once CONDSTORE is on; nothing when nothing the client asked
        about changed. A change of UIDVALIDITY sends everything."""
        now = await self._status(name, box)
        if now is None:
            return
        before, box.status = box.status, now
        if not report:
            return
        if before.get("UIDVALIDITY") != now["UIDVALIDITY"]:
            changed = set(now)
        else:
            changed = {i for i in now if before.get(i) != now[i]}
            if "FlagChange" not in box.events or "CONDSTORE" not in self.session.enabled:
                # Section 5.1: HIGHESTMODSEQ once CONDSTORE is on, for FlagChange; the
                # initial STATUS has it with FlagChange alone (section 3.1).
                changed.discard("HIGHESTMODSEQ")
        if not changed:
            return
        if changed & {"MESSAGES", "UIDNEXT"}:
            changed |= {"MESSAGES", "UIDNEXT"}
            if "CONDSTORE" in self.session.enabled:
                changed.add("HIGHESTMODSEQ")  # sections 5.2, 5.3
        if "HIGHESTMODSEQ" in changed:
            changed.add("UIDVALIDITY")  # section 5.1: both, with CONDSTORE
        self._write_status(name, [i for i in _STATUS_ORDER if i in changed], now)

    def _write_status(self, name: str, items: list[str], now: dict[str, int]) -> None:
        values: list[Value] = []
        for item in items:
            values += [Atom(item), now[item]]
        self.session.write(untagged(Atom("STATUS"), Mailbox(name, self.session.utf8), values))
