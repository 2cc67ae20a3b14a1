"""The session's view of its selected mailbox.

How this works: the view holds the message sequence number to UID map (``uids``; MSN n is
``uids[n - 1]``), this session's ``\\Recent`` UIDs and the MODSEQ up to which it has seen
the mailbox's changes. When the change feed says the mailbox moved, or the session itself
changed it, :meth:`SelectedView.refresh` reads every change since that MODSEQ from the
store and turns it into untagged responses.

RFC 3501 section 7.4.1 forbids EXPUNGE responses while answering FETCH, STORE and SEARCH:
expunges learnt then stay pending, and the messages keep their sequence numbers until a
command that allows EXPUNGE ends. A FETCH of such a message answers what it still can and
ends with ``NO [EXPUNGEISSUED]`` (RFC 2180 section 4.1.2; see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from pyimapd.protocol import fetch_response as wire
from pyimapd.protocol.commands import SequenceSet
from pyimapd.protocol.responses import Atom, ResponseCode, Value, untagged, untagged_status
from pyimapd.storage.interface import (
    SYSTEM_FLAGS,
    Changes,
    FlagUpdate,
    SelectedMailbox,
    SelectResult,
    Subscription,
)
from pyimapd.storage.sharing_selected import flag_right
from pyimapd.storage.values import flag_key

if TYPE_CHECKING:
    from pyimapd.session.handlers.context import Contexts

_SYSTEM_KEYS = frozenset(flag_key(f) for f in SYSTEM_FLAGS)


class InvalidSequence(ValueError):
    """A message sequence number beyond the mailbox (RFC 3501 section 9, seq-number)."""


_FETCH_ORDER = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
"""Message flags go out \\Seen first, as in the RFC 3501 section 8 sample
(``FLAGS (\\Seen \\Deleted)``); any order is valid."""


def flag_atoms(flags: frozenset[str], recent: bool) -> list[Atom]:
    """FLAGS as sent: system flags first in a stable order, then keywords sorted."""
    system = [Atom(f) for f in _FETCH_ORDER if f in flags]
    keywords = sorted(Atom(f) for f in flags if f not in SYSTEM_FLAGS)
    return system + keywords + ([Atom("\\Recent")] if recent else [])


def uid_set_text(uids: Sequence[int]) -> str:
    """A ``uid-set`` (RFC 4315) in the given order, runs compressed to ranges."""
    parts: list[str] = []
    start = prev = None
    for u in uids:
        if prev is not None and u == prev + 1:
            prev = u
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = u
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


def vanished_line(uids: Sequence[int], earlier: bool) -> bytes:
    """``VANISHED [(EARLIER)] known-uids`` (RFC 7162 section 3.2.10); ``uids`` ascending."""
    head = [Atom("VANISHED")] + ([[Atom("EARLIER")]] if earlier else [])
    return untagged(*head, Atom(uid_set_text(uids)))


@lru_cache(maxsize=256)
def _count_line(count: int, name: str) -> bytes:
    """``* n EXISTS`` / ``* n RECENT`` (RFC 3501 sections 7.3.1, 7.3.2), encoded once for
    all the sessions a new message wakes with the same counts."""
    return untagged(count, Atom(name))


class _SharedPoll:
    """A store poll that other sessions share (see ``SelectedView._poll``): while in
    flight, each follower waits on a future of its own, so cancelling one session
    cancels nobody else, at the cost of one future (``asyncio.shield`` costs a future
    and two closures: thousands of followers per new message make that count). Once
    done, its result stays for the rest of the event loop's turn, for the sessions a
    signal woke together: a poll that needs no thread ends before they run."""

    __slots__ = ("seen", "serial", "followers", "result")

    def __init__(self, seen: int, serial: int) -> None:
        self.seen = seen
        self.serial = serial
        """Which poll this is in the process (see ``SharedPolls.started``)."""
        self.followers: list[asyncio.Future[Changes | None]] = []
        self.result: Changes | None = None

    def join(self) -> asyncio.Future[Changes | None]:
        """Resolves to the followers' result, or to None if the leader was cancelled
        (the follower then polls for itself)."""
        future: asyncio.Future[Changes | None] = asyncio.get_running_loop().create_future()
        self.followers.append(future)
        return future

    def finish(self, result: Changes | None, error: Exception | None = None) -> None:
        self.result = result if error is None else None
        followers, self.followers = self.followers, []
        for future in followers:
            if future.done():  # its session was cancelled meanwhile
                continue
            if error is not None:
                future.set_exception(error)
                future.exception()  # retrieved: a follower cancelled meanwhile logs nothing
            else:
                future.set_result(result)


class SharedPolls:
    """The polls in flight in this process, by mailbox and starting point (see
    ``SelectedView._poll``); one per server context. Transient: an entry lives while its
    query runs and, if it succeeded, until the loop's next turn."""

    __slots__ = ("_polls", "started")

    def __init__(self) -> None:
        self._polls: dict[tuple[object, ...], _SharedPoll] = {}
        self.started = 0
        """How many polls have started: a session that read the mailbox joins only
        polls numbered above the count at the end of its read (``note_read``)."""

    def get(self, key: tuple[object, ...]) -> _SharedPoll | None:
        return self._polls.get(key)

    def start(self, key: tuple[object, ...], seen: int) -> _SharedPoll:
        self.started += 1
        shared = self._polls[key] = _SharedPoll(seen, self.started)
        return shared

    def forget(self, key: tuple[object, ...], shared: _SharedPoll) -> None:
        if self._polls.get(key) is shared:
            del self._polls[key]


