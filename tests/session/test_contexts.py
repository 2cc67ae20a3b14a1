"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4) through real Sessions: two
clients on one mailbox, one changing it, the other hearing ADDTO and REMOVEFROM."""

from __future__ import annotations

import pytest

from harness import Client, Harness
from pyimapd.session.handlers import context
from session.test_search_extensions import append, lines, msg


async def two(harness: Harness, count: int = 6) -> tuple[Client, Client]:
    c1 = await harness.connect(("demo", "demo"))
    for n in range(1, count + 1):
        await append(c1, msg(n, subject=f"s{n}"), "\\Flagged" if n % 2 else "")
    assert b"s OK" in await c1.command("s SELECT INBOX")
    c2 = await harness.connect(("demo", "demo"))
    assert b"s OK" in await c2.command("s SELECT INBOX")
    return c1, c2


def esearch(out: bytes) -> list[str]:
    return [line for line in lines(out) if line.startswith("* ESEARCH")]


async def test_search_context_follows_flags_new_mail_and_expunges(harness: Harness) -> None:
    c1, c2 = await two(harness)
    assert lines(await c1.command("a UID SEARCH RETURN (UPDATE COUNT) FLAGGED")) == [
        '* ESEARCH (TAG "a") UID COUNT 3', "a OK UID SEARCH completed"]
    await c2.command("b STORE 2 +FLAGS (\\Flagged)")
    await c2.command("c STORE 1 -FLAGS (\\Flagged)")
    out = lines(await c1.command("n1 NOOP"))
    assert out[-2:] == ['* ESEARCH (TAG "a") UID REMOVEFROM (0 1) ADDTO (0 2)',
                        "n1 OK NOOP completed"], out
    # New mail: ADDTO after EXISTS; one that does not match: nothing.
    await append(c2, msg(7), "\\Flagged")
    await append(c2, msg(8))
    out = [x for x in lines(await c1.command("n2 NOOP")) if not x.endswith("RECENT")]
    assert out == ["* 8 EXISTS", '* ESEARCH (TAG "a") UID ADDTO (0 7)',
                   "n2 OK NOOP completed"], out
    # An expunge: REMOVEFROM before the EXPUNGE.
    await c2.command("d STORE 3 +FLAGS.SILENT (\\Deleted)")
    await c2.command("e EXPUNGE")
    out = lines(await c1.command("n3 NOOP"))
    assert out[-3:] == ['* ESEARCH (TAG "a") UID REMOVEFROM (0 3)', "* 3 EXPUNGE",
                        "n3 OK NOOP completed"], out
    # The session's own changes count too.
    out = lines(await c1.command("f STORE 1:2 FLAGS (\\Flagged)"))
    assert '* ESEARCH (TAG "a") UID ADDTO (0 1)' in out, out
    # CANCELUPDATE: no more updates.
    assert lines(await c1.command('g CANCELUPDATE "a"')) == [
        "g OK CANCELUPDATE completed, no further updates"]
    await c2.command("h STORE 1:* -FLAGS (\\Flagged)")
    assert not esearch(await c1.command("n4 NOOP"))


async def test_message_numbers_and_pending_expunge(harness: Harness) -> None:
    """Appendix A.3: REMOVEFROM at once, while the EXPUNGE waits (no EXPUNGE during
    SEARCH), in the message numbers the client still has."""
    c1, c2 = await two(harness)
    assert lines(await c1.command("a SEARCH RETURN (UPDATE) ALL")) == [
        '* ESEARCH (TAG "a") ALL 1:6', "a OK SEARCH completed"]
    await c2.command("b STORE 2,5 +FLAGS.SILENT (\\Deleted)")
    await c2.command("c EXPUNGE")
    out = lines(await c1.command("d SEARCH RETURN (COUNT) ALL"))
    assert out == ['* ESEARCH (TAG "d") COUNT 4', '* ESEARCH (TAG "a") REMOVEFROM (0 2,5)',
                   "d OK SEARCH completed"], out
    out = lines(await c1.command("n NOOP"))
    assert out == ["* 2 EXPUNGE", "* 4 EXPUNGE", "n OK NOOP completed"], out
    await append(c2, msg(7))
    out = [x for x in lines(await c1.command("n2 NOOP")) if not x.endswith("RECENT")]
    assert out == ["* 5 EXISTS", '* ESEARCH (TAG "a") ADDTO (0 5)',
                   "n2 OK NOOP completed"], out


async def test_sort_context_positions(harness: Harness) -> None:
    c1, c2 = await two(harness)
    # REVERSE SUBJECT: s5 s3 s1 among the flagged ones (UIDs 5 3 1).
    assert lines(await c1.command("a UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 FLAGGED")) \
        == ['* ESEARCH (TAG "a") UID ALL 5,3,1', "a OK UID SORT completed"]
    await c2.command("b STORE 2,4 +FLAGS (\\Flagged)")  # s4 s2: 5 4 3 2 1
    out = esearch(await c1.command("n1 NOOP"))
    assert out == ['* ESEARCH (TAG "a") UID ADDTO (2 4 4 2)'], out
    await append(c2, msg(9, subject="s9"), "\\Flagged")  # first: 9 5 4 3 2 1
    await append(c2, msg(10, subject="s0"), "\\Flagged")  # last
    out = esearch(await c1.command("n2 NOOP"))
    assert out == ['* ESEARCH (TAG "a") UID ADDTO (1 7 7 8)'], out
    await c2.command("c STORE 3:5 -FLAGS (\\Flagged)")  # s3 s4 s5 out: 9 2 1 0
    out = esearch(await c1.command("n3 NOOP"))
    assert out == ['* ESEARCH (TAG "a") UID REMOVEFROM (2 5,4,3)'], out
    # Message numbers, and an expunge in the middle.
    assert esearch(await c1.command("d SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 FLAGGED")) == [
        '* ESEARCH (TAG "d") ALL 8,1:2,7']
    await c2.command("e STORE 2 +FLAGS.SILENT (\\Deleted)")
    await c2.command("f EXPUNGE")
    out = lines(await c1.command("n4 NOOP"))
    assert out == ['* ESEARCH (TAG "a") UID REMOVEFROM (2 2)',
                   '* ESEARCH (TAG "d") REMOVEFROM (3 2)', "* 2 EXPUNGE",
                   "n4 OK NOOP completed"], out


async def test_errors_and_limits(harness: Harness) -> None:
    c1, _ = await two(harness)
    assert lines(await c1.command("B01 UID SEARCH RETURN (UPDATE COUNT) DELETED")) == [
        '* ESEARCH (TAG "B01") UID COUNT 0', "B01 OK UID SEARCH completed"]
    # Section 4.3: the tag of a live context cannot be reused for UPDATE.
    assert lines(await c1.command("B01 SORT RETURN (UPDATE) (DATE) UTF-8 FLAGGED")) == [
        "B01 BAD Tag reuse: B01 names an update context"]
    assert b"B01 OK" in await c1.command("B01 SEARCH RETURN (COUNT) FLAGGED")
    assert lines(await c1.command('x CANCELUPDATE "B01" "nope"')) == [
        "x NO No update context for tag nope"]
    assert lines(await c1.command("x CANCELUPDATE B01")) == [
        "x BAD Invalid quoted string in tag"]
    assert lines(await c1.command("x CANCELUPDATE")) == ["x BAD Missing tag"]
    for n in range(2, 9):
        assert b"OK" in await c1.command(f"t{n} SEARCH RETURN (UPDATE COUNT) ALL")
    # Section 4.3.1: past the limit, NOUPDATE, and the other options still answered.
    assert lines(await c1.command("B02 UID SORT RETURN (UPDATE COUNT) (DATE) UTF-8 ALL")) == [
        '* ESEARCH (TAG "B02") UID COUNT 6', '* NO [NOUPDATE "B02"] Too many update contexts',
        "B02 OK UID SORT completed"]
    assert b"y OK" in await c1.command('y CANCELUPDATE "B01" "t2"')
    assert b"z OK" in await c1.command('z CANCELUPDATE "t3"')
    # Contexts end with the mailbox: after UNSELECT the tags are gone.
    assert b"u OK" in await c1.command("u UNSELECT")
    assert b"s OK" in await c1.command("s SELECT INBOX")
    assert lines(await c1.command('w CANCELUPDATE "t4"')) == [
        "w NO No update context for tag t4"]


async def test_recent_is_bound_again_for_new_mail(harness: Harness) -> None:
    """Sequence numbers are fixed when the command runs (section 4.3), but \\Recent
    grows: a new message this session claims as recent joins a RECENT context."""
    c1, _ = await two(harness)
    assert lines(await c1.command("a SEARCH RETURN (UPDATE COUNT) RECENT 1:*")) == [
        '* ESEARCH (TAG "a") COUNT 6', "a OK SEARCH completed"]
    other = await harness.connect(("demo", "demo"))  # selects nothing: \Recent stays
    await append(other, msg(7))
    out = lines(await c1.command("n NOOP"))
    assert out == ["* 7 EXISTS", "* 7 RECENT", "n OK NOOP completed"], out
    assert lines(await c1.command("b SEARCH RETURN (UPDATE COUNT) RECENT")) == [
        '* ESEARCH (TAG "b") COUNT 7', "b OK SEARCH completed"]
    await append(other, msg(8))
    out = esearch(await c1.command("n2 NOOP"))
    assert out == ['* ESEARCH (TAG "b") ADDTO (0 8)'], out  # "a" named 1:6 only


async def test_sort_context_refused_past_its_size(harness: Harness,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Section 4.3.1: NOUPDATE, and the other options are still answered; SEARCH
    contexts are not refused for it."""
    monkeypatch.setattr(context, "MAX_SORT_RESULTS", 3)
    c1, c2 = await two(harness)
    assert lines(await c1.command("a SORT RETURN (UPDATE MIN) (SIZE) UTF-8 ALL")) == [
        '* ESEARCH (TAG "a") MIN 1', '* NO [NOUPDATE "a"] Too many results to keep sorted',
        "a OK SORT completed"]
    assert lines(await c1.command("b SORT RETURN (UPDATE) (SIZE) UTF-8 1:3")) == [
        '* ESEARCH (TAG "b") ALL 1:3', "b OK SORT completed"]
    assert lines(await c1.command("c SEARCH RETURN (UPDATE COUNT) ALL")) == [
        '* ESEARCH (TAG "c") COUNT 6', "c OK SEARCH completed"]
    await c2.command("d STORE 1 +FLAGS.SILENT (\\Deleted)")
    await c2.command("e EXPUNGE")
    out = lines(await c1.command("n NOOP"))
    assert out == ['* ESEARCH (TAG "b") REMOVEFROM (1 1)', '* ESEARCH (TAG "c") REMOVEFROM (0 1)',
                   "* 1 EXPUNGE", "n OK NOOP completed"], out
