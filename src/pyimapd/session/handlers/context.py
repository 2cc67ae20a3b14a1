"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4): the UPDATE result option, its
ADDTO and REMOVEFROM notifications, and CANCELUPDATE.

How this works: a SEARCH or SORT with ``RETURN (UPDATE ...)`` leaves an update context
in the selected view (:class:`Contexts`, ``SelectedView.contexts``): the tag, whether
it numbers by UID, its search key (bound as when the command ran: sequence numbers and
``$`` name the messages they named then, section 4.3; only ``\\Recent`` is bound again
at each use, since it belongs to the session and grows with new mail) and its current
result. The view calls it from :meth:`SelectedView.refresh`, so updates go out where
the EXISTS, EXPUNGE and FETCH responses that cause them do (section 4.3):

* messages the poll reports expunged leave every result at once
  (:meth:`Contexts.removed`), before their EXPUNGE (section 4.3.4 requires that for
  message numbers), even while the EXPUNGE itself must wait (appendix A.3);
* new messages and messages whose flags changed (:meth:`Contexts.changed`, after
  EXISTS, section 4.3.3) are searched for again by the store, restricted to those
  UIDs (``ast.UidIn``), never by a rescan of the mailbox; those that now match and were
  not in the result are added, those that were and no longer match are removed.

A SEARCH context keeps its result as a set of UIDs and reports with context position 0
(section 4.3.3), the set in mailbox order. A SORT context keeps the result in sort order
with each message's sort values (``search.sort.sort_values``), so a new match goes in at
its place: the removals are reported from the end backwards and the additions from the
front, as runs of adjacent positions, so that each position is right at the moment the
client applies it (section 4.3.2). Numbers are UIDs for UID SEARCH / UID SORT and
message numbers otherwise.

Limits (section 4.3.1, and section 6 on denial of service): at most
:data:`MAX_CONTEXTS` contexts per selected mailbox, and a SORT context only for results
of at most :data:`MAX_SORT_RESULTS` messages (it holds their sort values); past them
the command still answers, with ``* NO [NOUPDATE "tag"]``. A context ends with the
view: CLOSE, UNSELECT, or another SELECT/EXAMINE (section 4.3).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, ResponseCode, Value, untagged, untagged_status
from pyimapd.search import ast
from pyimapd.search.sort import Criterion, SortValue
from pyimapd.session.state import CommandFailed, Result, bad, no, ok
from pyimapd.session.view import SelectedView, uid_set_text

if TYPE_CHECKING:
    from pyimapd.session.session import Session

MAX_CONTEXTS = 8
"""Update contexts per selected mailbox (the RFC asks for at least one)."""

MAX_SORT_RESULTS = 100_000
"""Largest result a SORT context follows: it keeps every message's sort values."""

Keyed = tuple[int, tuple[SortValue, ...]]
KeyReader = Callable[[SelectedView, list[int]], Awaitable[list[Keyed]]]
"""Reads the sort values of messages (``handlers.sort.keyed_values`` for criteria)."""


def _comparator(criteria: Sequence[Criterion]) -> Callable[[Keyed, Keyed], int]:
    """The order ``search.sort.sort_uids`` produces, as a comparison: each criterion
    ascending or REVERSE in turn, then mailbox (UID) order (RFC 5256 section 3)."""

    def compare(a: Keyed, b: Keyed) -> int:
        for i, (_name, reverse) in enumerate(criteria):
            x, y = a[1][i], b[1][i]
            if x != y:
                less = x < y  # type: ignore[operator]
                return (1 if less else -1) if reverse else (-1 if less else 1)
        return (a[0] > b[0]) - (a[0] < b[0])

    return compare


