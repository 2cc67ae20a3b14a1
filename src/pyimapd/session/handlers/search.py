"""SEARCH and UID SEARCH (RFC 3501 sections 6.4.4 and 6.4.8), with ESEARCH's result
options (RFC 4731), SEARCHRES's SAVE and ``$`` (RFC 5182), PARTIAL (RFC 9394),
CONTEXT=SEARCH's CONTEXT and UPDATE (RFC 5267, ``context.py``) and WITHIN's
OLDER/YOUNGER (RFC 5032).

The parser's key tree may name messages by sequence number, by ``\\Recent``, by the
saved result ``$`` or by an age, which only this session can resolve; :func:`bind`
rewrites those into UID ranges and fixed moments, so that the store can answer the rest
on its own (in SQL for the database backends). SORT and THREAD (``sort.py``) search
through :func:`matching_uids` too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, ResponseCode, Value, untagged
from pyimapd.search import ast
from pyimapd.session.handlers import context, objectid
from pyimapd.session.handlers.condstore import enable_condstore, uses_modseq
from pyimapd.session.handlers.message import command_verb
from pyimapd.session.state import CommandFailed, Result, bad, no, ok
from pyimapd.session.view import SelectedView, uid_ranges, uid_set_text
from pyimapd.storage.interface import SelectedMailbox

if TYPE_CHECKING:
    from pyimapd.session.session import Session

CHARSETS = ("UTF-8", "US-ASCII")


class Numbered(Protocol):
    """What :func:`bind` needs of a mailbox: its messages in sequence-number order, the
    session's \\Recent ones and ``$``. The selected view is one; MULTISEARCH's
    snapshot of another mailbox (multisearch.py) is another."""

    uids: list[int]
    recent: set[int]

    @property
    def exists(self) -> int: ...
    def uid_ranges(self, uids: Sequence[int]) -> list[tuple[int, int]]: ...
    def saved_uids(self) -> list[int]: ...


def bind(key: ast.SearchKey, view: Numbered, now: int | None = None,
         keep_recent: bool = False) -> ast.SearchKey:
    """Replaces the session-relative keys by :class:`ast.UidIn` and
    :class:`ast.InternalTime`. ``now`` (UTC epoch seconds, default the current time) is
    the moment OLDER and YOUNGER count back from, one for the whole search.
    ``keep_recent`` leaves ``\\Recent`` for a later bind: an update context's key
    (``context.py``) is bound once, when its command runs, but the session's recent
    messages grow with new mail.

    A sequence number beyond the mailbox matches nothing rather than failing, as
    Dovecot does, because a search on a changing mailbox races with its size.
    """
    if now is None:
        now = int(time.time())
    if isinstance(key, ast.SeqSet | ast.UidSet) and key.sequence.saved:
        return ast.UidIn(tuple(view.uid_ranges(view.saved_uids())))
    if isinstance(key, ast.SeqSet):
        ranges = key.sequence.resolve(view.exists)
        uids = [view.uids[n - 1] for lo, hi in ranges for n in range(lo, min(hi, view.exists) + 1)]
        return ast.UidIn(tuple(view.uid_ranges(uids)))
    if isinstance(key, ast.UidSet):
        largest = view.uids[-1] if view.uids else 0
        return ast.UidIn(tuple(key.sequence.resolve(largest)))
    if isinstance(key, ast.Recent) and not keep_recent:
        return ast.UidIn(tuple(view.uid_ranges(sorted(view.recent))))
    if isinstance(key, ast.ObjectId):
        # RFC 8474 section 6: a THREADID matches nothing where threads are not kept.
        content = objectid.content_of(key.value) if key.kind == "EMAILID" else None
        return ast.Not(ast.All()) if content is None else ast.Content(content)
    if isinstance(key, ast.Within):
        # RFC 5032 section 2: the target time is now minus the interval.
        return ast.InternalTime(key.older, now - key.seconds)
    if isinstance(key, ast.Not):
        return ast.Not(bind(key.key, view, now, keep_recent))
    if isinstance(key, ast.Or):
        return ast.Or(bind(key.left, view, now, keep_recent),
                      bind(key.right, view, now, keep_recent))
    if isinstance(key, ast.And):
        return ast.And(tuple(bind(k, view, now, keep_recent) for k in key.keys))
    return key


async def highest_modseq(mailbox: SelectedMailbox, uids: list[int]) -> int:
    """The highest MODSEQ among the found messages (RFC 7162 section 3.1.6); ``uids``
    ascending."""
    top = 0
    async for record in mailbox.fetch(uid_ranges(uids), False):
        top = max(top, record.modseq)
    return top


def check_charset(charset: str | None) -> None:
    """US-ASCII and UTF-8 only (RFC 3501 section 6.4.4, RFC 5256 section 3):
    anything else is ``NO [BADCHARSET (...)]``."""
    if charset is not None and charset.upper() not in CHARSETS:
        code = ResponseCode("BADCHARSET", f"({' '.join(CHARSETS)})")
        raise CommandFailed(no(f"Unsupported charset {charset}", code))


async def matching_uids(session: Session, key: ast.SearchKey, charset: str | None,
                        scores: dict[int, int] | None = None) -> list[int]:
    """The UIDs the key matches among the messages this session has been told about
    (those not yet announced stay invisible), ascending; with ``scores``, their
    relevancy (RFC 6203 section 4) is put there."""
    view = session.require_view()
    check_charset(charset)
    check_rev2(session, key)
    if uses_modseq(key):
        enable_condstore(session)
    if scores is None:
        uids = await view.mailbox.search(bind(key, view))
    else:
        scored = await view.mailbox.search_scored(bind(key, view))
        scores.update(scored)
        uids = [uid for uid, _ in scored]
    return [uid for uid, msn in zip(uids, view.msns_of(uids), strict=True) if msn is not None]


async def saving_search(session: Session, key: ast.SearchKey, charset: str | None,
                        returns: frozenset[str] | None,
                        scores: dict[int, int] | None = None) -> list[int]:
    """:func:`matching_uids` for a command that may SAVE: RFC 5182 section 2.1 says a
    SEARCH (SAVE) that fails empties the result variable (a BAD from the parser never
    gets here, and leaves it alone, as required). SORT (SAVE) does the same: the RFC
    names SORT among the commands "based on SEARCH" whose result SAVE keeps."""
    try:
        return await matching_uids(session, key, charset, scores)
    except Exception:
        if returns is not None and "SAVE" in returns:
            session.require_view().saved = set()
        raise


def check_rev2(session: Session, key: ast.SearchKey) -> None:
    """RFC 9051 Appendix E item 12: rev2's search-key has no RECENT, NEW or OLD."""
    if session.rev2 and ast.holds(key, ast.Recent):
        raise CommandFailed(bad("RECENT, NEW and OLD are not part of IMAP4rev2"))


