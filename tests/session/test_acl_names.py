"""Issue 18, acceptance 1: name tricks reach nothing of another user's. Bob shares only
``Public`` (``lr``) with alice; whatever name alice tries, bob's INBOX and ``Secret``
neither open nor show, and bob's account is left as it was."""

from __future__ import annotations

import pytest

from harness import Client, Harness
from session.test_acl import USERS, append, shared  # noqa: F401 - the fixture

SECRET_SUBJECT = b"bill"  # the subject of test_acl's MESSAGE, which bob has in INBOX

TRICKS = [
    "../bob", "../bob/INBOX", "~bob", "~bob/INBOX", "~bob/Secret", "/bob/INBOX",
    "bob/INBOX", "Other Users/bob/../..", "Other Users/bob/../bob/Secret",
    "Other Users/bob/./Secret", "Other Users/bob//Secret", "Other Users/bob/Public/../Secret",
    "Other Users/bob/inbox", "Other Users/bob/Inbox", "Other Users/bob/INBOX",
    "Other Users/bob/INBOX/", "Other Users/bob/Secret", "Other Users/bob/secret",
    "OTHER USERS/bob/INBOX", "other users/bob/INBOX", "Other Users/BOB/INBOX",
    "Other Users//bob/INBOX", "Other Users/bob", "Other Users", "Other Users/",
    "Other Users/*/INBOX", "Other Users/%/INBOX", "Other Users/bob/*", "Other Users/bob/%",
    "Shared/../Other Users/bob/INBOX", "Shared/bob/INBOX", "Other Users/alice/../bob/INBOX",
]
"""Names as alice types them (UTF-8; the modified UTF-7 spellings come separately)."""

UTF7_TRICKS = [
    "Other&ACA-Users/bob/INBOX", "&AE8-ther Users/bob/INBOX", "Other Users&AC8-bob&AC8-INBOX",
    "Other Users/bob&AC8-Secret", "Other Users/&AGI-ob/INBOX", "Other&ACA-Users/bob/Secret",
]
"""Spellings of the prefix, owner and delimiter with encoded ASCII characters, which
modified UTF-7 (RFC 3501 section 5.1.3) does not allow: refused or taken literally,
never a way around the ACL."""

PATTERNS = [
    ("", "*"), ("", "%"), ("", "Other Users/*"), ("", "Other Users/%"),
    ("", "Other Users/%/%"), ("", "Other Users/bob/*"), ("", "*/INBOX"), ("", "%/%/INBOX"),
    ("", "*Secret*"), ("", "%/%/%"), ("Other Users/bob/", "*"), ("Other Users/", "*"),
    ("~bob", "*"), ("", "~bob/*"), ("../bob", "*"), ("", "../bob/*"), ("", "Other Users/b*"),
    ("", "Other Users/bob/I%"), ("", "O*/b*/I*"), ("", "*/*/*"),
]


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _bob(h: Harness) -> Client:
    bob = await h.connect(("bob", "b"))
    assert b"a OK" in await append(bob, "a", "INBOX")
    assert b"b OK" in await bob.command("b CREATE Secret")
    assert b"c OK" in await append(bob, "c", "Secret")
    assert b"d OK" in await bob.command("d CREATE Public")
    assert b"e OK" in await bob.command("e SETACL Public alice lr")
    return bob


def _no_leak(out: bytes, name: str = "") -> None:
    """Nothing of bob's in ``out`` beyond the name alice typed, which error texts echo
    (the same text as for a missing mailbox), and no existence hint."""
    if name:
        out = out.replace(name.encode(), b"")
    assert b"Secret" not in out and b"Other Users/bob/INBOX" not in out, out
    assert SECRET_SUBJECT not in out and b"EXISTS" not in out, out
    assert b"ALREADYEXISTS" not in out, out


async def _try_name(h: Harness, name: str) -> None:
    """On a connection of its own: names the parser refuses count as bad commands."""
    alice = await h.connect(("alice", "a"))
    q = _quoted(name)
    for tag, cmd in (
        ("s", f"SELECT {q}"), ("e", f"EXAMINE {q}"), ("t", f"STATUS {q} (MESSAGES UNSEEN)"),
        ("g", f"GETACL {q}"), ("m", f"MYRIGHTS {q}"), ("l", f"LISTRIGHTS {q} alice"),
        ("a", f"SETACL {q} alice lrswipkxtea"), ("d", f"DELETE {q}"),
        ("r", f"RENAME {q} Stolen"), ("c", f"CREATE {q}/x"),
    ):
        out = await alice.command(f"{tag} {cmd}")
        assert not out.startswith(f"{tag} OK".encode()) or cmd.startswith("CREATE"), (name, out)
        _no_leak(out, name)
    out = await append(alice, "p", q)
    _no_leak(out, name)
    await alice.command("u SELECT INBOX")
    out = await alice.command(f"v COPY 1 {q}")
    _no_leak(out, name)
    await alice.command("w CLOSE")


async def test_name_tricks_find_nothing(shared: Harness) -> None:  # noqa: F811
    bob = await _bob(shared)
    alice = await shared.connect(("alice", "a"))
    await append(alice, "z", "INBOX")
    for name in TRICKS + UTF7_TRICKS:
        await _try_name(shared, name)
    alice = await shared.connect(("alice", "a"))
    for reference, pattern in PATTERNS:
        out = await alice.command(f"L LIST {_quoted(reference)} {_quoted(pattern)}")
        _no_leak(out)
        out = await alice.command(
            f"X LIST (SUBSCRIBED RECURSIVEMATCH) {_quoted(reference)} {_quoted(pattern)}"
            " RETURN (CHILDREN STATUS (MESSAGES))")
        _no_leak(out)
    out = await alice.command('P LIST "" "Other Users/bob/*"')
    assert out == (b'* LIST (\\HasNoChildren) "/" "Other Users/bob/Public"\r\n'
                   b"P OK LIST completed\r\n"), out
    # Bob's account is as it was: nothing created, renamed, deleted or shared.
    out = await bob.command('q LIST "" "*"')
    assert b"Stolen" not in out and b"/x" not in out and b" Secret\r\n" in out, out
    assert await bob.command("r GETACL Secret") == (
        b"* ACL Secret bob lrswipkxteacd\r\nr OK GETACL completed\r\n")
    assert b"MESSAGES 1" in await bob.command("s STATUS INBOX (MESSAGES)")


@pytest.mark.parametrize(
    "name", ["Other Users/bob/Public/../../bob/INBOX", "Other Users/bob/Public/*"])
async def test_shared_folder_is_no_stepping_stone(shared: Harness, name: str) -> None:  # noqa: F811
    """Rights on Public give nothing below or beside it."""
    await _bob(shared)
    alice = await shared.connect(("alice", "a"))
    await append(alice, "z", "INBOX")
    assert b"e OK" in await alice.command('e EXAMINE "Other Users/bob/Public"')
    await _try_name(shared, name)
