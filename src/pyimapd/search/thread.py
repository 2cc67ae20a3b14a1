"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 section 3, BASE.6.4.THREAD).

How this works: the session turns each searched message into a :class:`ThreadMessage`
(a few strings and numbers, never the message) in mailbox order; :func:`ordered_subject`
and :func:`references` return the threads as trees of :class:`ThreadNode`, the roots in
the order the THREAD response lists them. A node without a UID is a dummy: a parent
that is not among the searched messages. ``references`` follows the six numbered steps
of the RFC one function each. Every walk over a tree is iterative (an explicit stack),
because a long reply chain makes a tree as deep as the chain is long. Ties in sent date
fall back to mailbox order (section 2.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyimapd.mime.headers import skip_comment
from pyimapd.mime.model import Envelope, Part
from pyimapd.search.sort import sent_time
from pyimapd.search.subject import base_subject, casemap

MAX_REFERENCES = 256
"""Message IDs kept of one References field: the last ones (the parent is the last).
A bound on the memory a hostile header can take; real threads are far shallower."""


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """What threading needs of one message. ``subject`` is the i;unicode-casemap form
    of the base subject; ``refwd`` says whether extracting it removed a reply or
    forward marker; ``references`` are the parent candidates of section 4, oldest
    first (References, else the first Message ID of In-Reply-To)."""

    uid: int
    date: int
    subject: bytes
    refwd: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()


class ThreadNode:
    """A message of a thread (``uid`` set) or a dummy parent (``uid`` None)."""

    __slots__ = ("uid", "index", "parent", "children")

    def __init__(self, index: int | None = None, uid: int | None = None) -> None:
        self.index = index  # position in mailbox order, None for a dummy
        self.uid = uid
        self.parent: ThreadNode | None = None
        self.children: list[ThreadNode] = []

    def __repr__(self) -> str:
        return f"ThreadNode({self.uid}, {self.children!r})"


def thread_message(uid: int, root: Part | None, internaldate: datetime,
                   references_field: str | None) -> ThreadMessage:
    """A :class:`ThreadMessage` from the stored part tree and the raw References field."""
    env = (root.envelope if root is not None else None) or Envelope()
    base, refwd = base_subject(env.subject)
    refs = message_ids(references_field)[-MAX_REFERENCES:]
    if not refs:
        refs = message_ids(env.in_reply_to)[:1]
    ids = message_ids(env.message_id)
    return ThreadMessage(uid, sent_time(root, internaldate), casemap(base), refwd,
                         ids[0] if ids else None, tuple(refs))


# --- Message IDs -----------------------------------------------------------------------


def message_ids(value: str | None) -> list[str]:
    """The valid ``msg-id``s (RFC 5322 section 3.6.4) of a field, normalised: quoting
    and white space removed (``<"a b"@c>`` is ``<ab@c>``, as section 4 requires), and
    comments between them skipped. A valid ID has text on both sides of an ``@``."""
    out: list[str] = []
    if not value:
        return out
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "(":
            i = skip_comment(value, i)
        elif ch == "<":
            content, i = _angle(value, i + 1)
            if content is None:
                break
            left, at, right = content.rpartition("@")
            if at and left and right:
                out.append(f"<{content}>")
        else:
            i += 1
    return out


def _angle(text: str, i: int) -> tuple[str | None, int]:
    """The normalised text up to the closing ``>``, and the index after it."""
    out: list[str] = []
    quoted = False
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return "".join(out), i + 1
        elif quoted or ch not in " \t\r\n":
            out.append(ch)
        i += 1
    return None, i


# --- ORDEREDSUBJECT --------------------------------------------------------------------


def ordered_subject(messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """Sorted by base subject and sent date, split by base subject, threads ordered by
    the sent date of their first message; the second message of a thread is the child
    of the first and the later ones are its siblings (no grandchildren)."""
    order = sorted(range(len(messages)),
                   key=lambda i: (messages[i].subject, messages[i].date, i))
    groups: list[list[int]] = []
    for i in order:
        if groups and messages[groups[-1][0]].subject == messages[i].subject:
            groups[-1].append(i)
        else:
            groups.append([i])
    groups.sort(key=lambda g: (messages[g[0]].date, g[0]))
    roots = []
    for group in groups:
        root = ThreadNode(group[0], messages[group[0]].uid)
        for i in group[1:]:
            _link(root, ThreadNode(i, messages[i].uid))
        roots.append(root)
    return roots


# --- REFERENCES ------------------------------------------------------------------------


def references(messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """The REFERENCES algorithm, steps (1) to (6)."""
    nodes = _link_references(messages)
    roots = [node for node in nodes if node.parent is None]  # step (2)
    roots = _prune(roots)
    _sort_siblings(roots, messages)  # step (4), top level
    roots = _merge_subjects(roots, messages)
    _sort_siblings(roots, messages, everywhere=True)
    return roots


def _link(parent: ThreadNode, child: ThreadNode) -> None:
    child.parent = parent
    parent.children.append(child)


def _unlink(child: ThreadNode) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _would_loop(parent: ThreadNode, child: ThreadNode) -> bool:
    """Whether making ``parent`` the parent of ``child`` closes a loop: ``parent`` is
    ``child`` or one of its descendants."""
    node: ThreadNode | None = parent
    while node is not None:
        if node is child:
            return True
        node = node.parent
    return False


def _link_references(messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """Step (1): every node, messages and dummies, in the order they were made."""
    table: dict[str, ThreadNode] = {}
    nodes: list[ThreadNode] = []

    def by_id(message_id: str) -> ThreadNode:
        node = table.get(message_id)
        if node is None:
            node = table[message_id] = ThreadNode()
            nodes.append(node)
        return node

    for i, msg in enumerate(messages):
        known = table.get(msg.message_id) if msg.message_id is not None else None
        if msg.message_id is None or (known is not None and known.index is not None):
            node = ThreadNode()  # no ID, or a duplicate: a unique ID of its own
            nodes.append(node)
        else:
            node = by_id(msg.message_id)
        node.index, node.uid = i, msg.uid
        refs = [by_id(r) for r in msg.references]
        for parent, child in zip(refs, refs[1:], strict=False):  # step (1)(A)
            if child.parent is None and not _would_loop(parent, child):
                _link(parent, child)
        _unlink(node)  # step (1)(B)
        if refs and not _would_loop(refs[-1], node):
            _link(refs[-1], node)
    return nodes


def _preorder(roots: list[ThreadNode]) -> list[ThreadNode]:
    out: list[ThreadNode] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def _prune(roots: list[ThreadNode]) -> list[ThreadNode]:
    """Step (3): dummies without children go; a dummy's children take its place,
    except at the top level, where only a single child is promoted."""
    for node in reversed(_preorder(roots)):  # children before their parents
        node.children = _pruned(node, node.children, top=False)
    return _pruned(None, roots, top=True)


def _pruned(parent: ThreadNode | None, children: list[ThreadNode],
            top: bool) -> list[ThreadNode]:
    out: list[ThreadNode] = []
    for child in children:
        if child.uid is not None:
            out.append(child)
        elif child.children and (not top or len(child.children) == 1):
            for grandchild in child.children:
                grandchild.parent = parent
            out.extend(child.children)
        elif child.children:
            out.append(child)
    return out


def _date_key(node: ThreadNode, messages: Sequence[ThreadMessage]) -> tuple[int, int]:
    """Sent date, then mailbox order; a dummy sorts as its first child."""
    while node.index is None:
        node = node.children[0]
    return messages[node.index].date, node.index


def _sort_siblings(roots: list[ThreadNode], messages: Sequence[ThreadMessage],
                   everywhere: bool = False) -> None:
    """Steps (4) and (6): the top level; with ``everywhere``, every set of siblings,
    the deepest first so that a dummy's first child is known when it is sorted."""
    if everywhere:
        for node in reversed(_preorder(roots)):
            node.children.sort(key=lambda n: _date_key(n, messages))
    else:
        for node in roots:
            if node.uid is None:
                node.children.sort(key=lambda n: _date_key(n, messages))
    roots.sort(key=lambda n: _date_key(n, messages))


def _subject_of(node: ThreadNode, messages: Sequence[ThreadMessage]) -> bytes:
    """Step (5)(B)(i): the thread subject, a dummy's taken from its first child."""
    first = node if node.index is not None else node.children[0]
    return messages[first.index].subject if first.index is not None else b""


def _refwd(node: ThreadNode, messages: Sequence[ThreadMessage]) -> bool:
    return node.index is not None and messages[node.index].refwd


def _merge_subjects(roots: list[ThreadNode],
                    messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """Step (5): top-level threads with the same base subject are gathered."""
    table: dict[bytes, ThreadNode] = {}
    for node in roots:  # (B)
        subject = _subject_of(node, messages)
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (held.uid is not None and (
                node.uid is None or (_refwd(held, messages) and not _refwd(node, messages)))):
            table[subject] = node
    gone: set[ThreadNode] = set()
    replaced: dict[ThreadNode, ThreadNode] = {}
    for node in roots:  # (C)
        subject = _subject_of(node, messages)
        held = table.get(subject) if subject else None
        if held is None or held is node:
            continue
        gone.add(node)
        if held.uid is None and node.uid is None:
            for child in node.children:
                _link(held, child)
            node.children = []
        elif held.uid is None or (_refwd(node, messages) and not _refwd(held, messages)):
            _link(held, node)
        else:
            dummy = ThreadNode()
            replaced[held] = table[subject] = dummy
            _link(dummy, held)
            _link(dummy, node)
    return [replaced.get(node, node) for node in roots if node not in gone]
