"""The questions a script run asks the world, as a Protocol the delivery layer
implements (synchronously: the evaluator runs off the event loop), and a static
implementation for tests and tools such as a ``sieve-test`` command."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class Envelope:
    """The SMTP/LMTP envelope (RFC 5228 section 5.4). ``from_`` is "" for the null
    reverse-path ``<>``; ``to`` is the recipient as given, with its detail."""

    from_: str
    to: str
    auth: str | None = None


class Environment(Protocol):
    def mailbox_exists(self, name: str) -> bool:
        """RFC 5490 mailboxexists."""
        ...

    def duplicate_seen(self, handle: str, value: str) -> bool:
        """RFC 7352: was (handle, value) recorded by an earlier successful delivery?"""
        ...

    def include(self, name: str, location: str) -> str | None:
        """RFC 6609: the text of script ``name`` at ``location`` ("personal" or
        "global"), or None when there is none."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware (RFC 5260 currentdate; its zone is the
        "local" zone of the date tests)."""
        ...

    def user_addresses(self) -> Sequence[str]:
        """The user's own addresses (RFC 5230 section 4.5): the first is vacation's
        default From."""
        ...

    def vacation_sent_recently(self, handle: str, sender: str, seconds: int) -> bool:
        """RFC 5230 section 4.2: was a reply with ``handle`` sent to ``sender`` within
        the last ``seconds``?"""
        ...


@dataclass
class StaticEnvironment:
    """An :class:`Environment` from plain data."""

    mailboxes: set[str] = field(default_factory=lambda: {"INBOX"})
    scripts: dict[tuple[str, str], str] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)
    seen_duplicates: set[tuple[str, str]] = field(default_factory=set)
    replied: set[tuple[str, str]] = field(default_factory=set)
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))

    def mailbox_exists(self, name: str) -> bool:
        return name in self.mailboxes

    def duplicate_seen(self, handle: str, value: str) -> bool:
        return (handle, value) in self.seen_duplicates

    def include(self, name: str, location: str) -> str | None:
        return self.scripts.get((location, name))

    def now(self) -> datetime:
        return self.clock

    def user_addresses(self) -> Sequence[str]:
        return self.addresses

    def vacation_sent_recently(self, handle: str, sender: str, seconds: int) -> bool:
        return (handle, sender.lower()) in self.replied
