"""METADATA (RFC 5464) on every backend: entries set, read and removed, /private per
user and /shared per mailbox between two users sharing a mailbox by SETACL, the rights
of section 3.3, the limits of section 4.3, DEPTH and MAXSIZE, and what RENAME and
DELETE do to a mailbox's entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harness import Client, Harness
from pyimapd.storage.metadata import MetadataSettings

USERS = {"alice": "a", "bob": "b"}
BILLS = '"Other Users/alice/Bills"'


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def h(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path, request.param)
    harness.backend.metadata = MetadataSettings(
        max_size=1024, max_entries=10, admin="mailto:postmaster@example.com")
    await harness.start(USERS)
    yield harness
    await harness.close()


async def expect(c: Client, command: str, start: bytes) -> bytes:
    """Sends ``command`` and checks how the answer begins."""
    out = await c.command(command)
    assert out.startswith(start), out
    return out


async def shared_bills(h: Harness, bob_rights: str) -> tuple[Client, Client]:
    alice = await h.connect(("alice", "a"))
    assert b"c OK" in await alice.command("c CREATE Bills")
    if bob_rights:
        assert b"s OK" in await alice.command(f"s SETACL Bills bob {bob_rights}")
    return alice, await h.connect(("bob", "b"))


async def test_set_get_delete(h: Harness) -> None:
    alice = await h.connect(("alice", "a"))
    await expect(alice, 'a SETMETADATA INBOX (/private/comment "My own comment"'
                 ' /shared/Comment {5+}\r\nhello)', b"a OK")
    await expect(alice, "b GETMETADATA INBOX (/shared/comment /private/comment)",
                 b'* METADATA INBOX (/shared/comment "hello" /private/comment'
                 b' "My own comment")\r\nb OK GETMETADATA completed\r\n')
    await expect(alice, "c SETMETADATA INBOX (/private/comment NIL)", b"c OK")
    await expect(alice, "d GETMETADATA INBOX /private/comment", b"d OK")
    # Removing what is not there is no error.
    await expect(alice, "e SETMETADATA INBOX (/private/nothing NIL)", b"e OK")
    await expect(alice, "f GETMETADATA Nowhere /shared/comment", b"f NO [NONEXISTENT]")


async def test_binary_value_round_trip(h: Harness) -> None:
    alice = await h.connect(("alice", "a"))
    await expect(alice, "a SETMETADATA INBOX (/private/vendor/x/blob ~{3+}\r\na\x00b)", b"a OK")
    await expect(alice, "b GETMETADATA INBOX /private/vendor/x/blob",
                 b"* METADATA INBOX (/private/vendor/x/blob ~{3}\r\na\x00b)")


async def test_private_and_shared_between_users(h: Harness) -> None:
    alice, bob = await shared_bills(h, "lrw")
    await expect(alice, 'a SETMETADATA Bills (/private/comment "alice only"'
                 ' /shared/comment "for all")', b"a OK")
    await expect(bob, f"b GETMETADATA {BILLS} (/private/comment /shared/comment)",
                 b'* METADATA "Other Users/alice/Bills" (/shared/comment "for all")\r\nb OK')
    await expect(bob, f'c SETMETADATA {BILLS} (/private/comment "bob only"'
                 ' /shared/comment "changed")', b"c OK")
    await expect(alice, "d GETMETADATA Bills (/private/comment /shared/comment)",
                 b'* METADATA Bills (/private/comment "alice only" /shared/comment "changed")')
    await expect(bob, f"e GETMETADATA {BILLS} /private/comment",
                 b'* METADATA "Other Users/alice/Bills" (/private/comment "bob only")')


async def test_rights(h: Harness) -> None:
    """Section 3.3: l and one of r s w i p; /shared needs r to read, w to write."""
    alice, bob = await shared_bills(h, "")
    await expect(alice, 'a SETMETADATA Bills (/shared/comment "x")', b"a OK")
    # No l: the mailbox does not exist for bob.
    await expect(bob, f"b GETMETADATA {BILLS} /shared/comment", b"b NO [NONEXISTENT]")
    await expect(alice, "c SETACL Bills bob l", b"c OK")
    await expect(bob, f"d GETMETADATA {BILLS} /private/comment", b"d NO [NOPERM]")
    await expect(bob, f'e SETMETADATA {BILLS} (/private/comment "p")', b"e NO [NOPERM]")
    await expect(alice, "f SETACL Bills bob li", b"f OK")
    await expect(bob, f'g SETMETADATA {BILLS} (/private/comment "p")', b"g OK")
    await expect(bob, f"h GETMETADATA {BILLS} /shared/comment", b"h NO [NOPERM]")
    await expect(alice, "i SETACL Bills bob lr", b"i OK")
    await expect(bob, f"j GETMETADATA {BILLS} /shared/comment",
                 b'* METADATA "Other Users/alice/Bills" (/shared/comment "x")')
    await expect(bob, f'k SETMETADATA {BILLS} (/shared/comment "y")', b"k NO [NOPERM]")
    await expect(bob, f'l SETMETADATA {BILLS} (/private/a "1" /shared/comment "y")',
                 b"l NO [NOPERM]")
    # Nothing of the refused command was set.
    await expect(bob, f"m GETMETADATA {BILLS} /private/a", b"m OK")


async def test_server_entries(h: Harness) -> None:
    admin = b'* METADATA "" (/shared/admin "mailto:postmaster@example.com")\r\n'
    alice = await h.connect(("alice", "a"))
    await expect(alice, 'a GETMETADATA "" (/shared/admin /shared/comment)', admin)
    await expect(alice, 'b SETMETADATA "" (/shared/comment "mine")', b"b NO [NOPERM]")
    await expect(alice, 'c SETMETADATA "" (/shared/admin "mailto:me@example.com")',
                 b"c NO [NOPERM]")
    await expect(alice, 'd SETMETADATA "" (/private/vendor/a/b "v")', b"d OK")
    bob = await h.connect(("bob", "b"))
    await expect(bob, 'e GETMETADATA "" (DEPTH infinity) (/private /shared)', admin + b"e OK")
    await expect(alice, 'f GETMETADATA "" (DEPTH infinity) /private',
                 b'* METADATA "" (/private/vendor/a/b "v")')


async def test_limits(h: Harness) -> None:
    alice = await h.connect(("alice", "a"))
    big = "x" * 1025
    await expect(alice, f"a SETMETADATA INBOX (/private/big {{1025+}}\r\n{big})",
                 b"a NO [METADATA MAXSIZE 1024]")
    pairs = " ".join(f'/shared/e{i} "{i}"' for i in range(10))
    await expect(alice, f"b SETMETADATA INBOX ({pairs})", b"b OK")
    await expect(alice, 'c SETMETADATA INBOX (/shared/e10 "10" /private/p "p")',
                 b"c NO [METADATA TOOMANY]")
    # All or nothing (section 4.3): /private/p was not set.
    await expect(alice, "d GETMETADATA INBOX /private/p", b"d OK")
    # Replacing and removing within the limit, and the /private scope counts apart.
    await expect(alice, 'e SETMETADATA INBOX (/shared/e0 NIL /shared/e10 "")', b"e OK")
    await expect(alice, 'f SETMETADATA INBOX (/private/p "p")', b"f OK")


async def test_depth_and_maxsize(h: Harness) -> None:
    alice = await h.connect(("alice", "a"))
    await expect(alice, 'a SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000"'
                 ' /private/filters/values/boss "FROM \\"boss@example.com\\""'
                 ' /private/filters/values/boss/deep "d" /shared/comment {30+}\r\n'
                 + "c" * 30 + ")", b"a OK")
    await expect(alice, "b GETMETADATA INBOX (DEPTH 1) (/private/filters/values)",
                 b'* METADATA INBOX (/private/filters/values/boss "FROM \\"boss@example.com'
                 b'\\"" /private/filters/values/small "SMALLER 5000")\r\n'
                 b"b OK GETMETADATA completed\r\n")
    out = await expect(alice, "c GETMETADATA INBOX (DEPTH infinity) /private/filters", b"*")
    assert b"/private/filters/values/boss/deep" in out, out
    await expect(alice, "d GETMETADATA INBOX /private/filters", b"d OK")
    await expect(alice, "e GETMETADATA INBOX (MAXSIZE 20) (/shared/comment"
                 " /private/filters/values/small)",
                 b'* METADATA INBOX (/private/filters/values/small "SMALLER 5000")\r\n'
                 b"e OK [METADATA LONGENTRIES 30] GETMETADATA completed\r\n")
    # The options before the mailbox, where section 5's syntax has them.
    await expect(alice, "f GETMETADATA (MAXSIZE 20) INBOX /shared/comment",
                 b"f OK [METADATA LONGENTRIES 30] GETMETADATA completed\r\n")


async def test_rename_keeps_delete_drops(h: Harness) -> None:
    alice = await h.connect(("alice", "a"))
    await expect(alice, "a CREATE Old/Child", b"a OK")
    await expect(alice, 'b SETMETADATA Old (/shared/comment "kept")', b"b OK")
    await expect(alice, "c RENAME Old New", b"c OK")
    await expect(alice, "d GETMETADATA New /shared/comment",
                 b'* METADATA New (/shared/comment "kept")')
    await expect(alice, "e DELETE New", b"e OK")  # kept as \Noselect for New/Child
    await expect(alice, "g GETMETADATA New /shared/comment", b"g OK")
    await expect(alice, 'h SETMETADATA Gone (/shared/comment "x")', b"h NO [NONEXISTENT]")
    await expect(alice, "i CREATE Solo", b"i OK")
    await expect(alice, 'j SETMETADATA Solo (/private/comment "x")', b"j OK")
    await expect(alice, "k DELETE Solo", b"k OK")
    await expect(alice, "l CREATE Solo", b"l OK")
    await expect(alice, "m GETMETADATA Solo /private/comment", b"m OK")


@pytest.mark.parametrize("entry", ["/comment", "/private//x", "/shared/x/", "/shared/*",
                                   "/shared/a%", "/other/x", '"/shared/\xe9"'])
async def test_bad_entry_names(h: Harness, entry: str) -> None:
    alice = await h.connect(("alice", "a"))
    await expect(alice, f'a SETMETADATA INBOX ({entry} "v")', b"a BAD")
    await expect(alice, f"b GETMETADATA INBOX {entry}", b"b BAD")
