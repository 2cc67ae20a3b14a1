"""SORT, UID SORT, THREAD and UID THREAD (RFC 5256 sections 3 and 4), with ESORT's
result options (RFC 5267 section 3).

How this works: the command searches like SEARCH (:func:`search.matching_uids`, so
``$``, OLDER/YOUNGER and the rest work the same), then reads the found messages in UID
order through the store's paged FETCH iterator, keeping per message only its sort values
or its :class:`~pyimapd.search.thread.ThreadMessage` (never the message), and hands them
to the pure algorithms of :mod:`pyimapd.search.sort` and :mod:`pyimapd.search.thread`.
Everything comes from the part tree stored at APPEND (its envelope) except the
References field, which REFERENCES reads from the stored header. ``SORT RETURN (...)``
answers in the ESEARCH response SEARCH uses (``search.esearch``), in sort order;
``RETURN (UPDATE)`` keeps the result, with its sort values, in an update context
(``context.py``, CONTEXT=SORT).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from pyimapd import mime
from pyimapd.mime.headers import field_value, split_fields, to_text
from pyimapd.protocol import commands as c
from pyimapd.protocol.responses import Atom, untagged
from pyimapd.search.sort import SortValue, sort_keyed, sort_values
from pyimapd.search.thread import (
    ThreadMessage,
    ThreadNode,
    ordered_subject,
    references,
    thread_message,
)
from pyimapd.session.handlers import context
from pyimapd.session.handlers.condstore import uses_modseq
from pyimapd.session.handlers.message import command_verb
from pyimapd.session.handlers.search import (
    esearch,
    highest_modseq,
    matching_uids,
    relevancy_wanted,
    saving_search,
)
from pyimapd.session.state import Result, ok
from pyimapd.session.view import SelectedView
from pyimapd.storage.interface import MessageRecord, StorageError

if TYPE_CHECKING:
    from pyimapd.session.session import Session

MAX_HEADER_READ = 256 * 1024
"""Octets of a message's header read for its References field (THREAD=REFERENCES)."""


async def _records(view: SelectedView, uids: list[int]) -> AsyncIterator[MessageRecord]:
    """The found messages that still exist, ascending by UID, with their part trees."""
    async for record in view.mailbox.fetch(view.uid_ranges(uids), True):
        if view.msn_of(record.uid) is not None:
            yield record


def _numbering(view: SelectedView, uid: bool) -> Callable[[int], int]:
    """UIDs for the UID forms, sequence numbers otherwise."""
    if uid:
        return lambda u: u
    return lambda u: view.msn_of(u) or 0


async def sort(session: Session, command: c.Sort) -> Result:
    """RFC 5256 BASE.6.4.SORT: ``* SORT`` with the found messages in sort order."""
    view = session.require_view()
    context.check_tag(view, command.tag, command.returns)
    scores = relevancy_wanted(command.returns)
    if scores is None and any(name == "RELEVANCY" for name, _ in command.criteria):
        scores = {}
    found = await saving_search(session, command.key, command.charset, command.returns, scores)
    keyed = sort_keyed(command.criteria,
                       await keyed_values(view, command.criteria, found, scores))
    ordered = [uid for uid, _ in keyed]
    if command.returns is not None:  # ESORT, RFC 5267 section 3
        await esearch(session, view, command.tag, command.uid, ordered, command.returns,
                      command.partial, uses_modseq(command.key),
                      scores if "RELEVANCY" in command.returns else None)
        if "UPDATE" in command.returns:  # CONTEXT=SORT, RFC 5267 section 4.3
            criteria = command.criteria

            async def reader(v: SelectedView, uids: list[int]) -> list[context.Keyed]:
                return await keyed_values(v, criteria, uids)

            context.open_context(session, view, command.tag, command.uid, command.key,
                                 ordered, (criteria, keyed, reader), command.update_fetch)
    else:
        number = _numbering(view, command.uid)
        extra: list[list[Atom | int]] = []
        if ordered and uses_modseq(command.key):  # RFC 7162 section 3.1.9
            extra.append([Atom("MODSEQ"), await highest_modseq(view.mailbox, sorted(ordered))])
        session.write(untagged(Atom("SORT"), *[number(u) for u in ordered], *extra))
    return ok(f"{command_verb(command)} completed")


async def keyed_values(view: SelectedView, criteria: tuple[tuple[str, bool], ...],
                       uids: list[int], scores: dict[int, int] | None = None,
                       ) -> list[tuple[int, tuple[SortValue, ...]]]:
    """The sort values of the messages among ``uids`` that still exist, in UID order;
    RELEVANCY sorts by ``scores`` (100 for a message without one, as for new mail in
    a CONTEXT=SORT update, whose search is not re-scored)."""
    keyed: list[tuple[int, tuple[SortValue, ...]]] = []
    scores = scores or {}
    async for record in _records(view, uids):
        root = mime.loads(record.structure) if record.structure is not None else None
        keyed.append((record.uid, sort_values(criteria, root, record.internaldate,
                                              record.size, scores.get(record.uid, 100))))
    return keyed


async def thread(session: Session, command: c.Thread) -> Result:
    """RFC 5256 BASE.6.4.THREAD: ``* THREAD`` with the threads of the found messages."""
    view = session.require_view()
    found = await matching_uids(session, command.key, command.charset)
    wants_refs = command.algorithm == "REFERENCES"
    messages: list[ThreadMessage] = []
    async for record in _records(view, found):
        root = mime.loads(record.structure) if record.structure is not None else None
        refs = await _references_field(view, record, root) if wants_refs else None
        messages.append(thread_message(record.uid, root, record.internaldate, refs))
    roots = references(messages) if wants_refs else ordered_subject(messages)
    text = thread_text(roots, _numbering(view, command.uid))
    session.write(b"* THREAD" + (b" " + text if text else b"") + b"\r\n")
    return ok(f"{command_verb(command)} completed")


async def _references_field(view: SelectedView, record: MessageRecord,
                            root: mime.Part | None) -> str | None:
    """The first References field of the message's header, raw, or None. A message
    expunged meanwhile (its content gone) counts as having none."""
    if root is None:
        return None
    length = min(root.body_start - root.header_start, MAX_HEADER_READ)
    chunks: list[bytes] = []
    try:
        async for chunk in view.mailbox.read(record.content, root.header_start, length):
            chunks.append(chunk)
    except StorageError:
        return None
    for name, raw in split_fields(b"".join(chunks)):
        if name == b"references":
            return to_text(field_value(raw))
    return None


def thread_text(roots: list[ThreadNode], number: Callable[[int], int]) -> bytes:
    """The threads as ``1*thread-list`` (RFC 5256 section 5): a run of single children
    is written as successive members, ``(3 6 ...)``, and a split as one thread-list per
    child, ``(4 23)(44 7 96)``; a dummy parent lists only its children. Written with an
    explicit stack, since a thread may be as deep as it is long."""
    out: list[bytes] = []
    stack: list[ThreadNode | bytes] = list(reversed(roots))
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            out.append(item)
            continue
        node = item
        out.append(b"(")
        if node.uid is not None:
            out.append(b"%d" % number(node.uid))
            while len(node.children) == 1 and node.children[0].uid is not None:
                node = node.children[0]
                out.append(b" %d" % number(node.uid))  # type: ignore[arg-type]
            if node.children:
                out.append(b" ")
        stack.append(b")")
        stack.extend(reversed(node.children))
    return b"".join(out)