@dataclass(slots=True)
class UpdateContext:
    """One searching command's live result (section 4.3)."""

    tag: str
    uid: bool
    key: ast.SearchKey
    members: set[int]
    """The result's UIDs."""
    criteria: tuple[Criterion, ...] | None = None
    """None for SEARCH (mailbox order); the sort criteria for SORT."""
    ordered: list[Keyed] = field(default_factory=list)
    """SORT only: the result in sort order, with the sort values."""
    read_keys: KeyReader | None = None
    sort_key: Callable[[Keyed], Any] | None = None
    fetch: tuple[c.FetchItem, ...] = ()
    """UPDATE's fetch attributes (RFC 5465 section 7), for new mail that joins."""

    def __post_init__(self) -> None:
        if self.criteria is not None:
            self.sort_key = cmp_to_key(_comparator(self.criteria))

    def index(self, item: Keyed) -> int:
        assert self.sort_key is not None
        return bisect_left(self.ordered, self.sort_key(item), key=self.sort_key)


class Contexts:
    """The update contexts of one selected view, by tag."""

    __slots__ = ("_by_tag",)

    def __init__(self) -> None:
        self._by_tag: dict[str, UpdateContext] = {}

    def __len__(self) -> int:
        return len(self._by_tag)

    def __contains__(self, tag: str) -> bool:
        return tag in self._by_tag

    def add(self, context: UpdateContext) -> None:
        self._by_tag[context.tag] = context

    def cancel(self, tags: Sequence[str]) -> None:
        for tag in tags:
            self._by_tag.pop(tag, None)

    def numbered(self) -> list[str]:
        """Tags of the contexts that report message numbers (SEARCH, SORT)."""
        return [tag for tag, context in self._by_tag.items() if not context.uid]

    def fetch_items(self, uids: Sequence[int]) -> dict[int, tuple[c.FetchItem, ...]]:
        """What UPDATE contexts holding each of ``uids`` (new mail) want fetched."""
        out: dict[int, tuple[c.FetchItem, ...]] = {}
        for context in self._by_tag.values():
            if context.fetch:
                for uid in uids:
                    if uid in context.members:
                        out[uid] = (*out.get(uid, ()), *context.fetch)
        return out

    def removed(self, view: SelectedView, uids: Sequence[int]) -> list[bytes]:
        """REMOVEFROM for messages about to be expunged, while their message numbers
        still hold (section 4.3.4)."""
        out: list[bytes] = []
        for context in self._by_tag.values():
            gone = [u for u in uids if u in context.members]
            if gone:
                context.members.difference_update(gone)
                out.append(_line(view, context, _remove(context, gone), []))
        return out

    async def changed(self, view: SelectedView, uids: list[int]) -> list[bytes]:
        """ADDTO and REMOVEFROM for messages that are new or whose flags changed
        (``uids``, ascending, all still in the view): searched again by the store,
        restricted to them."""
        if not uids or not self._by_tag:
            return []
        from pyimapd.session.handlers.search import bind  # search.py imports this module

        ranges = tuple(view.uid_ranges(uids))
        out: list[bytes] = []
        for context in list(self._by_tag.values()):
            key = ast.And((ast.UidIn(ranges), bind(context.key, view)))
            matching = set(await view.mailbox.search(key))
            added = [u for u in uids if u in matching and u not in context.members]
            gone = [u for u in uids if u not in matching and u in context.members]
            if not added and not gone:
                continue
            context.members.difference_update(gone)
            context.members.update(added)
            removals = _remove(context, gone)
            additions = await _add(view, context, added)
            out.append(_line(view, context, removals, additions))
        return out


Pairs = list[tuple[int, list[int]]]
"""``(context position, UIDs in requested order)`` pairs of an ADDTO or REMOVEFROM."""


def _remove(context: UpdateContext, gone: list[int]) -> Pairs:
    """Takes ``gone`` out of a SORT context's order; the REMOVEFROM pairs, last
    position first, so no removal shifts the ones before it (section 4.3.4). A SEARCH
    context reports position 0, the UIDs in mailbox order."""
    if not gone:
        return []
    if context.criteria is None:
        return [(0, sorted(gone))]
    wanted = set(gone)
    positions = [i for i, (u, _) in enumerate(context.ordered) if u in wanted]
    pairs = _runs(positions, context.ordered)
    for i in reversed(positions):
        del context.ordered[i]
    return list(reversed(pairs))


