"""NOTIFY (RFC 5465) through real Sessions: one client registers, another changes the
store, and the first hears of it between commands, without sending anything."""

from __future__ import annotations

import asyncio
import re

from harness import Client, Harness


async def put(c: Client, mailbox: str, subject: str = "s", sender: str = "a") -> None:
    data = f"Subject: {subject}\r\nFrom: {sender}@example.org\r\n\r\nbody\r\n".encode()
    c.send(f'AP APPEND "{mailbox}" {{{len(data)}+}}\r\n'.encode() + data + b"\r\n")
    out = await c.read_until(rb"^AP .*\r\n")
    assert b"AP OK" in out, out


async def quiet(c: Client, seconds: float = 0.15) -> bytes:
    """What the client receives unasked within ``seconds`` (b"" when nothing)."""
    try:
        return await c.read_until(rb"\A(?!)", timeout=seconds)  # never matches
    except TimeoutError:
        pos = c._pos
        c._pos = len(c.channel.outbox)
        return bytes(c.channel.outbox[pos:])


def uidvalidity(out: bytes) -> int:
    return int(re.search(rb"UIDVALIDITY (\d+)", out).group(1))  # type: ignore[union-attr]


async def pair(harness: Harness, *mailboxes: str) -> tuple[Client, Client]:
    a = await harness.connect(("demo", "demo"))
    for name in mailboxes:
        assert b"c OK" in await a.command(f'c CREATE "{name}"')
    b = await harness.connect(("demo", "demo"))
    return a, b


