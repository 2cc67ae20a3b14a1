"""ESEARCH (MULTISEARCH, RFC 7377): one search over several mailboxes, in the
authenticated and the selected state.

How this works: the source filters become the names of the mailboxes to search, each
once (section 2), in the store's listing order. The selected mailbox is searched
through the session's view, as UID SEARCH would (only the messages the session has
been told of); every other one is opened read-only, as EXAMINE would (no \\Recent is
claimed), searched with its own message numbers and closed. Each mailbox with a match
gets one ``* ESEARCH (TAG "t" MAILBOX m UIDVALIDITY v) UID ...`` response (section
2.1); one without a match gets none. A mailbox that is not there, or that the user may
not read, is passed over: a search finds nothing in it.

Section 2's limits, all BAD: the SELECTED source with no mailbox selected (and so no
source at all), and SAVE or ``$`` with any source but the selected mailbox (the
saved result belongs to it, RFC 5182).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyimapd.protocol.multisearch import Esearch, MailboxFilter
from pyimapd.protocol.responses import Atom, Mailbox, Value, untagged
from pyimapd.search import ast
from pyimapd.session.handlers.condstore import enable_condstore, uses_modseq
from pyimapd.session.handlers.notify import covers
from pyimapd.session.handlers.search import (
    bind,
    check_charset,
    check_rev2,
    highest_modseq,
    matching_uids,
    picked_uids,
    relevancy_wanted,
    result_data,
)
from pyimapd.session.state import Result, bad, ok
from pyimapd.session.view import uid_ranges
from pyimapd.storage.interface import MailboxRecord, SelectedMailbox, StorageError

if TYPE_CHECKING:
    from pyimapd.session.session import Session


class _Snapshot:
    """Another mailbox's messages as :func:`search.bind` needs them: message numbers
    are its own (section 2 leaves them to each mailbox), and this session has no
    \\Recent and no saved result there."""

    def __init__(self, uids: Sequence[int]) -> None:
        self.uids = list(uids)
        self.recent: set[int] = set()

    @property
    def exists(self) -> int:
        return len(self.uids)

    def uid_ranges(self, uids: Sequence[int]) -> list[tuple[int, int]]:
        return uid_ranges(uids)

    def saved_uids(self) -> list[int]:
        return []


async def esearch(session: Session, command: Esearch) -> Result:
    store = session.require_store()
    view = session.view
    sources = command.sources or (MailboxFilter("SELECTED"),)
    if view is None and any(f.filter == "SELECTED" for f in sources):
        return bad("No mailbox is selected: ESEARCH needs IN (...) sources")
    returns = command.returns or frozenset()
    saved = ast.holds_where(command.key, ast.names_saved)
    if not command.only_selected and ("SAVE" in returns or saved):
        return bad("SAVE and $ are for the selected mailbox only")
    check_charset(command.charset)
    check_rev2(session, command.key)
    if uses_modseq(command.key):
        enable_condstore(session)
    records = await store.list_mailboxes()
    subscribed = set(await store.list_subscriptions()) \
        if any(f.filter == "SUBSCRIBED" for f in sources) else set()
    selected = view.name if view is not None else None
    names = _names(sources, records, subscribed, selected)
    options = returns or frozenset({"ALL"})
    modseq = uses_modseq(command.key)
    for name in names:
        scores = relevancy_wanted(command.returns)  # RFC 6203 section 4, per mailbox
        if view is not None and name == selected:
            found = await matching_uids(session, command.key, command.charset, scores)
            if "SAVE" in options:
                view.saved = set(picked_uids(found, options, command.partial))
            await _answer(session, command, (name, view.uidvalidity, view.mailbox), found,
                          modseq, scores)
            continue
        try:
            mailbox, result = await store.select(name, readonly=True)
        except StorageError:
            continue  # gone since the listing, or not readable: nothing found there
        try:
            bound = bind(command.key, _Snapshot(result.uids))
            if scores is None:
                found = await mailbox.search(bound)
            else:
                scored = await mailbox.search_scored(bound)
                scores.update(scored)
                found = [uid for uid, _ in scored]
            await _answer(session, command, (name, result.uidvalidity, mailbox), found,
                          modseq, scores)
        finally:
            await mailbox.close()
    return ok("ESEARCH completed")


def _names(sources: Sequence[MailboxFilter], records: list[MailboxRecord],
           subscribed: set[str], selected: str | None) -> list[str]:
    """The selectable mailboxes the filters name, each once, in listing order (the
    filters mean what they mean for NOTIFY: ``notify.covers``)."""
    wanted: list[str] = []
    for record in records:
        if not record.noselect and any(
                _covers(f, record.name, subscribed, selected) for f in sources):
            wanted.append(record.name)
    return wanted


def _covers(source: MailboxFilter, name: str, subscribed: set[str],
            selected: str | None) -> bool:
    if source.filter == "SELECTED":
        return name == selected
    return covers(source.filter, source.mailboxes, name, subscribed)


async def _answer(session: Session, command: Esearch,
                  where: tuple[str, int, SelectedMailbox], found: list[int], modseq: bool,
                  scores: dict[int, int] | None) -> None:
    """One mailbox's ESEARCH response (section 2.1), none when nothing matched or only
    SAVE was asked for; ``where`` is the mailbox's name, UIDVALIDITY and handle."""
    name, uidvalidity, mailbox = where
    options = command.returns or frozenset({"ALL"})
    if not found or not options - {"SAVE"}:
        return
    correlator: list[Value] = [Atom("TAG"), command.tag, Atom("MAILBOX"),
                               Mailbox(name, session.utf8), Atom("UIDVALIDITY"), uidvalidity]
    items: list[Value] = [Atom("ESEARCH"), correlator, Atom("UID")]
    items += result_data(found, options, command.partial, list, scores)
    picked = picked_uids(found, options, command.partial)
    if modseq and picked:  # RFC 4731 section 3.2, per mailbox
        items += [Atom("MODSEQ"), await highest_modseq(mailbox, picked)]
    session.write(untagged(*items))
