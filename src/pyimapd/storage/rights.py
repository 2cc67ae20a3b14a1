"""RFC 4314 access rights: parsing, the virtual ``c`` and ``d``, and a user's effective
rights from a mailbox's access control list.

How this works: a rights set is a string of right letters kept in the canonical order
:data:`ALL` (``lrswipkxtea``); the store keeps only these letters. The obsolete rights
of RFC 2086 are macros (RFC 4314 section 2.1.1, the "former group" of servers): ``c``
is ``k`` and ``x``, ``d`` is ``e`` and ``t``. DELETE is governed by ``x`` alone, as
section 4 says. In ACL and MYRIGHTS responses ``c`` is added when any of ``k x`` is
present and ``d`` when any of ``e t`` is (section 2.1.1's rule for older clients).

An ACL maps identifiers to rights. An identifier is a user name, ``anyone``, or a
negative identifier ``-name`` / ``-anyone`` whose rights are taken away (section 2).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyimapd.storage.records import StorageError

ALL = "lrswipkxtea"
"""Every right this server implements, in canonical order."""

CREATE_MACRO = "kx"
"""What ``c`` stands for (RFC 4314 section 2.1.1)."""
DELETE_MACRO = "et"
"""What ``d`` stands for; ``x`` stays its own right (DELETE of the mailbox)."""

ANYONE = "anyone"

EXTRA_RIGHTS = "texk"
"""The RIGHTS= capability's letters (section 5.1.1: must include t, e, x and k)."""

WRITE_RIGHTS = frozenset("iewst")
"""Section 5.2: with none of these (``i``, ``e`` and the shared flag rights ``w s t``)
SELECT is READ-ONLY."""


class BadRights(StorageError):
    """An unknown right or identifier: the session answers BAD (section 3.1)."""

    code = None


def canonical(letters: str) -> str:
    """``letters`` (real rights only) in canonical order, each once."""
    present = set(letters)
    return "".join(r for r in ALL if r in present)


def parse(text: str) -> str:
    """A rights string from a client, macros expanded; raises BadRights for a letter
    that is not a right (uppercase ones included: "Uppercase rights are not allowed")."""
    out = set()
    for ch in text:
        if ch == "c":
            out.update(CREATE_MACRO)
        elif ch == "d":
            out.update(DELETE_MACRO)
        elif ch in ALL:
            out.add(ch)
        elif ch.isupper():
            raise BadRights("Uppercase rights are not allowed")
        else:
            raise BadRights(f"The {ch} right is not supported")
    return canonical("".join(out))


def modify(current: str, mod: str) -> str:
    """SETACL's third argument applied to ``current``: ``+rights`` adds, ``-rights``
    removes, anything else replaces (section 3.1). An empty result removes the entry."""
    if mod.startswith("+"):
        return canonical(current + parse(mod[1:]))
    if mod.startswith("-"):
        gone = set(parse(mod[1:]))
        return "".join(r for r in current if r not in gone)
    return parse(mod)


def display(rights: str) -> str:
    """``rights`` as ACL and MYRIGHTS show them: with ``c`` and ``d`` (section 2.1.1)."""
    extra = ""
    if set(rights) & set(CREATE_MACRO):
        extra += "c"
    if set(rights) & set(DELETE_MACRO):
        extra += "d"
    return rights + extra


def check_identifier(identifier: str) -> str:
    """Section 3: an empty identifier (or a bare ``-``) is refused with BAD. Identifiers
    are user names here, matched exactly as stored."""
    name = identifier[1:] if identifier.startswith("-") else identifier
    if not name or any(ord(ch) < 0x20 or ch == "\x7f" for ch in identifier):
        raise BadRights("Invalid identifier")
    return identifier


def effective(acl: Mapping[str, str], user: str) -> str:
    """The rights ``user`` has from ``acl``: what ``user`` and ``anyone`` are granted,
    less what ``-user`` and ``-anyone`` take away (section 2)."""
    granted = set(acl.get(user, "")) | set(acl.get(ANYONE, ""))
    denied = set(acl.get("-" + user, "")) | set(acl.get("-" + ANYONE, ""))
    return canonical("".join(granted - denied))


def relevant(user: str) -> tuple[str, ...]:
    """The identifiers whose entries can change ``user``'s rights."""
    return (user, ANYONE, "-" + user, "-" + ANYONE)
