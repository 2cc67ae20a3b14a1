"""SORT ordering and the THREAD algorithms of RFC 5256, on hand-made messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyimapd.mime.model import Envelope, Part
from pyimapd.search.sort import (
    display_value,
    first_mailbox,
    sent_time,
    sort_uids,
    sort_values,
)
from pyimapd.search.subject import casemap
from pyimapd.search.thread import (
    ThreadMessage,
    ThreadNode,
    message_ids,
    ordered_subject,
    references,
    thread_message,
)
from pyimapd.session.handlers.sort import thread_text

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def root(**fields: str) -> Part:
    return Part(0, 10, 20, envelope=Envelope(**fields))


def text(roots: list[ThreadNode]) -> str:
    return thread_text(roots, lambda u: u).decode()


# --- SORT --------------------------------------------------------------------------------


def test_sent_date_normalised_to_utc_else_internaldate() -> None:
    r = root(date="31 Dec 2000 16:01:33 -0800")  # section 2.2's example
    assert sent_time(r, T0) == int(datetime(2001, 1, 1, 0, 1, 33, tzinfo=UTC).timestamp())
    assert sent_time(root(date="garbage"), T0) == int(T0.timestamp())
    assert sent_time(None, T0) == int(T0.timestamp())


def test_first_mailbox() -> None:
    assert first_mailbox("Bob <bob@x>, alice@y") == "bob"
    # a group's start marker is the first ENVELOPE address: its mailbox is the group name
    assert first_mailbox("team: carol@x, dan@y;, eve@z") == "team"
    assert first_mailbox("user2: blah@domain1.org;") == "user2"
    assert first_mailbox(None) == ""
    assert first_mailbox("undisclosed-recipients:;") == "undisclosed-recipients"


def test_group_first_address_for_cc_and_displayto() -> None:
    # RFC 5256 section 3 / RFC 5957 section 4: the first ENVELOPE address, which for a
    # field that starts with a group is the marker (NIL NIL "user2" NIL): the group name
    # (what Dovecot sorts by, tests/differential).
    r = root(cc="user2: blah@domain1.org;", to="user2: blah@domain1.org;")
    assert sort_values([("CC", False)], r, T0, 1) == (b"USER2",)
    assert sort_values([("DISPLAYTO", False)], r, T0, 1) == (b"USER2",)
    named = root(cc="team: Zed <a@x>;", to="team: Zed <a@x>;")
    assert sort_values([("CC", False), ("DISPLAYTO", False)], named, T0, 1) == (b"TEAM", b"TEAM")
    empty = root(cc=",,", to=",,")
    assert sort_values([("CC", False), ("DISPLAYTO", False)], empty, T0, 1) == (b"", b"")


def test_display_value() -> None:
    # RFC 5957 section 3: the decoded display name, else mailbox@host, else mailbox.
    assert display_value("Bob Example <bob@x>, alice@y") == "Bob Example"
    assert display_value('"=?UTF-8?Q?J=C3=B6rg?=" <j@x>') == "J\u00f6rg"
    assert display_value("=?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@x>") == "Andr\u00e9 Pirard"
    assert display_value("<bob@x>") == "bob@x"
    assert display_value('"" <bob@x>') == "bob@x"
    assert display_value("bob@x (Bobby)") == "Bobby"  # the comment ENVELOPE takes as name
    assert display_value("user") == "user"  # MISSING_DOMAIN is NIL, not a host
    assert display_value(None) == ""
    assert display_value("undisclosed-recipients:;") == "undisclosed-recipients"  # group name


def test_sort_displayfrom_casemap_and_fallback() -> None:
    crit = [("DISPLAYFROM", False)]
    msgs = [
        (1, sort_values(crit, root(from_="zed@x"), T0, 1)),
        (2, sort_values(crit, root(from_="=?UTF-8?Q?=C3=89mile?= <e@x>"), T0, 1)),
        (3, sort_values(crit, root(from_="alice <z@x>"), T0, 1)),
        (4, sort_values(crit, root(from_="Emile <a@x>"), T0, 1)),
        (5, sort_values(crit, None, T0, 1)),
    ]
    # i;unicode-casemap: "Émile" decomposes to E + combining acute, after "EMILE".
    assert sort_uids(crit, msgs) == [5, 3, 4, 2, 1]
    assert sort_uids([("DISPLAYFROM", True)], msgs) == [1, 2, 4, 3, 5]


def test_sort_criteria_reverse_and_sequence_tiebreak() -> None:
    def values(criteria: list[tuple[str, bool]], **fields: str) -> tuple[int | bytes, ...]:
        return sort_values(criteria, root(**fields), T0, len(fields))

    crit = [("SUBJECT", False), ("FROM", True)]
    msgs = [
        (1, values(crit, subject="Re: beta", from_="a@x")),
        (2, values(crit, subject="alpha", from_="z@x")),
        (3, values(crit, subject="BETA", from_="b@x")),
        (4, values(crit, subject="beta", from_="b@x")),
        (5, values(crit)),  # no subject: the empty string sorts first
    ]
    assert sort_uids(crit, msgs) == [5, 2, 3, 4, 1]
    # REVERSE leaves the implicit sequence order of ties alone (section 3's note).
    assert sort_uids([("SUBJECT", True)], [(u, v[:1]) for u, v in msgs]) == [1, 3, 4, 2, 5]


def test_sort_arrival_date_size() -> None:
    later = T0 + timedelta(hours=1)
    r_late = root(date="Mon, 1 Jan 2024 05:00:00 +0000")
    r_early = root(date="Mon, 1 Jan 2024 06:00:00 +0200")  # 04:00 UTC
    crit = [("DATE", False)]
    msgs = [(1, sort_values(crit, r_late, T0, 5)), (2, sort_values(crit, r_early, later, 9))]
    assert sort_uids(crit, msgs) == [2, 1]
    crit = [("ARRIVAL", False)]
    msgs = [(1, sort_values(crit, r_late, later, 5)), (2, sort_values(crit, r_early, T0, 9))]
    assert sort_uids(crit, msgs) == [2, 1]
    crit = [("REVERSE", False), ("SIZE", True)]
    msgs = [(1, sort_values(crit[1:], None, T0, 5)), (2, sort_values(crit[1:], None, T0, 9))]
    assert sort_uids(crit[1:], msgs) == [2, 1]


# --- Message IDs ------------------------------------------------------------------------


def test_message_ids_normalised() -> None:
    assert message_ids('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>') == ["<01KF8JCEOCBS0045PS@xxx.yyy.com>"]
    assert message_ids("<a@b> (comment <x@y>) <c@d>\t<bad> <e @ f>") == [
        "<a@b>", "<c@d>", "<e@f>"]
    assert message_ids("<a@b> text after, <c@d") == ["<a@b>"]
    assert message_ids(None) == [] and message_ids("") == []


def test_thread_message_references_else_in_reply_to() -> None:
    r = root(message_id="<m@x>", in_reply_to="<p@x> <q@x>", subject="Re: x")
    msg = thread_message(7, r, T0, None)
    assert (msg.message_id, msg.references, msg.refwd) == ("<m@x>", ("<p@x>",), True)
    msg = thread_message(7, r, T0, "<a@x> <b@x>")
    assert msg.references == ("<a@x>", "<b@x>")
    assert thread_message(7, None, T0, None) == ThreadMessage(7, int(T0.timestamp()), b"")


# --- THREAD ------------------------------------------------------------------------------


def msg(uid: int, day: int, subject: str = "", mid: str | None = None,
        refs: tuple[str, ...] = (), refwd: bool = False) -> ThreadMessage:
    return ThreadMessage(uid, day * 86400, casemap(subject), refwd, mid, refs)


def test_ordered_subject() -> None:
    messages = [
        msg(1, 5, "b"), msg(2, 1, "a"), msg(3, 3, "a"), msg(4, 2, "a"), msg(5, 4, "c"),
        msg(6, 6, "b"),
    ]
    # Threads by the date of their first message: a (2), c (4... day 4), b (day 5).
    assert text(ordered_subject(messages)) == "(2 (4)(3))(5)(1 6)"
    assert text(ordered_subject([])) == ""


def test_references_chain_and_dummy_siblings() -> None:
    messages = [
        msg(1, 1, "x", "<1@a>"),
        msg(2, 2, "x", "<2@a>", ("<1@a>",), True),
        msg(3, 3, "x", "<3@a>", ("<1@a>", "<2@a>"), True),
        msg(4, 4, "y", "<4@a>", ("<gone@a>",)),  # siblings under a missing parent
        msg(5, 5, "y2", "<5@a>", ("<gone@a>",)),
        msg(6, 2, "z", "<6@a>", ("<missing@a>",)),  # a lone child of a dummy: promoted
    ]
    assert text(references(messages)) == "(1 2 3)(6)((4)(5))"


def test_references_split_is_nested() -> None:
    messages = [
        msg(1, 1, "t", "<1@a>"),
        msg(2, 2, "t", "<2@a>", ("<1@a>",), True),
        msg(3, 3, "t", "<3@a>", ("<1@a>", "<2@a>"), True),
        msg(4, 4, "t", "<4@a>", ("<1@a>",), True),
        msg(5, 5, "t", "<5@a>", ("<1@a>", "<4@a>"), True),
    ]
    assert text(references(messages)) == "(1 (2 3)(4 5))"


def test_references_loops_duplicates_and_missing_ids() -> None:
    messages = [
        msg(1, 1, "a", "<1@a>", ("<2@a>",)),
        msg(2, 2, "b", "<2@a>", ("<1@a>",)),  # would close a loop: 2 stays a root
        msg(3, 3, "c", "<1@a>", ("<2@a>",)),  # a duplicate ID gets one of its own
        msg(4, 4, "d", None, ("<4@a>",)),
        msg(5, 5, "e", "<5@a>", ("<5@a>",)),  # references itself
    ]
    assert text(references(messages)) == "(2 (1)(3))(4)(5)"


def test_references_truncated_header_relinks_parent() -> None:
    messages = [
        msg(1, 1, "p", "<1@a>"),
        msg(2, 2, "q", "<2@a>"),
        msg(3, 3, "r", "<3@a>", ("<1@a>", "<2@a>")),  # links 1 -> 2 -> 3
        msg(4, 4, "s", "<4@a>", ("<2@a>",)),
    ]
    assert text(references(messages)) == "(1 2 (3)(4))"


def test_references_subject_merge() -> None:
    messages = [
        msg(1, 1, "topic", "<1@a>"),
        msg(2, 2, "topic", "<2@a>", refwd=True),  # a reply by subject only: a child
        msg(3, 3, "other", "<3@a>"),
        msg(4, 4, "other", "<4@a>"),  # neither a reply: both under a new dummy
        msg(5, 5, "", "<5@a>"),
        msg(6, 6, "", "<6@a>"),  # empty subjects are never merged
    ]
    assert text(references(messages)) == "(1 2)((3)(4))(5)(6)"


def test_references_merge_into_dummy_thread() -> None:
    messages = [
        msg(1, 1, "s", "<1@a>", ("<root@a>",)),
        msg(2, 2, "s", "<2@a>", ("<root@a>",)),  # 1 and 2 share a dummy parent
        msg(3, 3, "s", "<3@a>"),  # same subject, not a reply: joins the dummy
    ]
    assert text(references(messages)) == "((1)(2)(3))"


def test_deep_thread_needs_no_recursion() -> None:
    n = 5000
    messages = [msg(1, 0, "deep", "<0@a>")]
    for i in range(1, n):
        messages.append(msg(i + 1, i, "deep", f"<{i}@a>", (f"<{i - 1}@a>",), True))
    out = text(references(messages))
    assert out == "(" + " ".join(str(i) for i in range(1, n + 1)) + ")"
    # A comb: every message has a leaf child, so each level nests.
    comb = [msg(1, 0, "c", "<s0@a>")]
    for i in range(1, 2000):
        comb.append(msg(2 * i, i, "c", f"<s{i}@a>", (f"<s{i - 1}@a>",), True))
        comb.append(msg(2 * i + 1, i, "c", f"<l{i}@a>", (f"<s{i - 1}@a>",), True))
    assert text(references(comb)).count("(") == 1 + 2 * 1999