async def _add(view: SelectedView, context: UpdateContext, added: list[int]) -> Pairs:
    """Puts ``added`` in a SORT context's order; the ADDTO pairs, first position
    first, each right once the ones before it are in (section 4.3.3)."""
    if not added:
        return []
    if context.criteria is None:
        return [(0, added)]
    assert context.read_keys is not None
    keyed = await context.read_keys(view, added)
    for item in keyed:
        context.ordered.insert(context.index(item), item)
    fresh = {u for u, _ in keyed}
    positions = [i for i, (u, _) in enumerate(context.ordered) if u in fresh]
    return _runs(positions, context.ordered)


def _runs(positions: list[int], ordered: list[Keyed]) -> Pairs:
    """Ascending list indexes grouped into runs of adjacent ones: one pair each, with
    its 1-based position."""
    pairs: Pairs = []
    for i in positions:
        if pairs and pairs[-1][0] + len(pairs[-1][1]) - 1 == i:
            pairs[-1][1].append(ordered[i][0])
        else:
            pairs.append((i + 1, [ordered[i][0]]))
    return pairs


def _line(view: SelectedView, context: UpdateContext, removals: Pairs,
          additions: Pairs) -> bytes:
    """``* ESEARCH (TAG "x") [UID] [REMOVEFROM (...)] [ADDTO (...)]`` (section 5)."""
    from pyimapd.session.handlers.search import esearch_head

    def number(u: int) -> int:
        return u if context.uid else view.msn_of(u) or 0

    def payload(pairs: Pairs) -> list[Value]:
        items: list[Value] = []
        for position, uids in pairs:
            items += [position, Atom(uid_set_text([number(u) for u in uids]))]
        return items

    items = esearch_head(context.tag, context.uid)
    if removals:
        items += [Atom("REMOVEFROM"), payload(removals)]
    if additions:
        items += [Atom("ADDTO"), payload(additions)]
    return untagged(*items)


def check_tag(view: SelectedView, tag: str, returns: frozenset[str] | None) -> None:
    """Section 4.3: UPDATE with the tag of a context still updating is BAD."""
    if returns is not None and "UPDATE" in returns and view.contexts is not None \
            and tag in view.contexts:
        raise CommandFailed(bad(f"Tag reuse: {tag} names an update context"))


def open_context(session: Session, view: SelectedView, tag: str, uid: bool,
                 key: ast.SearchKey, found: list[int],
                 sort: tuple[tuple[Criterion, ...], list[Keyed], KeyReader] | None = None,
                 fetch: tuple[c.FetchItem, ...] = ()) -> None:
    """Creates the context of a ``RETURN (UPDATE)`` searching command, or says why not
    (``* NO [NOUPDATE "tag"]``, section 4.3.1: the command's other options are answered
    all the same)."""
    from pyimapd.session.handlers.search import bind

    contexts = view.contexts if view.contexts is not None else Contexts()
    reason = None
    if len(contexts) >= MAX_CONTEXTS:
        reason = "Too many update contexts"
    elif sort is not None and len(found) > MAX_SORT_RESULTS:
        reason = "Too many results to keep sorted"
    if reason is not None:
        # A tag has no quote or backslash (ASTRING-CHAR excludes quoted-specials).
        session.write(untagged_status("NO", reason, ResponseCode("NOUPDATE", f'"{tag}"')))
        return
    bound = bind(key, view, keep_recent=True)
    if sort is None:
        context = UpdateContext(tag, uid, bound, set(found), fetch=fetch)
    else:
        criteria, ordered, reader = sort
        context = UpdateContext(tag, uid, bound, set(found), criteria, ordered, reader,
                                fetch=fetch)
    contexts.add(context)
    view.contexts = contexts


async def cancelupdate(session: Session, command: c.CancelUpdate) -> Result:
    """RFC 5267 section 4.3.5. A tag that names no context is refused, and then no
    context is cancelled."""
    view = session.require_view()
    contexts = view.contexts
    unknown = [t for t in command.tags if contexts is None or t not in contexts]
    if unknown:
        return no(f"No update context for tag {unknown[0]}")
    assert contexts is not None
    contexts.cancel(command.tags)
    return ok("CANCELUPDATE completed, no further updates")
