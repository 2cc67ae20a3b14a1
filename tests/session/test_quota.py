"""QUOTA (RFC 9208) in the session: GETQUOTA, GETQUOTAROOT, SETQUOTA refused, OVERQUOTA
on APPEND and COPY, MOVE never refused, STATUS DELETED / DELETED-STORAGE."""

from __future__ import annotations

from harness import Harness
from pyimapd.storage.interface import QuotaLimits

MESSAGE = "Subject: q\r\n\r\n" + "x" * 984 + "\r\n"  # 1000 octets


async def _append(c, tag: str, mailbox: str = "INBOX") -> bytes:  # type: ignore[no-untyped-def]
    c.send(f"{tag} APPEND {mailbox} {{{len(MESSAGE)}+}}\r\n{MESSAGE}\r\n")
    return await c.read_until(rb"^" + tag.encode() + rb" .*\r\n")


async def test_no_limit_means_no_quota_root(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert await c.command("a GETQUOTAROOT INBOX") == (
        b"* QUOTAROOT INBOX\r\na OK GETQUOTAROOT completed\r\n")
    assert await c.command('b GETQUOTA ""') == (
        b"b NO [NONEXISTENT] No quota root ''\r\n")
    assert await c.command('c SETQUOTA "" (STORAGE 512)') == (
        b"c NO [NOPERM] Quotas are set by the administrator\r\n")


async def test_limits_are_reported_and_enforced(harness: Harness) -> None:
    await harness.backend.users.set_quota("demo", QuotaLimits(storage_kib=2, messages=10))
    c = await harness.connect(("demo", "demo"))
    assert b"a OK [APPENDUID" in await _append(c, "a")
    # Section 4.1.2: the mailbox need not exist; the root covers every mailbox.
    assert await c.command("b GETQUOTAROOT Nonexistent") == (
        b'* QUOTAROOT Nonexistent ""\r\n* QUOTA "" (STORAGE 1 2 MESSAGE 1 10)\r\n'
        b"b OK GETQUOTAROOT completed\r\n")
    assert await c.command('c getquota ""') == (
        b'* QUOTA "" (STORAGE 1 2 MESSAGE 1 10)\r\nc OK GETQUOTA completed\r\n')
    assert b"d OK [APPENDUID" in await _append(c, "d")
    # Section 4.3.1: the third would pass 2048 octets.
    out = await _append(c, "e")
    assert out.startswith(b"e NO [OVERQUOTA] "), out
    assert (await c.command("f CREATE Other")).startswith(b"f OK [MAILBOXID (F")
    assert b"* 2 EXISTS" in await c.command("g SELECT INBOX")
    assert (await c.command("h COPY 1 Other")).startswith(b"h NO [OVERQUOTA] ")
    out = await c.command("i MOVE 1 Other")  # MOVE adds nothing to the account
    assert b"* 1 EXPUNGE\r\n" in out and b"i OK " in out, out
    assert await c.command("j STORE 1 +FLAGS.SILENT (\\Deleted)") == (
        b"j OK +FLAGS.SILENT completed\r\n")
    assert await c.command("k STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)") == (
        b"* STATUS INBOX (MESSAGES 1 DELETED 1 DELETED-STORAGE 1000)\r\n"
        b"k OK STATUS completed\r\n")
    assert b"* 1 EXPUNGE" in await c.command("l EXPUNGE")
    assert b"m OK [APPENDUID" in await _append(c, "m")  # room again


async def test_message_limit(harness: Harness) -> None:
    await harness.backend.users.set_quota("demo", QuotaLimits(messages=1))
    c = await harness.connect(("demo", "demo"))
    assert b"a OK" in await _append(c, "a")
    assert (await _append(c, "b")).startswith(b"b NO [OVERQUOTA] ")
    assert await c.command("c GETQUOTAROOT INBOX") == (
        b'* QUOTAROOT INBOX ""\r\n* QUOTA "" (MESSAGE 1 1)\r\nc OK GETQUOTAROOT completed\r\n')


async def test_bad_arguments(harness: Harness) -> None:
    c = await harness.connect(("demo", "demo"))
    assert (await c.command("a GETQUOTA")).startswith(b"a BAD ")
    assert (await c.command('b SETQUOTA "" (STORAGE)')).startswith(b"b BAD ")
    assert (await c.command('c SETQUOTA "" (STORAGE 1 STORAGE 2)')).startswith(b"c BAD ")
    assert (await c.command("d GETQUOTAROOT")).startswith(b"d BAD ")
    c2 = await harness.connect()
    assert (await c2.command("e GETQUOTAROOT INBOX")).startswith(b"e BAD ")