def uid_ranges(uids: Sequence[int]) -> list[tuple[int, int]]:
    """Compresses ascending UIDs to inclusive ranges, for storage queries. Each run's
    end is found by galloping (``uids[k] - k`` is constant along a run), so 1:* on a
    100,000-message mailbox with few gaps costs a few dozen steps, not 100,000."""
    ranges: list[tuple[int, int]] = []
    i, n = 0, len(uids)
    while i < n:
        first, good, step = uids[i], i, 1
        while good + step < n and uids[good + step] - first == good + step - i:
            good += step
            step *= 2
        bad = min(good + step, n)  # first index known not to be in the run
        while bad - good > 1:
            mid = (good + bad) // 2
            if uids[mid] - first == mid - i:
                good = mid
            else:
                bad = mid
        ranges.append((first, uids[good]))
        i = good + 1
    return ranges


class SelectedView:
    def __init__(
        self, mailbox: SelectedMailbox, result: SelectResult, subscription: Subscription,
        polls: SharedPolls,
    ) -> None:
        self.mailbox = mailbox
        self.polls = polls
        self.name = result.name
        self.readonly = result.readonly
        self.uidvalidity = result.uidvalidity
        self.uidnext = result.uidnext
        self.uids: list[int] = list(result.uids)
        self.recent: set[int] = set(result.recent)
        self.keywords: frozenset[str] = result.keywords
        self._announced = frozenset(flag_key(k) for k in result.keywords) | _SYSTEM_KEYS
        """What FLAGS has told the client, case-folded, for :meth:`announce`."""
        self._covered: set[frozenset[str]] = set()
        """Flag sets already known to be announced: one hash lookup per FETCH line."""
        self.modseq = result.highestmodseq
        self.max_uid = self.uids[-1] if self.uids else 0
        self.subscription = subscription
        self.pending_expunge: set[int] = set()
        self.own_changes: dict[int, int] = {}
        self._join_after = 0
        """Polls numbered up to this started before this session's last read of the
        mailbox, so they may hold older MODSEQs than it reported (``note_read``)."""
        self._dirty = False
        self.condstore = False
        """RFC 7162 section 3.1: unsolicited FETCH carries UID and MODSEQ (3.2.4)."""
        self.qresync = False
        """RFC 7162 section 3.2.10.2: VANISHED instead of EXPUNGE."""
        self.rev2 = False
        """IMAP4rev2 (RFC 9051): no \\Recent and no RECENT (Appendix E item 12), and
        every unsolicited FETCH carries UID (item 21). Set with :meth:`enter_rev2`."""
        self.numbering = wire.BY_MSN
        """How FETCH responses name messages: ``* uid UIDFETCH`` once UIDONLY is on
        (RFC 9586 section 3.3; :meth:`enter_uidonly`), for every FETCH of this view."""
        self.saved: set[int] = set()
        """The SEARCHRES search result variable ``$`` (RFC 5182 section 2.1), as UIDs: a
        new view (SELECT, EXAMINE) starts it empty, and an expunged message leaves it."""
        self.contexts: Contexts | None = None
        """RFC 5267's update contexts (handlers/context.py), which end with the view."""
        self.held_flags: dict[int, FlagUpdate] = {}
        """Flag changes a refresh without ``flags`` kept back (NOTIFY without FlagChange,
        RFC 5465 section 5.1), newest per message, for the next refresh that sends them."""
        self.last_new: list[int] = []
        """UIDs the last refresh announced with EXISTS that another session added: the
        ones NOTIFY's MessageNew FETCH reports (RFC 5465 sections 5.2 and 7)."""
        self.own_new: set[int] = set()
        """UIDs this session's APPEND, COPY or MOVE added here, not announced yet: no
        MessageNew FETCH for them (section 5.2: "SHOULD NOT")."""

    # --- numbering ------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def msn_of(self, uid: int) -> int | None:
        i = bisect_left(self.uids, uid)
        if i < len(self.uids) and self.uids[i] == uid:
            return i + 1
        return None

    def msns_of(self, uids: Sequence[int]) -> list[int | None]:
        """:meth:`msn_of` of many UIDs at once, for results of tens of thousands
        (SEARCH SEEN on 100,000 messages): without a gap in the UIDs (no expunge yet),
        a subtraction; else one bisection each, without a method call per UID."""
        known = self.uids
        if not known:
            return [None] * len(uids)
        first, last, n = known[0], known[-1], len(known)
        if last - first + 1 == n:
            return [u - first + 1 if first <= u <= last else None for u in uids]
        out: list[int | None] = []
        append = out.append
        for u in uids:
            i = bisect_left(known, u)
            append(i + 1 if i < n and known[i] == u else None)
        return out

    def resolve(self, sequence: SequenceSet, uid: bool) -> list[int]:
        """UIDs of the messages a sequence set names, ascending.

        For UIDs, ``*`` is the highest UID in the mailbox and UIDs that do not exist are
        ignored (RFC 3501 section 6.4.8). For sequence numbers, a number beyond EXISTS
        is an error, as is any sequence set on an empty mailbox. ``$`` names the saved
        search result in either form, and is never an error, even when empty (RFC 5182
        section 2.1).
        """
        if sequence.saved:
            return self.saved_uids()
        if uid:
            largest = self.uids[-1] if self.uids else 0
            out: list[int] = []
            for lo, hi in sequence.resolve(largest):
                start = bisect_left(self.uids, lo)
                end = bisect_left(self.uids, hi + 1)
                out.extend(self.uids[start:end])
            return out
        ranges = sequence.resolve(self.exists)
        if not self.uids or ranges[-1][1] > self.exists or ranges[0][0] < 1:
            raise InvalidSequence("Invalid message sequence number")
        out = []
        for lo, hi in ranges:
            out.extend(self.uids[lo - 1 : hi])
        return out

    def saved_uids(self) -> list[int]:
        """The saved search result's messages this session still shows, ascending."""
        return sorted(u for u in self.saved if self.msn_of(u) is not None)

    def uid_ranges(self, uids: Sequence[int]) -> list[tuple[int, int]]:
        """:func:`uid_ranges`, for the callers that hold the view."""
        return uid_ranges(uids)

    # --- updates --------------------------------------------------------------------

    def mark_dirty(self) -> None:
        """This session changed the mailbox: the next refresh must poll the store."""
        self._dirty = True

    def note_read(self) -> None:
        """This session just reported messages as the store has them now (FETCH,
        STORE): from here on it must not take the result of a poll that started
        earlier. Such a poll may have read before a change this session has already
        reported, and would report the message again with its older MODSEQ (RFC 7162
        section 3.1 forbids that; issue 15). The generation check cannot see it: the
        change's signal may not have arrived yet (another worker's datagram, or a
        commit whose announcement is still on its way back to the loop)."""
        self._join_after = self.polls.started

    def note_own_new(self, uids: Iterable[int]) -> None:
        """Messages this session added to this mailbox (see ``own_new``)."""
        self.own_new.update(uids)
        self._dirty = True

    def note_own_change(self, uid: int, modseq: int) -> None:
        """A flag change this session already reported, so refresh does not repeat it."""
        self.own_changes[uid] = modseq

    def remove_expunged(self, uids: Sequence[int]) -> list[bytes]:
        """Drops UIDs this session expunged itself and returns their EXPUNGE responses,
        in ascending UID order, each numbered after the ones before it are gone (as in
        the example of RFC 4315 section 2.1: ``* 3 EXPUNGE`` three times). Update
        contexts that still hold one of them hear of it first (RFC 5267 section 4.3.4:
        REMOVEFROM before the EXPUNGE, in the numbers before it)."""
        out = self.contexts.removed(self, uids) if self.contexts else []
        expunges: list[bytes] = []
        gone: list[int] = []
        for uid in sorted(uids):
            msn = self.msn_of(uid)
            if msn is None:
                continue
            del self.uids[msn - 1]
            self.recent.discard(uid)
            self.pending_expunge.discard(uid)
            self.saved.discard(uid)
            gone.append(uid)
            expunges.append(untagged(msn, Atom("EXPUNGE")))
        if self.qresync or self.uidonly:  # RFC 9586 section 3.4: never ``* n EXPUNGE``
            return out + ([vanished_line(gone, earlier=False)] if gone else [])
        return out + expunges

    def announce(self, flags: frozenset[str]) -> list[bytes]:
        """FLAGS and PERMANENTFLAGS to send before a response that shows ``flags``, if
        they hold a keyword this session was not told of yet (RFC 3501 section 7.2.6,
        RFC 9051 section 7.3.5: the FLAGS update precedes the first use). Every FETCH
        that carries FLAGS goes through here: another session may have added the keyword
        since this one's last poll, and a FETCH reads the messages as they are now."""
        if flags in self._covered:
            return []
        if all(f in self._announced or flag_key(f) in self._announced for f in flags):
            if len(self._covered) < 4096:  # a mailbox has few distinct flag sets
                self._covered.add(flags)
            return []
        self.learn_keywords(self.keywords | {f for f in flags if f not in SYSTEM_FLAGS})
        return self.flags_responses()

    def learn_keywords(self, keywords: frozenset[str]) -> None:
        """The mailbox's keywords, as the FLAGS about to be sent will list them."""
        folded = {flag_key(k) for k in self.keywords}
        self.keywords = self.keywords | {k for k in keywords if flag_key(k) not in folded}
        self._announced = frozenset(flag_key(k) for k in self.keywords) | _SYSTEM_KEYS

    def enter_rev2(self) -> None:
        """The session has enabled IMAP4rev2: this view shows no \\Recent (the
        messages it claimed stay claimed, as an EXAMINE's would not be)."""
        self.rev2 = True
        self.recent.clear()

    @property
    def uidonly(self) -> bool:
        """UIDONLY is on (RFC 9586): messages are named by UID in every response."""
        return self.numbering.by_uid

    def enter_uidonly(self) -> None:
        """The session has enabled UIDONLY: FETCH responses become UIDFETCH and
        expunges VANISHED from the next response on."""
        self.numbering = wire.BY_UID

    def fetch_line(self, msn: int, uid: int, items: Sequence[Value]) -> bytes:
        """An unsolicited or resync FETCH of item values, numbered as the view says.
        A leading ``UID n`` pair, which the MSN form needs, is left out of UIDFETCH."""
        numbering = self.numbering
        if numbering.by_uid and items[:1] == [Atom("UID")]:
            items = items[2:]
        return wire.values_line(numbering.number(msn, uid), items, numbering)

    def flags_fetch(self, msn: int, update: FlagUpdate) -> bytes:
        """An unsolicited FETCH for a flag change: FLAGS, plus UID and MODSEQ once
        CONDSTORE is on (RFC 7162 sections 3.1.4.2 and 3.2.4), UID in IMAP4rev2."""
        items: list[Value] = [Atom("FLAGS"), flag_atoms(update.flags, update.uid in self.recent)]
        if self.condstore or self.rev2:  # RFC 9051 section 7.5.2: "MUST include UID"
            items[:0] = [Atom("UID"), update.uid]
        if self.condstore:
            items += [Atom("MODSEQ"), [update.modseq]]
        return self.fetch_line(msn, update.uid, items)

    async def refresh(self, allow_expunge: bool, flags: bool = True) -> list[bytes]:
        """Untagged responses for everything that changed since the last refresh; flag
        changes only with ``flags`` (else they wait in ``held_flags``)."""
        self.last_new = []
        changed = await self.subscription.wait(0) or self._dirty
        if not changed and not (flags and self.held_flags):
            return self.remove_expunged(sorted(self.pending_expunge)) if allow_expunge else []
        self._dirty = False
        changes = await self._poll() if changed else Changes(
            highestmodseq=self.modseq, uidnext=self.uidnext, new=(), flags=(),
            expunged=(), recent=frozenset(), keywords=frozenset())
        updates = self._flag_updates(changes.flags, flags)
        self.modseq = max(self.modseq, changes.highestmodseq)
        self.uidnext = changes.uidnext
        out: list[bytes] = []
        for uid in changes.expunged:
            if self.msn_of(uid) is not None:
                self.pending_expunge.add(uid)
        if self.contexts:
            # RFC 5267 section 4.3.4 and appendix A.3: REMOVEFROM at once, in the
            # numbers the client knows, even if the EXPUNGE itself must wait.
            out.extend(self.contexts.removed(self, sorted(self.pending_expunge)))
        if allow_expunge and self.pending_expunge:
            # First, so that the FETCH responses below use the numbers after them.
            out.extend(self.remove_expunged(sorted(self.pending_expunge)))
        if not {flag_key(k) for k in changes.keywords} <= self._announced:
            # Before the FETCHes below, which may use the new keywords. Keywords are never
            # withdrawn from a mailbox, so this only grows.
            self.learn_keywords(changes.keywords)
            out.extend(self.flags_responses())
        for update in updates:
            if self.own_changes.get(update.uid) == update.modseq:
                continue
            msn = self.msn_of(update.uid)
            if msn is not None and update.uid not in self.pending_expunge:
                out.extend(self.announce(update.flags))
                out.append(self.flags_fetch(msn, update))
        self.own_changes.clear()
        if changes.new:
            own = self.own_new
            self.last_new = [u.uid for u in changes.new if u.uid not in own]
            self.uids.extend(u.uid for u in changes.new)
            if own:
                own.difference_update(self.uids[-len(changes.new):])
            self.max_uid = self.uids[-1]
            out.append(_count_line(self.exists, "EXISTS"))
            if not self.rev2:
                self.recent.update(changes.recent)
                out.append(_count_line(len(self.recent), "RECENT"))
        if self.contexts:
            # After EXISTS (RFC 5267 section 4.3.3): new messages, and those whose flags
            # changed (this session's own changes too), searched again.
            touched = {u.uid for u in updates} | {u.uid for u in changes.new}
            out.extend(await self.contexts.changed(self, sorted(
                u for u in touched
                if u not in self.pending_expunge and self.msn_of(u) is not None)))
        return out

    def _flag_updates(self, polled: Sequence[FlagUpdate], send: bool) -> list[FlagUpdate]:
        """The flag changes to send now: none when not ``send`` (they are held), else
        the held ones and the polled ones, the newest per message."""
        held = self.held_flags
        if send and not held:
            return list(polled)  # the usual case, in the poll's order
        for update in polled:
            earlier = held.get(update.uid)
            if earlier is None or earlier.modseq < update.modseq:
                held[update.uid] = update
        if not send:
            return []
        self.held_flags = {}
        return sorted(held.values(), key=lambda u: u.modseq) if held else []

    async def _poll(self) -> Changes:
        r"""Reads the changes since ``modseq`` from the store, sharing the read with the
        other sessions of this process that are at the same point of the same mailbox
        (a new message wakes them all at once: one query instead of thousands).

        A session joins a poll in flight only if it started after every signal this
        session has consumed (``generation``), so it cannot miss a change, and after
        its last read of the messages (``note_read``), so it cannot go back; \Recent
        stays with the session whose poll claimed it (RFC 3501 section 2.3.2)."""
        claim = not self.readonly
        seen = self.subscription.generation()
        key = (self.subscription.identity, self.uidvalidity, self.modseq, self.max_uid, claim)
        while ((shared := self.polls.get(key)) is not None and shared.seen >= seen
               and shared.serial > self._join_after):
            if shared.result is not None:
                return shared.result  # done this turn: \Recent taken out
            changes = await shared.join()  # the followers' result, likewise
            if changes is not None:
                return changes  # else the leader was cancelled: join or lead the next
        return await self._lead_poll(key, seen, claim)

    async def _lead_poll(self, key: tuple[object, ...], seen: int, claim: bool) -> Changes:
        shared = self.polls.start(key, seen)
        try:
            changes = await self.mailbox.poll(self.modseq, self.max_uid, claim)
        except Exception as exc:
            shared.finish(None, exc)
            self.polls.forget(key, shared)
            raise
        except BaseException:
            shared.finish(None)  # the followers poll for themselves
            self.polls.forget(key, shared)
            raise
        shared.finish(replace(changes, recent=frozenset()) if claim else changes)
        asyncio.get_running_loop().call_soon(self.polls.forget, key, shared)
        return changes

    def flags_responses(self) -> list[bytes]:
        """FLAGS and PERMANENTFLAGS (RFC 3501 section 6.3.1); PERMANENTFLAGS only has
        the flags the user's rights let them change (RFC 4314 section 5.1.1)."""
        flags = [Atom(f) for f in SYSTEM_FLAGS] + sorted(Atom(k) for k in self.keywords)
        perm = [] if self.readonly else [*flags, Atom("\\*")]
        rights: str | None = getattr(self.mailbox, "rights", None)
        if rights is not None:
            perm = [f for f in perm if flag_right(f) in rights]
        text = "Read-only mailbox" if self.readonly else "Flags permitted"
        return [
            untagged(Atom("FLAGS"), flags),
            untagged_status("OK", text, ResponseCode("PERMANENTFLAGS", perm)),
        ]
