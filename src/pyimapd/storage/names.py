"""Mailbox name rules shared by every backend and by the session's LIST.

How this works: names are Unicode strings (the protocol layer has already undone modified
UTF-7) with ``/`` as the only hierarchy delimiter. ``INBOX`` is special only as the first
component, where it is case-insensitive (RFC 3501 section 5.1), so every name is passed
through :func:`normalize` before it is looked up or stored. :func:`validate` refuses names
that would make the hierarchy ambiguous or the wire form awkward; it is used where a name
is *created* (CREATE, RENAME target, SUBSCRIBE), while lookups of odd names simply miss.
"""

from __future__ import annotations

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


def with_children(names: Iterable[str]) -> set[str]:
    """Every name that has a mailbox below it, in one pass over the names.

    Asking ``is_inferior`` of every pair is quadratic, which made each LIST against a
    thousand mailboxes cost a million comparisons; collecting every name's superiors
    costs only the names' lengths.
    """
    found: set[str] = set()
    for name in names:
        found.update(parents(name))
    return found


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


def _tokens(pattern: str) -> list[str]:
    """The pattern as one token per character, with each run of wildcards collapsed to one.

    A run holding a ``*`` matches exactly what ``*`` matches, and ``%%`` what ``%`` does,
    so collapsing changes no answer; it leaves no two wildcards side by side, which the
    matcher's one-step closure below relies on.
    """
    tokens: list[str] = []
    for ch in pattern:
        if ch in _WILDCARDS and tokens and tokens[-1] in _WILDCARDS:
            if ch == "*":
                tokens[-1] = "*"
            continue
        tokens.append(ch)
    return tokens


def _star_segments(text: str, segments: list[str]) -> bool:
    """Whether ``*seg1*seg2*...*`` matches ``text``: each segment at its leftmost place.

    Taking the leftmost occurrence of each segment in turn is always safe when only ``*``
    separates them (a later start can only leave less room for the rest), so this is a
    sequence of C-speed ``str.find`` calls with no backtracking at all.
    """
    position = 0
    for segment in segments:
        found = text.find(segment, position)
        if found < 0:
            return False
        position = found + len(segment)
    return True


def _nfa(tokens: list[str]) -> Callable[[str], bool]:
    """A bit-parallel simulation of the pattern's automaton (Shift-And, as in agrep).

    Bit ``i`` of the state says "the first ``i`` tokens have matched the text so far".
    Each character of a name costs a handful of big-integer operations whatever the
    pattern, so the time is linear in the name's length times the pattern's length over
    the machine word: no input can make it backtrack, unlike a regex of ``.*`` runs
    (issue: ``LIST "" "*a*a*a...aX"`` took seconds to forever that way).
    """
    literal: dict[str, int] = {}
    star = percent = 0
    for i, token in enumerate(tokens):
        if token == "*":
            star |= 1 << i
        elif token == "%":
            percent |= 1 << i
        else:
            literal[token] = literal.get(token, 0) | 1 << i
    wild = star | percent
    accept = 1 << len(tokens)
    start = 1 | (1 & wild) << 1

    def matches(text: str) -> bool:
        state = start
        for ch in text:
            keep = star if ch == DELIMITER else wild
            state = (state & literal.get(ch, 0)) << 1 | (state & keep)
            if not state:
                return False
            state |= (state & wild) << 1
        return bool(state & accept)

    return matches


def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate for a LIST pattern: ``*`` matches anything, ``%`` anything but ``/``.

    RFC 3501 section 6.3.8. The pattern is the client's, so its cost must not be: the
    literal head and tail are compared directly, a middle with only ``*`` is a run of
    leftmost finds, and anything else goes through the bit-parallel automaton. Every path
    is linear in the name (times the pattern's length in machine words for the last, and
    a pattern with more literals than the name has characters is refused at once).
    """
    tokens = _tokens(pattern)
    wildcards = sum(1 for t in tokens if t in _WILDCARDS)
    if not wildcards:
        return pattern.__eq__
    first = next(i for i, t in enumerate(tokens) if t in _WILDCARDS)
    last = max(i for i, t in enumerate(tokens) if t in _WILDCARDS)
    head = "".join(tokens[:first])
    tail = "".join(tokens[last + 1:])
    middle = tokens[first:last + 1]
    # Each literal consumes one character, so a name shorter than the literals cannot
    # match: the automaton only ever runs with at most 2 * MAX_NAME_LENGTH + 1 tokens.
    literals = len(tokens) - wildcards
    if "%" not in middle:
        segments = [s for s in "".join(middle).split("*") if s]
        inner: Callable[[str], bool] = lambda text: _star_segments(text, segments)  # noqa: E731
    else:
        inner = _nfa(middle)

    def matches(name: str) -> bool:
        if len(name) < literals or not name.startswith(head) or not name.endswith(tail):
            return False
        return inner(name[len(head):len(name) - len(tail)])

    return matches


def list_matcher(reference: str, pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a (normalised) mailbox name matches a LIST command's
    reference and pattern, per RFC 3501 section 6.3.8.

    The joined pattern is normalised like a name, so ``LIST "" inbox`` finds ``INBOX``;
    beyond that first component matching is case-sensitive, as names are.
    """
    return pattern_matcher(join_reference(reference, pattern))
