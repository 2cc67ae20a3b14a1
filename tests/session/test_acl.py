"""The RFC 4314 rights matrix on every backend: for each right and the commands it
governs (section 4), bob succeeds with it and gets the RFC's answer without it, on
alice's mailbox ``Bills`` reached as ``Other Users/alice/Bills``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from harness import Client, Harness
from pyimapd.storage.sharing import Namespaces

USERS = {"alice": "a", "bob": "b", "carol": "c", "public": "p"}
BILLS = '"Other Users/alice/Bills"'
MESSAGE = "Subject: bill\r\n\r\nPay me.\r\n"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def shared(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    h = Harness(tmp_path, request.param)
    h.backend.namespaces = Namespaces(shared_owner="public")
    await h.start(USERS)
    yield h
    await h.close()


async def append(c: Client, tag: str, mailbox: str, flags: str = "") -> bytes:
    c.send(f"{tag} APPEND {mailbox} ({flags}) {{{len(MESSAGE)}+}}\r\n{MESSAGE}\r\n")
    return await c.read_until(rb"^" + tag.encode() + rb" .*\r\n")


async def setup(h: Harness, bob_rights: str) -> tuple[Client, Client]:
    """Alice's Bills with one message (flagged \\Answered) and bob's rights set; both
    logged in."""
    alice = await h.connect(("alice", "a"))
    assert b"c OK" in await alice.command("c CREATE Bills")
    assert b"a OK" in await append(alice, "a", "Bills", "\\Answered")
    if bob_rights:
        assert b"s OK" in await alice.command(f"s SETACL Bills bob {bob_rights}")
    bob = await h.connect(("bob", "b"))
    return alice, bob


async def flags_of(alice: Client, mailbox: str = "Bills") -> bytes:
    await alice.command(f"x EXAMINE {mailbox}")
    out = await alice.command("y FETCH 1 (FLAGS)")
    await alice.command("z CLOSE")
    return out


Check = Callable[[Harness, bool], Awaitable[None]]


async def check_l(h: Harness, granted: bool) -> None:
    _, bob = await setup(h, "lr" if granted else "r")
    out = await bob.command('a LIST "" "Other Users/*"')
    assert (b'"Other Users/alice/Bills"' in out) is granted, out
    out = await bob.command('b LIST "" "*"')
    assert (b"Other Users/alice/Bills" in out) is granted, out
    # r without l: SELECT still works (section 4 asks r only), MYRIGHTS too.
    assert b"c OK" in await bob.command(f"c EXAMINE {BILLS}")


async def check_r(h: Harness, granted: bool) -> None:
    _, bob = await setup(h, "lr" if granted else "l")
    for tag, verb in (("a", "SELECT"), ("b", "EXAMINE"), ("c", "STATUS")):
        tail = " (MESSAGES)" if verb == "STATUS" else ""
        out = await bob.command(f"{tag} {verb} {BILLS}{tail}")
        if granted:
            assert f"{tag} OK".encode() in out, out
        else:
            assert out.startswith(f"{tag} NO [NOPERM] ".encode()), out


async def _store_check(h: Harness, right: str, flag: str, granted: bool) -> None:
    alice, bob = await setup(h, "lri" + (right if granted else ""))
    out = await bob.command(f"a SELECT {BILLS}")
    assert b"a OK [READ-WRITE]" in out, out
    out = await bob.command(f"b STORE 1 +FLAGS ({flag})")
    assert b"b OK" in out, out  # section 4: STORE does not fail, the flag is dropped
    assert (flag.encode() in await flags_of(alice)) is granted


async def check_s(h: Harness, granted: bool) -> None:
    await _store_check(h, "s", "\\Seen", granted)
    # FETCH BODY[] sets \Seen only with s (section 4).
    alice = await h.connect(("alice", "a"))
    await alice.command("a SELECT Bills")
    assert b"b OK" in await alice.command("b STORE 1 -FLAGS (\\Seen)")
    await alice.command("c CLOSE")
    bob = await h.connect(("bob", "b"))
    await bob.command(f"b SELECT {BILLS}")
    assert b"c OK" in await bob.command("c FETCH 1 BODY[]")
    assert (b"\\Seen" in await flags_of(alice)) is granted


async def check_w(h: Harness, granted: bool) -> None:
    await _store_check(h, "w", "\\Flagged", granted)


async def check_t(h: Harness, granted: bool) -> None:
    await _store_check(h, "t", "\\Deleted", granted)


async def check_i(h: Harness, granted: bool) -> None:
    alice, bob = await setup(h, "lrs" + ("i" if granted else ""))
    out = await append(bob, "a", BILLS, "\\Seen \\Flagged")
    if granted:
        assert b"a OK [APPENDUID" in out, out
        # section 4: flags bob may not set (w: \Flagged) are dropped, \Seen (s) kept.
        await alice.command("x EXAMINE Bills")
        out = await alice.command("y FETCH 2 (FLAGS)")
        assert b"\\Seen" in out and b"\\Flagged" not in out, out
        await alice.command("z CLOSE")
    else:
        assert out.startswith(b"a NO [NOPERM] "), out
    await append(bob, "b", "INBOX")
    await bob.command("c SELECT INBOX")
    out = await bob.command(f"d COPY 1 {BILLS}")
    assert (b"d OK [COPYUID" in out) if granted else out.startswith(b"d NO [NOPERM] "), out


async def check_k(h: Harness, granted: bool) -> None:
    _, bob = await setup(h, "lr" + ("k" if granted else ""))
    out = await bob.command('a CREATE "Other Users/alice/Bills/2024"')
    assert (b"a OK" in out) if granted else out.startswith(b"a NO [NOPERM] "), out
    if granted:  # section 4: the new mailbox inherits the parent's ACL, so bob sees it
        out = await bob.command('b LIST "" "Other Users/alice/Bills/*"')
        assert b"Other Users/alice/Bills/2024" in out, out


async def check_x(h: Harness, granted: bool) -> None:
    alice, bob = await setup(h, "lr")
    await alice.command("c CREATE Bills/Old")
    await alice.command("d SETACL Bills/Old bob " + ("lrx" if granted else "lr"))
    old, new = '"Other Users/alice/Bills/Old"', '"Other Users/alice/Bills/Older"'
    # RENAME needs k on the new parent as well: bob has no k on Bills yet.
    assert (await bob.command(f"a RENAME {old} {new}")).startswith(b"a NO [NOPERM] ")
    await alice.command("e SETACL Bills bob +k")
    out = await bob.command(f"b RENAME {old} {new}")
    assert (b"b OK" in out) if granted else out.startswith(b"b NO [NOPERM] "), out
    out = await bob.command(f"f DELETE {new if granted else old}")
    assert (b"f OK" in out) if granted else out.startswith(b"f NO [NOPERM] "), out


async def check_e(h: Harness, granted: bool) -> None:
    alice, bob = await setup(h, "lrt" + ("e" if granted else ""))
    await bob.command(f"a SELECT {BILLS}")
    await bob.command("b STORE 1 +FLAGS (\\Deleted)")
    out = await bob.command("c EXPUNGE")
    assert (b"* 1 EXPUNGE" in out) if granted else out.startswith(b"c NO [NOPERM] "), out
    # Without e, CLOSE closes with OK and expunges nothing (section 4).
    assert b"d OK" in await bob.command("d CLOSE")
    st = await alice.command("s STATUS Bills (MESSAGES)")
    assert (b"MESSAGES 0" if granted else b"MESSAGES 1") in st, st


async def check_a(h: Harness, granted: bool) -> None:
    _, bob = await setup(h, "lr" + ("a" if granted else ""))
    for tag, cmd in (("a", f"GETACL {BILLS}"), ("b", f"SETACL {BILLS} carol lr"),
                     ("c", f"LISTRIGHTS {BILLS} carol"), ("d", f"DELETEACL {BILLS} carol")):
        out = await bob.command(f"{tag} {cmd}")
        assert (f"{tag} OK".encode() in out) if granted else out.startswith(
            f"{tag} NO [NOPERM] ".encode()), out
    out = await bob.command(f"e MYRIGHTS {BILLS}")
    assert out == (b'* MYRIGHTS "Other Users/alice/Bills" ' + (b"lra" if granted else b"lr")
                   + b"\r\ne OK MYRIGHTS completed\r\n"), out


CHECKS: dict[str, Check] = {
    "l": check_l, "r": check_r, "s": check_s, "w": check_w, "t": check_t, "i": check_i,
    "k": check_k, "x": check_x, "e": check_e, "a": check_a,
}
"""``p`` (post) governs no IMAP command: it is stored and shown, nothing more."""


@pytest.mark.parametrize("granted", [True, False], ids=["with", "without"])
@pytest.mark.parametrize("right", sorted(CHECKS))
async def test_rights_matrix(shared: Harness, right: str, granted: bool) -> None:
    await CHECKS[right](shared, granted)


async def test_no_rights_is_nonexistent(shared: Harness) -> None:
    """Section 6: without l, every command answers as for a missing mailbox."""
    _, bob = await setup(shared, "")
    missing = '"Other Users/alice/Nothing"'
    for mailbox in (BILLS, missing):
        for tag, cmd in (("a", "SELECT {m}"), ("b", "STATUS {m} (MESSAGES)"),
                         ("c", "GETACL {m}"), ("d", "MYRIGHTS {m}"), ("e", "DELETE {m}"),
                         ("f", "LISTRIGHTS {m} bob"), ("g", "SETACL {m} bob lr")):
            out = await bob.command(f"{tag} " + cmd.format(m=mailbox))
            shown = mailbox.strip('"')
            assert out == f"{tag} NO [NONEXISTENT] Mailbox {shown} does not exist\r\n".encode(), out
    out = await append(bob, "h", BILLS)
    assert out.startswith(b"h NO [TRYCREATE] "), out
    out = await bob.command('i LIST "" "*"')
    assert b"alice" not in out, out


async def test_setacl_modifiers_and_macros(shared: Harness) -> None:
    """Section 3.1's example: ``+cda`` adds k x e t a; c and d are shown (2.1.1)."""
    alice, _ = await setup(shared, "")
    assert b"a OK" in await alice.command("a SETACL Bills bob lrswi")
    assert b"b OK" in await alice.command("b SETACL Bills bob +cda")
    assert await alice.command("c GETACL Bills") == (
        b"* ACL Bills alice lrswipkxteacd bob lrswikxteacd\r\nc OK GETACL completed\r\n")
    assert b"d OK" in await alice.command("d SETACL Bills bob -wd")
    out = await alice.command("e GETACL Bills")
    assert b" bob lrsikxac\r\n" in out, out
    out = await alice.command("f SETACL Bills bob lrQs")
    assert out == b"f BAD Uppercase rights are not allowed\r\n", out
    out = await alice.command("g SETACL Bills bob lrqs")
    assert out == b"g BAD The q right is not supported\r\n", out
    assert b"h OK" in await alice.command('h SETACL Bills bob ""')  # empty: removed
    assert await alice.command("i GETACL Bills") == (
        b"* ACL Bills alice lrswipkxteacd\r\ni OK GETACL completed\r\n")
    out = await alice.command("j SETACL Bills alice lr")
    assert out.startswith(b"j NO [CANNOT] "), out
    assert await alice.command("k LISTRIGHTS Bills bob") == (
        b'* LISTRIGHTS Bills bob "" l r s w i p k x t e a c d\r\n'
        b"k OK LISTRIGHTS completed\r\n")
    assert await alice.command("l LISTRIGHTS Bills alice") == (
        b"* LISTRIGHTS Bills alice lrswipkxteacd\r\nl OK LISTRIGHTS completed\r\n")


