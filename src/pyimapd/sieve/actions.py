"""What a script run decided, as plain values the delivery layer carries out.

The evaluator has already applied RFC 5228 section 2.10's rules: duplicates merged
(2.10.3), the implicit keep decided (2.10.2), incompatible actions refused (RFC 5429
2.1), vacation's safety checks done (RFC 5230 section 4.5). Delivery only executes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOOP_HEADER = "X-Sieve-Redirected-By"
"""Redirect loop protection. Delivery adds ``X-Sieve-Redirected-By: <recipient>`` to
every message it redirects (:attr:`Redirect.loop_header`); a script run on a message
that already carries this field with the recipient's own address does not redirect
it again (the message is kept instead), so A -> B -> A stops at the second A."""


@dataclass(frozen=True)
class Keep:
    """Store in the default mailbox (RFC 5228 section 4.3). ``implicit`` marks the
    implicit keep (2.10.2), which also stands for a runtime error's keep."""

    flags: tuple[str, ...] | None = None
    """IMAP flags to set (RFC 5232 section 3); None: delivery's defaults."""
    implicit: bool = False


@dataclass(frozen=True)
class FileInto:
    mailbox: str
    flags: tuple[str, ...] | None = None
    copy: bool = False
    """RFC 3894: ``:copy`` (the implicit keep stays)."""
    create: bool = False
    """RFC 5490 section 3.2: create the mailbox when it is missing."""


@dataclass(frozen=True)
class Redirect:
    address: str
    copy: bool = False
    loop_header: tuple[str, str] = ("", "")
    """The field delivery must add to the redirected message (see LOOP_HEADER)."""


@dataclass(frozen=True)
class Reject:
    """RFC 5429: refuse the message. ``extended`` (ereject) asks for an SMTP/LMTP
    level refusal where possible; plain reject sends an MDN-style bounce."""

    reason: str
    extended: bool = False


@dataclass(frozen=True)
class Discard:
    """RFC 5228 section 4.4: drop silently (cancels the implicit keep)."""


@dataclass(frozen=True)
class Vacation:
    """A reply that passed RFC 5230 section 4.5's checks and ``env``'s "already
    replied" check; delivery sends it (with ``Auto-Submitted: auto-replied``, RFC
    3834) and records (handle, to) for ``seconds``."""

    to: str
    """The original envelope sender."""
    from_: str
    subject: str
    body: str
    """The reason text; with ``mime`` it is a whole MIME entity (headers + body)."""
    mime: bool
    handle: str
    seconds: int
    in_reply_to: str | None = None
    references: str | None = None


Action = Keep | FileInto | Redirect | Reject | Discard | Vacation


@dataclass(frozen=True)
class DuplicateRecord:
    """RFC 7352: an id seen by a ``duplicate`` test, to be remembered for ``seconds``
    once delivery has succeeded. ``last`` means the expiry restarts at each sighting."""

    handle: str
    value: str
    seconds: int
    last: bool


@dataclass
class Result:
    actions: list[Action] = field(default_factory=list)
    """Every action to perform, in order; the implicit keep, when it applies, is the
    last (``Keep(implicit=True)``)."""
    errors: list[str] = field(default_factory=list)
    """Runtime errors (RFC 5228 2.10.6): when non-empty, ``actions`` is only the
    implicit keep."""
    header: bytes | None = None
    """The edited header block (RFC 5293) to store instead of the original one,
    with its final blank line; None when no header changed."""
    duplicates: list[DuplicateRecord] = field(default_factory=list)
    """Ids to commit once delivery succeeded (RFC 7352); empty after an error."""
    warnings: list[str] = field(default_factory=list)
    """Things the run chose not to do (a vacation refused by RFC 5230's checks, a
    redirect loop, an edit of a protected field), for the user's log."""

    @property
    def implicit_keep(self) -> bool:
        return any(isinstance(a, Keep) and a.implicit for a in self.actions)
