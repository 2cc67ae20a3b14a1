"""Which names a LIST returns and with which attributes: RFC 3501 section 6.3.8 extended
by CHILDREN (RFC 3348), LIST-EXTENDED (RFC 5258) and SPECIAL-USE (RFC 6154).

How this works: :func:`select_entries` is pure. It takes the user's mailboxes, their
subscriptions and the parsed command and returns one :class:`Entry` per name to report,
INBOX first and then by name. A name is reported when it matches one of the patterns
and either meets the selection criteria (it exists; with SUBSCRIBED, it is subscribed,
existing or not; with SPECIAL-USE, it has a special use) or, with RECURSIVEMATCH, it has
a descendant meeting them that no pattern matches (section 3.3, rule 2B; redundant
CHILDINFO is suppressed as section 3.5 advises). The handler in :mod:`.mailbox` turns
entries into LIST (and LIST-STATUS) responses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pyimapd.protocol import commands as c
from pyimapd.storage.interface import MailboxRecord
from pyimapd.storage.names import INBOX, list_matcher, parents

BASE_OPTIONS = ("SUBSCRIBED", "SPECIAL-USE")
"""Selection options that restrict the names (RFC 5258's list-select-base-opt); the
ones in force are what CHILDINFO reports (section 3.5)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One LIST response. ``selectable`` is false for \\Noselect and \\NonExistent
    names; ``meets`` tells whether the name itself meets the selection criteria (LIST-STATUS
    reports only those, RFC 5819 section 3). ``childinfo`` holds the base selection
    options for the CHILDINFO extended data item, empty when there is none."""

    name: str
    attributes: tuple[str, ...]
    selectable: bool
    meets: bool
    childinfo: tuple[str, ...] = ()


def order(name: str) -> tuple[int, str]:
    """INBOX first, then by name."""
    return (0 if name == INBOX else 1, name)


def _matcher(command: c.List) -> Callable[[str], bool]:
    """Any of the patterns (RFC 5258 section 3). An empty pattern in the extended form
    matches nothing: it "MUST be ignored for the purpose of matching"."""
    matchers = [list_matcher(command.reference, p) for p in command.patterns if p]

    def matches(name: str) -> bool:
        return any(m(name) for m in matchers)

    return matches


def _criteria(
    command: c.List, existing: dict[str, MailboxRecord], subscribed: set[str]
) -> set[str]:
    """The names meeting the selection criteria, matching a pattern or not."""
    names = set(subscribed) if "SUBSCRIBED" in command.select else set(existing)
    if "SPECIAL-USE" in command.select:
        names = {n for n in names if n in existing and existing[n].special_use}
    return names


def _parents_of(names: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        found.update(parents(name))
    return found


def select_entries(
    command: c.List, records: Sequence[MailboxRecord], subscriptions: Iterable[str]
) -> list[Entry]:
    """The LIST responses for ``command`` (see the module docstring)."""
    existing = {r.name: r for r in records}
    subscribed = set(subscriptions)
    matches = _matcher(command)
    meeting = _criteria(command, existing, subscribed)
    recursive = "RECURSIVEMATCH" in command.select
    base = tuple(o for o in BASE_OPTIONS if o in command.select)
    above_meeting = _parents_of(meeting) if recursive else set()
    # Parents of meeting names that no pattern matches: rule 2B's reason to report.
    above_unmatched = _parents_of(n for n in meeting if not matches(n)) if recursive else set()
    with_children = _parents_of(existing)
    show_subscribed = "SUBSCRIBED" in command.select or "SUBSCRIBED" in command.returns
    entries = []
    for name in sorted(meeting | above_unmatched, key=order):
        meets = name in meeting
        if not matches(name) or not (meets or name in above_unmatched):
            continue
        record = existing.get(name)
        attributes = mailbox_attributes(record, name in with_children)
        if show_subscribed and name in subscribed:
            attributes.append("\\Subscribed")
        childinfo = base if name in above_meeting else ()
        selectable = record is not None and not record.noselect
        entries.append(Entry(name, tuple(attributes), selectable, meets, childinfo))
    return entries


def mailbox_attributes(record: MailboxRecord | None, has_children: bool) -> list[str]:
    """``\\NonExistent`` (which implies ``\\Noselect``, RFC 5258 section 3.4) or
    ``\\Noselect``; always the CHILDREN attribute (RFC 3348 section 3); the special-use
    attributes, which RFC 6154 section 2 lets a server send even unasked."""
    attributes = ["\\NonExistent"] if record is None else (
        ["\\Noselect"] if record.noselect else [])
    attributes.append("\\HasChildren" if has_children else "\\HasNoChildren")
    if record is not None and record.special_use:
        attributes.extend(record.special_use.split())
    return attributes