async def test_anyone_and_negative_rights(shared: Harness) -> None:
    alice, bob = await setup(shared, "")
    assert b"a OK" in await alice.command("a SETACL Bills anyone lr")
    assert b"b OK" in await alice.command("b SETACL Bills -bob r")
    carol = await shared.connect(("carol", "c"))
    assert b"* MYRIGHTS" in await carol.command(f"c MYRIGHTS {BILLS}")
    assert b"c OK" in await carol.command(f"c EXAMINE {BILLS}")
    out = await bob.command(f"d EXAMINE {BILLS}")
    assert out.startswith(b"d NO [NOPERM] "), out
    assert await bob.command(f"e MYRIGHTS {BILLS}") == (
        b'* MYRIGHTS "Other Users/alice/Bills" l\r\ne OK MYRIGHTS completed\r\n')


async def test_read_only_without_write_rights(shared: Harness) -> None:
    """Section 5.2: with none of i e w s t, SELECT is READ-ONLY."""
    _, bob = await setup(shared, "lr")
    out = await bob.command(f"a SELECT {BILLS}")
    assert b"a OK [READ-ONLY]" in out, out
    out = await bob.command("b STORE 1 +FLAGS (\\Seen)")
    assert out.startswith(b"b NO "), out


async def test_store_replace_keeps_forbidden_classes(shared: Harness) -> None:
    """STORE FLAGS with only s: \\Answered (w) stays, \\Seen is set."""
    alice, bob = await setup(shared, "lrs")
    out = await bob.command(f"a SELECT {BILLS}")
    assert b"* OK [PERMANENTFLAGS (\\Seen)] " in out, out  # section 5.1.1
    out = await bob.command("b STORE 1 FLAGS (\\Seen)")
    assert b"b OK" in out, out
    out = await flags_of(alice)
    assert b"\\Answered" in out and b"\\Seen" in out, out


