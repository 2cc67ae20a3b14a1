"""What CREATE, DELETE and RENAME do to a user's hierarchy, decided once for all backends.

How this works: each ``plan_*`` function takes the request and the user's current
mailboxes (name -> is it \\Noselect), checks it against RFC 3501 section 6.3.3-6.3.5 and
returns what to change, raising the :class:`StorageError` the session will send. The
backends only carry the plan out, inside their own transaction, so the memory reference
and SQLite cannot disagree on the hierarchy rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyimapd.storage import names
from pyimapd.storage.interface import (
    DELIMITER,
    MailboxExists,
    NoSuchMailbox,
    NotAllowed,
)

Existing = Mapping[str, bool]
"""A user's mailboxes: normalised name -> True when the mailbox is \\Noselect."""


@dataclass(frozen=True, slots=True)
class CreatePlan:
    name: str
    revive: bool
    """``name`` exists as \\Noselect: it becomes selectable again with a new UIDVALIDITY."""
    superiors: tuple[str, ...]
    """Missing superiors to create first, outermost first (section 6.3.3 SHOULD)."""


@dataclass(frozen=True, slots=True)
class RenamePlan:
    moves: tuple[tuple[str, str], ...]
    """``(old name, new name)``: the mailbox first, then its inferiors."""
    superiors: tuple[str, ...]
    """Missing superiors of the new name, outermost first."""
    inbox: bool
    """Renaming INBOX: its messages move to a new mailbox and INBOX stays, empty."""


def plan_create(name: str, existing: Existing) -> CreatePlan:
    """RFC 3501 section 6.3.3. A trailing delimiter only declares the intent to create
    inferiors, so ``foo/`` creates ``foo``. Creating a \\Noselect name revives it."""
    if name.endswith(DELIMITER):
        name = name[:-1]
    name = names.validate(name)
    if name == names.INBOX or (name in existing and not existing[name]):
        raise MailboxExists(f"Mailbox {name} already exists")
    superiors = tuple(p for p in names.parents(name) if p not in existing)
    return CreatePlan(name, name in existing, superiors)


def plan_delete(name: str, existing: Existing) -> tuple[str, bool]:
    """RFC 3501 section 6.3.4: returns ``(name, keep)``; ``keep`` means the mailbox has
    inferiors and stays as \\Noselect with its messages removed."""
    name = names.normalize(name)
    if name == names.INBOX:
        raise NotAllowed("INBOX cannot be deleted")
    if name not in existing:
        raise NoSuchMailbox(f"Mailbox {name} does not exist")
    has_inferiors = any(names.is_inferior(n, name) for n in existing)
    if has_inferiors and existing[name]:
        raise NotAllowed(f"Mailbox {name} has inferiors and is already \\Noselect")
    return name, has_inferiors


def plan_rename(old: str, new: str, existing: Existing) -> RenamePlan:
    """RFC 3501 section 6.3.5. Inferiors follow, except INBOX's ("If the server
    implementation supports inferior hierarchical names of INBOX, these are unaffected
    by a rename of INBOX"). Renaming into one's own inferior is refused, as is any name
    collision, checked for every renamed inferior as well."""
    old = names.normalize(old)
    new = names.validate(new)
    if old not in existing:
        raise NoSuchMailbox(f"Mailbox {old} does not exist")
    if new == names.INBOX or new in existing:
        raise MailboxExists(f"Mailbox {new} already exists")
    if old == names.INBOX:
        moves: list[tuple[str, str]] = [(old, new)]
    else:
        if names.is_inferior(new, old):
            raise NotAllowed("A mailbox cannot be renamed into its own inferior")
        moves = [(old, new)]
        for inferior in names.inferiors(old, existing):
            target = names.validate(names.rename_target(inferior, old, new))
            if target in existing:
                raise MailboxExists(f"Mailbox {target} already exists")
            moves.append((inferior, target))
    superiors = tuple(p for p in names.parents(new) if p not in existing)
    return RenamePlan(tuple(moves), superiors, old == names.INBOX)