async def search(session: Session, command: c.Search) -> Result:
    """In IMAP4rev2 the answer is always ESEARCH: no RETURN is RETURN (ALL) (RFC 9051
    section 6.4.4 and Appendix E item 4)."""
    view = session.require_view()
    if command.charset is not None and session.utf8_accept:
        # RFC 6855 section 3: "it MUST NOT issue a SEARCH command that contains a
        # charset specification ... SHOULD reject the command with a "BAD" response"
        return bad("SEARCH takes no CHARSET after ENABLE UTF8=ACCEPT")
    context.check_tag(view, command.tag, command.returns)
    scores = relevancy_wanted(command.returns)
    found = await saving_search(session, command.key, command.charset, command.returns, scores)
    modseq = uses_modseq(command.key)
    if command.returns is None and session.rev2:
        await esearch(session, view, command.tag, command.uid, found, frozenset({"ALL"}),
                      command.partial, modseq)
    elif command.returns is None:
        numbers = found if command.uid else [n or 0 for n in view.msns_of(found)]
        extra: list[list[Atom | int]] = []
        if modseq and found:
            extra.append([Atom("MODSEQ"), await highest_modseq(view.mailbox, found)])
        session.write(untagged(Atom("SEARCH"), *numbers, *extra))
    else:
        await esearch(session, view, command.tag, command.uid, found, command.returns,
                      command.partial, modseq, scores)
        if "UPDATE" in command.returns:  # RFC 5267 section 4.3
            context.open_context(session, view, command.tag, command.uid, command.key, found,
                                 fetch=command.update_fetch)
    return ok(f"{command_verb(command)} completed")