async def test_cross_account_copy_and_move(shared: Harness) -> None:
    """COPY from bob's INBOX into alice's Bills, and MOVE back out of it: the message
    is re-appended in the other account, whose owner sees it."""
    alice, bob = await setup(shared, "lrswite")
    await append(bob, "a", "INBOX", "\\Flagged")
    await bob.command("b SELECT INBOX")
    assert b"c OK [COPYUID" in await bob.command(f"c COPY 1 {BILLS}")
    out = await alice.command("d STATUS Bills (MESSAGES)")
    assert b"MESSAGES 2" in out, out
    await bob.command(f"e SELECT {BILLS}")
    out = await bob.command("f MOVE 1 INBOX")
    assert b"* 1 EXPUNGE" in out and b"f OK" in out, out
    out = await alice.command("g STATUS Bills (MESSAGES)")
    assert b"MESSAGES 1" in out, out
    out = await bob.command("h STATUS INBOX (MESSAGES)")
    assert b"MESSAGES 2" in out, out


async def test_shared_namespace_and_namespace_command(shared: Harness) -> None:
    public = await shared.connect(("public", "p"))
    assert b"a OK" in await public.command("a CREATE Info")
    assert b"b OK" in await public.command("b SETACL Info anyone lrsi")
    bob = await shared.connect(("bob", "b"))
    assert await bob.command("c NAMESPACE") == (
        b'* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))\r\n'
        b"c OK NAMESPACE completed\r\n")
    out = await bob.command('d LIST "" "Shared/%"')
    assert b'"/" Shared/Info\r\n' in out, out
    out = await bob.command('e LIST "" "%"')
    assert b"Shared" in out and b"Other Users" not in out, out
    assert b"f OK [APPENDUID" in await append(bob, "f", "Shared/Info")
    out = await bob.command("g STATUS Shared/Info (MESSAGES)")
    assert b"MESSAGES 1" in out, out


async def test_delete_drops_and_rename_keeps_the_acl(shared: Harness) -> None:
    alice, bob = await setup(shared, "lr")
    assert b"a OK" in await alice.command("a RENAME Bills Paid")
    out = await bob.command('b LIST "" "Other Users/alice/*"')
    assert b"Other Users/alice/Paid" in out, out
    assert b"c OK" in await alice.command("c DELETE Paid")
    assert b"d OK" in await alice.command("d CREATE Paid")
    out = await bob.command('e LIST "" "Other Users/alice/*"')
    assert b"Paid" not in out, out
