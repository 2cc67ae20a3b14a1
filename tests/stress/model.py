"""One client's model of a selected mailbox, built only from the responses it receives.

How this works: :class:`MailboxModel` holds the client's message sequence numbers as a
list of slots, each with the UID once the client has learnt it. Every untagged response
is applied through :meth:`MailboxModel.apply`, which first checks that the response fits
the model and raises :class:`Violation` when it does not:

- EXISTS never goes below the current count (only EXPUNGE removes messages), RECENT
  never exceeds it, and every message number (FETCH, EXPUNGE, SEARCH) is 1..count;
- no EXPUNGE arrives while a FETCH, STORE or SEARCH is running (RFC 3501 section 7.4.1;
  the UID forms may have them);
- UIDs are strictly ascending in sequence order, a slot's UID never changes, and an
  expunged UID never comes back;
- flags: every client STOREs only its own keyword, so nobody else changes it; the model
  knows, per UID, whether its keyword is set (from its own STOREs and APPENDs, or from the
  first time it saw the message), and every FLAGS it receives must agree, as must the
  results of SEARCH KEYWORD for the messages it knows;
- every keyword in a FETCH's FLAGS is in the last untagged FLAGS (RFC 3501 section 7.2.6,
  RFC 9051 section 7.3.5: the FLAGS update comes before the first use of a new keyword);
- MODSEQ (RFC 7162 section 3.1): per UID it never goes down, across reconnections too; a
  FETCH the client did not ask for (during NOOP, SEARCH, APPEND, COPY, EXPUNGE) reports a
  change, so its MODSEQ is above the HIGHESTMODSEQ of the SELECT; ``[HIGHESTMODSEQ n]``
  never goes down within a session;
- ``\\Recent`` (RFC 3501 section 2.3.2): a UID is recent in at most one session, checked
  through a :class:`RecentRegistry` shared by all the clients of a mailbox.

A model is per client and per mailbox; :mod:`stress.client` drives it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from stress.wire import Response, Token

NO_EXPUNGE_COMMANDS = frozenset({"FETCH", "STORE", "SEARCH"})
"""RFC 3501 section 7.4.1: EXPUNGE is not sent while these (by sequence number) run."""
SOLICITING_COMMANDS = frozenset({"FETCH", "STORE", "SELECT", "EXAMINE"})
"""Commands whose FETCH responses may describe unchanged messages (the rest are changes)."""
SYSTEM_FLAGS = frozenset({"\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft",
                          "\\recent"})


class RecentRegistry:
    """Which session first saw each UID as ``\\Recent``, per mailbox of a user: RFC 3501
    section 2.3.2 lets only one session see a message as recent."""

    def __init__(self) -> None:
        self.owner: dict[tuple[str, int, int], object] = {}

    def claim(self, mailbox: str, uidvalidity: int, uid: int, session: object) -> object:
        """The session that holds ``uid`` as recent (``session`` if nobody did)."""
        return self.owner.setdefault((mailbox, uidvalidity, uid), session)


class Violation(AssertionError):
    """A response that does not fit what this client knows."""


@dataclass
class Slot:
    uid: int | None = None
    keyword: bool | None = None
    """Whether our keyword was on, seen before the UID was known."""


def fetch_items(data: Token) -> dict[str, Token]:
    """``(NAME value NAME value ...)`` as a dict with upper-cased names."""
    if not isinstance(data, list) or len(data) % 2:
        raise Violation(f"malformed FETCH data {data!r}")
    out: dict[str, Token] = {}
    for name, value in zip(data[::2], data[1::2], strict=True):
        if not isinstance(name, str):
            raise Violation(f"malformed FETCH item name {name!r}")
        out[name.upper()] = value
    return out


class MailboxModel:
    def __init__(self, mailbox: str, keyword: str, recent: RecentRegistry | None = None,
                 owner: str = "") -> None:
        self.mailbox = mailbox
        self.keyword = keyword
        self.recent_registry = recent or RecentRegistry()
        self.owner = owner
        """The account whose mailbox this is (mailbox names repeat across users)."""
        self.slots: list[Slot] = []
        self.mine: dict[int, bool] = {}
        self.expunged: set[int] = set()
        self.uidvalidity: int | None = None
        self.modseqs: dict[int, int] = {}
        """The highest MODSEQ received per UID, kept across reconnections."""
        self.flags_list: set[str] | None = None
        """The last untagged FLAGS, lower-cased; None before the first."""
        self.select_modseq = 0
        self.highest_seen = 0
        self.session: object = object()
        """This connection's identity for the \\Recent registry."""
        self.command = ""
        self.search_keyword: bool | None = None
        self.last_search: list[int] = []
        self.history: deque[str] = deque(maxlen=40)
        self.counts = {"exists": 0, "expunge": 0, "fetch": 0, "flags_checked": 0,
                       "modseq_checked": 0, "keywords_checked": 0, "recent_checked": 0}

    def reselect(self) -> None:
        """A new connection selects the mailbox again: a fresh view and session; what
        outlives a session (UIDs gone, our keyword, MODSEQs per UID) stays."""
        self.slots = []
        self.flags_list = None
        self.select_modseq = self.highest_seen = 0
        self.session = object()

    # --- plumbing -------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.slots)

    def fail(self, message: str) -> Violation:
        recent = "\n  ".join(self.history)
        return Violation(
            f"[{self.mailbox} {self.keyword}] {message}\n  during: {self.command}\n"
            f"  last responses:\n  {recent}"
        )

    def begin(self, command: str, search_keyword: bool | None = None) -> None:
        """The command now running, e.g. ``UID FETCH 1:* (FLAGS)``; for a SEARCH of our
        keyword, ``search_keyword`` says whether it was KEYWORD (True) or UNKEYWORD."""
        self.command = command
        self.search_keyword = search_keyword
        self.last_search: list[int] = []
        self.history.append(f"C: {command}")

    def known_uids(self) -> list[int]:
        return [s.uid for s in self.slots if s.uid is not None]

    def msn_of(self, uid: int) -> int | None:
        for i, slot in enumerate(self.slots):
            if slot.uid == uid:
                return i + 1
        return None

    # --- untagged responses -------------------------------------------------------------

    def apply(self, resp: Response) -> None:
        self.history.append(f"S: {resp.raw[:200]!r}")
        tokens = resp.tokens
        if len(tokens) >= 2 and isinstance(tokens[0], str) and tokens[0].isdigit():
            number, what = int(tokens[0]), str(tokens[1]).upper()
            if what == "EXISTS":
                self._exists(number)
            elif what == "RECENT":
                if number > self.count:
                    raise self.fail(f"RECENT {number} > EXISTS {self.count}")
            elif what == "EXPUNGE":
                self._expunge(number)
            elif what == "FETCH":
                self._fetch(number, tokens[2] if len(tokens) > 2 else None)
            else:
                raise self.fail(f"unknown numbered response {resp.raw!r}")
        elif tokens and str(tokens[0]).upper() == "SEARCH":
            # Checked now: EXPUNGEs later in the same UID SEARCH change the numbering.
            numbers = [int(str(t)) for t in tokens[1:]]
            uid = self.command.upper().startswith("UID ")
            self.check_search(numbers, uid, self.search_keyword)
            self.last_search = numbers
        elif tokens and str(tokens[0]).upper() == "FLAGS":
            if len(tokens) < 2 or not isinstance(tokens[1], list):
                raise self.fail(f"malformed FLAGS {resp.raw!r}")
            self.flags_list = {str(f).lower() for f in tokens[1]}
        elif tokens and tokens[0] == "OK":
            code = resp.code() or ""
            if code.upper().startswith("UIDVALIDITY"):
                value = int(code.split()[1])
                if self.uidvalidity not in (None, value):
                    raise self.fail(f"UIDVALIDITY changed {self.uidvalidity} -> {value}")
                self.uidvalidity = value
            elif code.upper().startswith("HIGHESTMODSEQ"):
                self.highest_modseq(int(code.split()[1]))

    def highest_modseq(self, value: int) -> None:
        """``[HIGHESTMODSEQ n]``, untagged or tagged: never lower than before in a session;
        the first one (SELECT's) is the point every later change is above."""
        if value < self.highest_seen:
            raise self.fail(f"HIGHESTMODSEQ went backwards: {self.highest_seen} -> {value}")
        if not self.highest_seen:
            self.select_modseq = value
        self.highest_seen = value

    def _exists(self, number: int) -> None:
        self.counts["exists"] += 1
        if number < self.count:
            raise self.fail(f"EXISTS went backwards: {self.count} -> {number}")
        self.slots.extend(Slot() for _ in range(number - self.count))

    def _expunge(self, number: int) -> None:
        self.counts["expunge"] += 1
        verb = self.command.split(" ", 1)[0].upper()
        if verb in NO_EXPUNGE_COMMANDS:
            raise self.fail("EXPUNGE sent during " + verb + " (RFC 3501 section 7.4.1)")
        self._check_msn(number)
        slot = self.slots.pop(number - 1)
        if slot.uid is not None:
            self.expunged.add(slot.uid)
            self.mine.pop(slot.uid, None)

    def _fetch(self, number: int, data: Token) -> None:
        self.counts["fetch"] += 1
        self._check_msn(number)
        items = fetch_items(data)
        slot = self.slots[number - 1]
        if "UID" in items:
            self._set_uid(number, int(str(items["UID"])))
        if "FLAGS" in items:
            flags = items["FLAGS"]
            if not isinstance(flags, list):
                raise self.fail(f"FLAGS is not a list: {flags!r}")
            names = {str(f).lower() for f in flags}
            self._check_announced(names)
            self._check_keyword(slot, self.keyword.lower() in names)
            if "\\recent" in names and slot.uid is not None:
                self._check_recent(slot.uid)
        if "MODSEQ" in items:
            self._check_modseq(slot.uid, items["MODSEQ"])

    def _check_announced(self, names: set[str]) -> None:
        unknown = names - SYSTEM_FLAGS - (self.flags_list or set())
        self.counts["keywords_checked"] += 1
        if unknown:
            raise self.fail(f"keywords {sorted(unknown)} used before an untagged FLAGS "
                            f"announced them (last FLAGS {sorted(self.flags_list or ())})")

    def _check_recent(self, uid: int) -> None:
        assert self.uidvalidity is not None
        self.counts["recent_checked"] += 1
        key = f"{self.owner}/{self.mailbox}"
        if self.recent_registry.claim(key, self.uidvalidity, uid, self.session) is not self.session:
            raise self.fail(f"UID {uid} is \\Recent here and in another session")

    def _check_modseq(self, uid: int | None, value: Token) -> None:
        if not isinstance(value, list) or len(value) != 1 or not str(value[0]).isdigit():
            raise self.fail(f"malformed MODSEQ {value!r}")
        modseq = int(str(value[0]))
        self.counts["modseq_checked"] += 1
        words = self.command.upper().split(" ", 2)
        verb = words[1] if words[0] == "UID" and len(words) > 1 else words[0]
        if verb not in SOLICITING_COMMANDS and modseq <= self.select_modseq:
            raise self.fail(f"unsolicited FETCH with MODSEQ {modseq}, not above the "
                            f"HIGHESTMODSEQ {self.select_modseq} of SELECT")
        if uid is None:
            return
        before = self.modseqs.get(uid, 0)
        if modseq < before:
            raise self.fail(f"UID {uid}: MODSEQ went backwards, {before} -> {modseq}")
        self.modseqs[uid] = modseq

    def _check_msn(self, number: int) -> None:
        if not 1 <= number <= self.count:
            raise self.fail(f"unknown message sequence number {number} (EXISTS {self.count})")

    def _set_uid(self, msn: int, uid: int) -> None:
        slot = self.slots[msn - 1]
        if slot.uid is not None:
            if slot.uid != uid:
                raise self.fail(f"message {msn} changed UID {slot.uid} -> {uid}")
            return
        if uid in self.expunged:
            raise self.fail(f"expunged UID {uid} came back as message {msn}")
        if not self._fits(msn - 1, uid):
            raise self.fail(f"UID {uid} at message {msn} breaks ascending order: "
                            f"{[s.uid for s in self.slots]}")
        slot.uid = uid
        if slot.keyword is not None:
            self._check_keyword(slot, slot.keyword)
            slot.keyword = None

    def _fits(self, index: int, uid: int) -> bool:
        """``uid`` lies between the nearest known UIDs on either side of ``index``.
        Walks outwards from ``index`` (usually one step) instead of copying the view,
        which made a final listing of thousands of messages quadratic."""
        i = index - 1
        while i >= 0 and self.slots[i].uid is None:
            i -= 1
        before = self.slots[i].uid if i >= 0 else None
        j, n = index + 1, len(self.slots)
        while j < n and self.slots[j].uid is None:
            j += 1
        after = self.slots[j].uid if j < n else None
        return (before is None or before < uid) and (after is None or uid < after)

    def _check_keyword(self, slot: Slot, present: bool) -> None:
        if slot.uid is None:
            if slot.keyword is not None and slot.keyword != present:
                raise self.fail(f"{self.keyword} flipped on a message nobody else STOREs")
            slot.keyword = present
            return
        expected = self.mine.get(slot.uid)
        self.counts["flags_checked"] += 1
        if expected is None:
            self.mine[slot.uid] = present
        elif expected != present:
            raise self.fail(
                f"UID {slot.uid}: {self.keyword} is {'on' if present else 'off'} but this "
                f"client's last STORE left it {'on' if expected else 'off'}"
            )

    # --- what the client itself did -----------------------------------------------------

    def stored(self, uids: Iterable[int], present: bool) -> None:
        """Our STORE of our keyword is under way: every FLAGS from now on must agree."""
        for uid in uids:
            self.mine[uid] = present

    def appended(self, uid: int, present: bool) -> None:
        """APPENDUID of our own APPEND: newer than every UID we know."""
        known = self.known_uids()
        if known and uid <= known[-1]:
            raise self.fail(f"APPENDUID {uid} is not above the known UIDs {known[-3:]}")
        self.mine[uid] = present

    def check_search(self, results: Iterable[int], uid: bool, keyword: bool | None) -> None:
        """SEARCH results: every number is a message we know; with ``keyword`` (the
        search was KEYWORD / UNKEYWORD of our keyword) no result contradicts ``mine``.
        A message we believe matches may be missing: another session may have expunged
        it, and the server searches what is still there."""
        for value in results:
            if uid:
                msn = self.msn_of(value)
                if msn is None and not self._uid_could_be_unknown(value):
                    raise self.fail(f"UID SEARCH returned UID {value}, not in this view")
                slot_uid: int | None = value
            else:
                self._check_msn(value)
                slot_uid = self.slots[value - 1].uid
            if keyword is not None and slot_uid is not None:
                expected = self.mine.get(slot_uid)
                if expected is not None and expected != keyword:
                    raise self.fail(f"SEARCH matched UID {slot_uid} whose keyword is "
                                    f"{'on' if expected else 'off'}")

    def _uid_could_be_unknown(self, uid: int) -> bool:
        """True when a slot whose UID we do not know yet lies where ``uid`` would sit
        among the known, ascending UIDs. One pass: the model may hold thousands of slots
        and a SEARCH returns many UIDs."""
        low, high = -1, len(self.slots)
        for i, slot in enumerate(self.slots):
            if slot.uid is None:
                continue
            if slot.uid < uid:
                low = i
            else:
                high = i
                break
        return any(self.slots[j].uid is None for j in range(low + 1, high))

    def check_final(self, listing: list[tuple[int, bool]]) -> None:
        """A final ``UID FETCH 1:* (FLAGS)`` after NOOP must match the model exactly."""
        uids = [u for u, _ in listing]
        if uids != [s.uid for s in self.slots]:
            raise self.fail(f"final listing {uids[:20]}... differs from the model "
                            f"{[s.uid for s in self.slots][:20]}...")
        for uid, present in listing:
            if self.mine.get(uid, present) != present:
                raise self.fail(f"final flags of UID {uid} contradict the last STORE")