def relevancy_wanted(returns: frozenset[str] | None) -> dict[int, int] | None:
    """Where the scores go when the result options ask for RELEVANCY, else None."""
    return {} if returns is not None and "RELEVANCY" in returns else None


def esearch_head(tag: str, uid: bool) -> list[Value]:
    """``"ESEARCH" [search-correlator] [SP "UID"]`` (RFC 4731 section 3.1): what every
    ESEARCH response starts with, a command's result or a context update."""
    items: list[Value] = [Atom("ESEARCH"), [Atom("TAG"), tag]]
    if uid:
        items.append(Atom("UID"))
    return items


async def esearch(session: Session, view: SelectedView, tag: str, uid: bool,
                  found: list[int], returns: frozenset[str], partial: c.PartialRange | None,
                  modseq: bool, scores: dict[int, int] | None = None) -> None:
    """The ESEARCH response (RFC 4731 section 3.1) and the saved result (RFC 5182
    section 2.4), for SEARCH and for ESORT's SORT (RFC 5267 section 3.1). ``found`` is
    in result order: ascending for SEARCH, sort order for SORT. MIN and MAX are the
    lowest and highest number found, whatever the order; ALL lists the numbers in
    result order, ranges only where they ascend (section 3.2: ``23765,23764,23763``,
    never ``23765:23763``), and so does PARTIAL (RFC 9394 section 3.1), for the results
    at its positions in that order. ``RETURN ()`` means ALL; ``RETURN (SAVE)`` alone
    sends nothing. CONTEXT and UPDATE (RFC 5267 sections 4.2 and 4.3) ask for no result
    data: with nothing else, they get ALL, as ``RETURN ()`` does. RELEVANCY (RFC 6203
    section 4) lists the ``scores`` of the messages found, in result order."""
    options = returns - {"CONTEXT", "UPDATE"} or frozenset({"ALL"})
    picked = picked_uids(found, options, partial)
    if "SAVE" in options:
        view.saved = set(picked)
    if not options - {"SAVE"}:
        return

    def numbers(uids: list[int]) -> list[int]:
        return uids if uid else [n or 0 for n in view.msns_of(uids)]

    items = esearch_head(tag, uid) + result_data(found, options, partial, numbers, scores)
    if modseq and picked:  # RFC 4731 section 3.2
        items += [Atom("MODSEQ"), await highest_modseq(view.mailbox, sorted(picked))]
    session.write(untagged(*items))


def picked_uids(found: list[int], options: frozenset[str],
                partial: c.PartialRange | None) -> list[int]:
    """What $ holds and MODSEQ is taken from: MIN and/or MAX alone are those messages
    (RFC 5182 section 2.4); with PARTIAL, the page and them (RFC 9394 section 3.2,
    table 1). With COUNT or ALL, every message found."""
    if not (options & {"MIN", "MAX", "PARTIAL"} and not options & {"ALL", "COUNT"}):
        return found
    ends = {min(found)} if found and "MIN" in options else set()
    ends |= {max(found)} if found and "MAX" in options else set()
    page = partial.select(found) if partial is not None else []
    return sorted(ends | set(page))


def result_data(found: list[int], options: frozenset[str], partial: c.PartialRange | None,
                numbers: Callable[[list[int]], list[int]],
                scores: dict[int, int] | None = None) -> list[Value]:
    """``search-return-data`` items (RFC 4731 section 3.1, RFC 9394 section 3.1, RFC
    6203 section 4) for the UIDs found, sent as ``numbers`` says (the UIDs themselves,
    or their sequence numbers)."""
    items: list[Value] = []
    if found and "MIN" in options:
        items += [Atom("MIN"), numbers([min(found)])[0]]
    if found and "MAX" in options:
        items += [Atom("MAX"), numbers([max(found)])[0]]
    if found and "ALL" in options:
        items += [Atom("ALL"), Atom(uid_set_text(numbers(found)))]
    if partial is not None:
        page = partial.select(found)
        results = uid_set_text(numbers(page)) if page else "NIL"
        items += [Atom("PARTIAL"), [Atom(str(partial)), Atom(results)]]
    if "COUNT" in options:
        items += [Atom("COUNT"), len(found)]
    if scores is not None and found:
        items += [Atom("RELEVANCY"), [scores.get(u, 100) for u in found]]
    return items