async def test_rfc_example_selected_and_subtree(harness: Harness) -> None:
    """Section 3.1's example: STATUS of the subtree at once, then new mail elsewhere as
    STATUS and in the selected mailbox as EXISTS with the asked-for FETCH."""
    a, b = await pair(harness, "Lists/Lemonade", "Lists/Im2000", "misc")
    out = await a.command(
        "b notify set status (selected (MessageNew (uid body.peek[header.fields (from to"
        " subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))")
    assert re.search(rb"^\* STATUS Lists \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+\)\r\n"
                     rb"\* STATUS Lists/Im2000 \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+\)\r\n"
                     rb'\* STATUS Lists/Lemonade \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+\)\r\n'
                     rb'b OK NOTIFY completed\r\n\Z', out, re.M), out
    assert b"c OK" in await a.command("c select inbox")
    await put(b, "Lists/Lemonade")
    assert await a.read_until(rb"^\* STATUS .*\r\n") == (
        b"* STATUS Lists/Lemonade (MESSAGES 1 UIDNEXT 2)\r\n")
    await put(b, "misc")  # not watched
    await put(b, "INBOX", "good morning")
    out = await a.read_until(rb"^\)\r\n")
    assert out.startswith(b"* 1 EXISTS\r\n"), out
    assert b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (FROM TO SUBJECT)] {" in out, out
    assert b"Subject: good morning\r\nFrom: a@example.org\r\n\r\n)" in out, out
    # MessageExpunge in the selected mailbox: EXPUNGE between commands.
    assert b"s OK" in await b.command("s select inbox")
    await b.command("d store 1 +flags.silent (\\Deleted)")
    await b.command("e expunge")
    assert await a.read_until(rb"^\* \d+ EXPUNGE\r\n") == b"* 1 EXPUNGE\r\n"
    assert b"misc" not in await quiet(a)
    # \Seen stays unset: the FETCH of an event is not a read.
    await put(b, "INBOX", "again")
    await a.read_until(rb"^\)\r\n")
    assert b"FLAGS ()" in await a.command("f fetch 1 flags"), "event FETCH set \\Seen"


async def test_selected_delayed_holds_expunges_until_a_command(harness: Harness) -> None:
    a, b = await pair(harness)
    await put(b, "INBOX", "one")
    await put(b, "INBOX", "two")
    assert b"s OK" in await a.command("s select inbox")
    assert b"n OK" in await a.command("n notify set (selected-delayed (MessageNew MessageExpunge))")
    assert b"s OK" in await b.command("s select inbox")
    await b.command("d store 1 +flags.silent (\\Deleted)")
    await b.command("e expunge")
    assert b"EXPUNGE" not in await quiet(a)
    await put(b, "INBOX", "three")
    out = await a.read_until(rb"^\* \d+ RECENT\r\n")
    assert b"* 3 EXISTS\r\n" in out, out  # the expunged one still counted
    out = await a.command("x noop")
    assert out.startswith(b"* 1 EXPUNGE\r\n"), out


async def test_flag_changes_only_when_asked(harness: Harness) -> None:
    """Without FlagChange the change waits for the next command (RFC 3501's own
    update); with it, it comes at once."""
    a, b = await pair(harness)
    await put(b, "INBOX")
    assert b"s OK" in await a.command("s select inbox")
    assert b"s OK" in await b.command("s select inbox")
    assert b"n OK" in await a.command("n notify set (selected (MessageNew MessageExpunge))")
    await b.command("f store 1 +flags.silent (\\Flagged)")
    assert b"FETCH" not in await quiet(a)
    assert b"* 1 FETCH (FLAGS (\\Flagged \\Recent))" in await a.command("x noop")
    assert b"n OK" in await a.command(
        "n notify set (selected (MessageNew MessageExpunge FlagChange))")
    await b.command("g store 1 +flags.silent ($Work)")
    out = await a.read_until(rb"^\* 1 FETCH .*\r\n")
    assert out.endswith(b"* 1 FETCH (FLAGS (\\Flagged $Work \\Recent))\r\n"), out


async def test_other_mailbox_flags_and_condstore(harness: Harness) -> None:
    a, b = await pair(harness, "Bills")
    await put(b, "Bills")
    out = await a.command("n notify set status (mailboxes Bills (MessageNew MessageExpunge"
                          " FlagChange))")
    # Section 3.1: with FlagChange, HIGHESTMODSEQ, as the server supports CONDSTORE.
    assert re.search(rb"^\* STATUS Bills \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+"
                     rb" HIGHESTMODSEQ \d+\)\r\n", out, re.M), out
    assert b"s OK" in await b.command("s select Bills")
    await b.command("f store 1 +flags.silent (\\Seen)")
    assert await a.read_until(rb"^\* STATUS .*\r\n") == b"* STATUS Bills (UNSEEN 0)\r\n"
    await b.command("g store 1 +flags.silent (\\Flagged)")  # no count the client asked for
    assert b"STATUS" not in await quiet(a)
    # With CONDSTORE on: HIGHESTMODSEQ and UIDVALIDITY for every flag change.
    await a.command("e enable condstore")
    out = await a.command("n notify set (mailboxes Bills (MessageNew MessageExpunge FlagChange))")
    assert b"STATUS" not in out, out
    await b.command("h store 1 -flags.silent (\\Flagged)")
    out = await a.read_until(rb"^\* STATUS .*\r\n")
    assert re.fullmatch(rb"\* STATUS Bills \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)\r\n", out), out


async def test_mailbox_name_and_subscription_events(harness: Harness) -> None:
    a, b = await pair(harness, "keep")
    assert b"n OK" in await a.command(
        "n notify set (personal (MailboxName SubscriptionChange))")
    await b.command("c create Projects/Alpha")
    out = await a.read_until(rb'^\* LIST .* Projects/Alpha\r\n')
    assert b'* LIST (\\HasChildren) "/" Projects\r\n' in out, out
    assert out.endswith(b'* LIST (\\HasNoChildren) "/" Projects/Alpha\r\n'), out
    await b.command("r rename Projects Work")
    out = await a.read_until(rb'^\* LIST .*\r\n')
    assert out == b'* LIST (\\HasChildren) "/" Work ("OLDNAME" (Projects))\r\n', out
    assert b"Alpha" not in await quiet(a)  # inferiors renamed along: no events
    await b.command("s subscribe Work/Alpha")
    assert await a.read_until(rb'^\* LIST .*\r\n') == (
        b'* LIST (\\HasNoChildren \\Subscribed) "/" Work/Alpha\r\n')
    await b.command("u unsubscribe Work/Alpha")
    assert await a.read_until(rb'^\* LIST .*\r\n') == (
        b'* LIST (\\HasNoChildren) "/" Work/Alpha\r\n')
    await b.command("d delete Work/Alpha")
    out = await a.read_until(rb'^\* LIST .*Alpha\r\n')
    assert b'* LIST (\\NonExistent) "/" Work/Alpha\r\n' in out, out
    # The session's own changes are not reported back (section 5).
    assert b"LIST" not in await a.command("o create Mine")
    assert b"LIST" not in await a.command("p rename Mine Ours")
    assert b"LIST" not in await quiet(a)


async def test_a_new_mailbox_joins_personal_and_own_appends_are_quiet(harness: Harness) -> None:
    a, b = await pair(harness)
    assert b"n OK" in await a.command(
        "n notify set (personal (MessageNew MessageExpunge MailboxName))")
    await b.command("c create Later")
    await a.read_until(rb'^\* LIST .*Later\r\n')
    await put(b, "Later")
    assert await a.read_until(rb"^\* STATUS .*\r\n") == b"* STATUS Later (MESSAGES 1 UIDNEXT 2)\r\n"
    await put(a, "Later")  # its own APPEND: nothing back
    assert b"STATUS" not in await quiet(a)
    await put(b, "Later")
    assert await a.read_until(rb"^\* STATUS .*\r\n") == b"* STATUS Later (MESSAGES 3 UIDNEXT 4)\r\n"


async def test_idle_sends_what_notify_asked(harness: Harness) -> None:
    """Section 4: in IDLE, the same events as NOTIFY asked for: here none for the
    selected mailbox, STATUS for another."""
    a, b = await pair(harness, "Other")
    assert b"s OK" in await a.command("s select inbox")
    assert b"n OK" in await a.command("n notify set (mailboxes Other (MessageNew MessageExpunge))")
    a.send("i idle\r\n")
    await a.read_until(rb"^\+ .*\r\n")
    await put(b, "INBOX")
    await put(b, "Other")
    out = await a.read_until(rb"^\* STATUS .*\r\n")
    assert b"EXISTS" not in out, out
    a.send("DONE\r\n")
    out = await a.read_until(rb"^i .*\r\n")
    assert b"* 1 EXISTS" in out and out.endswith(b"i OK IDLE terminated\r\n"), out


async def test_errors_and_none(harness: Harness) -> None:
    a, b = await pair(harness, "Other")
    out = await a.command("a notify set (selected (MessageNew MessageExpunge AnnotationChange))")
    assert out == (b"a NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName"
                   b" SubscriptionChange)] Unsupported event AnnotationChange\r\n"), out
    out = await a.command("b notify set (personal (MailboxMetadataChange))")
    assert out.startswith(b"b NO [BADEVENT"), out
    assert (await a.command("c notify set (selected (MessageNew))")).startswith(b"c BAD ")
    assert (await a.command("d notify set (personal (MailboxName)) (selected-delayed"
                            " (MessageNew MessageExpunge)) (selected (MessageNew"
                            " MessageExpunge))")).startswith(b"d BAD ")
    assert (await a.command("e notify bogus")).startswith(b"e BAD ")
    assert (await a.command("f notify set (personal (FlagChange))")).startswith(b"f BAD ")
    # A name that does not exist is ignored (section 3.1), and the command succeeds.
    assert b"g OK" in await a.command("g notify set status (mailboxes (Nope Other)"
                                      " (MessageNew MessageExpunge))")
    await put(b, "Other")
    await a.read_until(rb"^\* STATUS Other .*\r\n")
    assert b"h OK NOTIFY completed" in await a.command("h notify none")
    await put(b, "Other")
    assert b"STATUS" not in await quiet(a)
    # The session goes on as before.
    assert b"x OK" in await a.command("x noop")


async def test_notify_is_not_allowed_before_login(harness: Harness) -> None:
    c = await harness.connect()
    assert (await c.command("a notify none")).startswith(b"a BAD ")


async def test_a_line_read_is_never_cut_short(harness: Harness) -> None:
    """A command arriving in pieces while notifications go out is read whole."""
    a, b = await pair(harness, "Other")
    assert b"n OK" in await a.command("n notify set (mailboxes Other (MessageNew MessageExpunge))")
    a.send("x sta")
    await asyncio.sleep(0.02)
    await put(b, "Other")
    await a.read_until(rb"^\* STATUS .*\r\n")
    a.send("tus Other (messages)\r\n")
    out = await a.read_until(rb"^x .*\r\n")
    assert out.endswith(b"* STATUS Other (MESSAGES 1)\r\nx OK STATUS completed\r\n"), out


async def test_update_context_fetches_new_mail_that_joins(harness: Harness) -> None:
    """Section 7: ``UPDATE (fetch-att ...)``; new mail that joins the context is
    fetched after its ADDTO, mail that does not join is not, nor mail the session
    added itself; with NOTIFY's own attributes, one FETCH carries both."""
    a, b = await pair(harness)
    await put(b, "INBOX", "old", "boss")
    assert b"s OK" in await a.command("s select inbox")
    out = await a.command("a00 SEARCH RETURN (COUNT UPDATE (UID BODY.PEEK[HEADER.FIELDS"
                          " (SUBJECT)])) FROM boss")
    assert out == b'* ESEARCH (TAG "a00") COUNT 1\r\na00 OK SEARCH completed\r\n', out
    await put(b, "INBOX", "good morning", "boss")
    await put(b, "INBOX", "spam", "someone")
    out = await a.command("n noop")
    assert out == (b"* 3 EXISTS\r\n* 3 RECENT\r\n"
                   b'* ESEARCH (TAG "a00") ADDTO (0 2)\r\n'
                   b"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {25}\r\n"
                   b"Subject: good morning\r\n\r\n)\r\n"
                   b"n OK NOOP completed\r\n"), out
    data = b"Subject: mine\r\nFrom: boss@example.org\r\n\r\nbody\r\n"
    a.send(b"ap APPEND INBOX {%d+}\r\n%s\r\n" % (len(data), data))
    out = await a.read_until(rb"^ap .*\r\n")  # its own APPEND: ADDTO, no FETCH
    assert b"ADDTO (0 4)" in out and b"FETCH" not in out, out
    assert b"n OK" in await a.command("n notify set (selected (MessageNew (FLAGS) MessageExpunge))")
    await put(b, "INBOX", "both", "boss")
    out = await a.read_until(rb"^\)\r\n")
    assert b"* 5 FETCH (UID 5 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {17}" in out, out
    assert (await a.command("b SORT RETURN (UPDATE (FLAGS)) (SUBJECT) UTF-8 ALL")).endswith(
        b"b OK SORT completed\r\n")
    assert (await a.command("c SEARCH RETURN (UPDATE (BODY[)) ALL")).startswith(b"c BAD ")


async def test_subscribed_filter_follows_subscriptions(harness: Harness) -> None:
    """Section 6.4: "If the subscription list changes, the server MUST reevaluate"."""
    a, b = await pair(harness, "News", "Other")
    assert b"n OK" in await a.command("n notify set (subscribed (MessageNew MessageExpunge))")
    await put(b, "News")
    assert b"STATUS" not in await quiet(a)  # not subscribed yet
    await b.command("s subscribe News")
    await put(b, "News")
    assert await a.read_until(rb"^\* STATUS .*\r\n") == b"* STATUS News (MESSAGES 2 UIDNEXT 3)\r\n"
    await b.command("u unsubscribe News")
    await put(b, "News")
    assert b"STATUS" not in await quiet(a)


async def test_a_watched_mailbox_renamed_and_deleted(harness: Harness) -> None:
    a, b = await pair(harness, "Projects")
    assert b"n OK" in await a.command(
        "n notify set (subtree Projects (MessageNew MessageExpunge MailboxName))")
    await b.command("r rename Projects Projects2")  # leaves the subtree
    out = await a.read_until(rb"^\* LIST .*\r\n")
    assert out == b'* LIST (\\HasNoChildren) "/" Projects2 ("OLDNAME" (Projects))\r\n', out
    await put(b, "Projects2")
    assert b"STATUS" not in await quiet(a)
    await b.command("c create Projects")  # a new one under the watched name
    await a.read_until(rb'^\* LIST .* Projects\r\n')
    await put(b, "Projects")
    assert await a.read_until(rb"^\* STATUS .*\r\n") == (
        b"* STATUS Projects (MESSAGES 1 UIDNEXT 2)\r\n")
    await b.command("d delete Projects")
    assert await a.read_until(rb"^\* LIST .*\r\n") == b'* LIST (\\NonExistent) "/" Projects\r\n'
