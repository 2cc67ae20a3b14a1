"""Mailbox name rules shared by every backend and by the session's LIST.

How this works: names are Unicode strings (the protocol layer has already undone modified
UTF-7) with ``/`` as the only hierarchy delimiter. ``INBOX`` is special only as the first
component, where it is case-insensitive (RFC 3501 section 5.1), so every name is passed
through :func:`normalize` before it is looked up or stored. :func:`validate` refuses names
that would make the hierarchy ambiguous or the wire form awkward; it is used where a name
is *created* (CREATE, RENAME target, SUBSCRIBE), while lookups of odd names simply miss.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pyimapd.storage.interface import DELIMITER, NotAllowed

INBOX = "INBOX"

MAX_NAME_LENGTH = 1000
"""Characters in a whole name: far above real use, low enough to keep LIST lines sane."""

MAX_DEPTH = 50
"""Components in a name: bounds the work of creating superiors and renaming inferiors."""

MAX_COMPONENT_LENGTH = 255
"""Characters in one component, the usual file-system limit that IMAP clients assume."""

_WILDCARDS = "*%"


def normalize(name: str) -> str:
    """``name`` with a case-insensitive ``INBOX`` first component spelled ``INBOX``.

    RFC 3501 section 5.1: "The case-insensitive mailbox name INBOX is a special name
    reserved to mean the primary mailbox". Only the first component is special, so
    ``inbox/Foo`` becomes ``INBOX/Foo`` while ``Foo/inbox`` is left alone.
    """
    head, sep, rest = name.partition(DELIMITER)
    if head.upper() == INBOX:
        return INBOX + sep + rest
    return name


def validate(name: str) -> str:
    """Checks a name that is about to be created and returns it normalised.

    Raises :class:`NotAllowed` with a text the session can send as is. Refused: empty
    names or components (leading, trailing or doubled ``/``), ``.`` and ``..`` components
    (they read like paths and confuse clients and exporters), control characters, the
    LIST wildcards ``*`` and ``%`` (RFC 3501 section 5.1 advises against them: such a
    name could never be listed unambiguously), and names beyond the length limits.
    """
    if not name:
        raise NotAllowed("Mailbox name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise NotAllowed(f"Mailbox name is longer than {MAX_NAME_LENGTH} characters")
    for ch in name:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise NotAllowed("Mailbox name contains a control character")
        if ch in _WILDCARDS:
            raise NotAllowed("Mailbox name contains a wildcard (* or %)")
    components = name.split(DELIMITER)
    if len(components) > MAX_DEPTH:
        raise NotAllowed(f"Mailbox name is deeper than {MAX_DEPTH} levels")
    for component in components:
        if not component:
            raise NotAllowed("Mailbox name has an empty level (leading, trailing or double /)")
        if component in (".", ".."):
            raise NotAllowed("Mailbox name has a '.' or '..' level")
        if len(component) > MAX_COMPONENT_LENGTH:
            raise NotAllowed(f"Mailbox name has a level longer than {MAX_COMPONENT_LENGTH}")
    return normalize(name)


def parents(name: str) -> list[str]:
    """The superiors of ``name``, outermost first: ``a/b/c`` gives ``["a", "a/b"]``."""
    components = name.split(DELIMITER)
    return [DELIMITER.join(components[:i]) for i in range(1, len(components))]


def is_inferior(name: str, ancestor: str) -> bool:
    """True when ``name`` lies strictly below ``ancestor`` in the hierarchy."""
    return name.startswith(ancestor + DELIMITER)


def inferiors(ancestor: str, names: Iterable[str]) -> list[str]:
    """The names strictly below ``ancestor``, sorted."""
    return sorted(n for n in names if is_inferior(n, ancestor))


def rename_target(name: str, old: str, new: str) -> str:
    """Where ``name`` (``old`` itself or one of its inferiors) goes when ``old`` is
    renamed to ``new`` (RFC 3501 section 6.3.5: inferiors are renamed too)."""
    if name == old:
        return new
    return new + name[len(old):]


def join_reference(reference: str, pattern: str) -> str:
    """The canonical form of a LIST reference and pattern (RFC 3501 section 6.3.8).

    We have no break-out characters, so "the canonical form is normally the reference
    name appended with the mailbox name". A doubled delimiter at the junction (reference
    ``a/`` and pattern ``/b``) is collapsed, since empty levels cannot exist.
    """
    if reference.endswith(DELIMITER) and pattern.startswith(DELIMITER):
        pattern = pattern[1:]
    return normalize(reference + pattern)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a LIST pattern: ``*`` matches anything, ``%`` anything but ``/``."""
    parts: list[str] = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "%":
            parts.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def list_matcher(reference: str, pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a (normalised) mailbox name matches a LIST command's
    reference and pattern, per RFC 3501 section 6.3.8.

    The joined pattern is normalised like a name, so ``LIST "" inbox`` finds ``INBOX``;
    beyond that first component matching is case-sensitive, as names are.
    """
    regex = pattern_regex(join_reference(reference, pattern))

    def matches(name: str) -> bool:
        return regex.fullmatch(name) is not None

    return matches
