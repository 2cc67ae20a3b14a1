"""mbox and Maildir reading rules, unit by unit."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pyimapd.mailio import maildir, mbox


def _read(data: bytes) -> list[tuple[bytes, frozenset[str], datetime | None]]:
    return [(m.header + b"".join(m.body), m.flags, m.internaldate)
            for m in mbox.read_mbox(io.BytesIO(data))]


def test_mbox_split_unescape_and_status() -> None:
    data = (
        b"junk before the first separator\n"
        b"From a@b Sat Jan  3 01:05:34 1996\n"
        b"Subject: one\nStatus: RO\nX-Status: AF\nX-Keywords: $Work, Later\n"
        b"X-UID: 7\n\n>From here\n>>From there\nFrom: a header-like line\n\n"
        b"From c@d Sun Jan  4 00:00:00 1996\nSubject: two\n\n"
    )
    msgs = _read(data)
    assert len(msgs) == 2  # "From " (not "From:") at a line start separates
    body, flags, date = msgs[0]
    assert body == b"Subject: one\n\nFrom here\n>From there\nFrom: a header-like line\n"
    assert flags == {"\\Seen", "\\Answered", "\\Flagged", "$Work", "Later"}
    assert date == datetime(1996, 1, 3, 1, 5, 34, tzinfo=UTC)


def test_mbox_blank_line_before_separator_is_not_the_messages() -> None:
    data = (b"From a Mon Feb  1 00:00:00 2021\nS: 1\n\nbody\n\n\n"
            b"From b Mon Feb  1 00:00:00 2021 +0200\r\nS: 2\r\n\r\nx\r\n")
    (one, _, _), (two, _, d2) = _read(data)
    assert one == b"S: 1\n\nbody\n\n"  # one of the two blank lines was the separator's
    assert two == b"S: 2\r\n\r\nx\r\n"
    assert d2 == datetime(2021, 2, 1, tzinfo=timezone(timedelta(hours=2)))


def test_mbox_uw_imap_pseudo_message_is_skipped_and_bad_dates_are_none() -> None:
    data = (b"From MAILER-DAEMON Mon Feb  1 00:00:00 2021\nX-IMAP: 123 45\n\nDON'T DELETE\n\n"
            b"From someone sometime\nSubject: real\nStatus: O\n\nhi\n")
    [(body, flags, date)] = _read(data)
    assert body == b"Subject: real\n\nhi\n" and flags == frozenset() and date is None


def test_mbox_folded_status_header_is_removed_with_its_continuation() -> None:
    [(body, flags, _)] = _read(b"From x Mon Feb  1 00:00:00 2021\nX-Keywords: a\n b\nS: 1\n\n")
    assert body == b"S: 1\n" and flags == {"a", "b"}  # the last blank line separates


def test_maildir_flags_keywords_and_layouts(tmp_path: Path) -> None:
    root = tmp_path / "m"
    for folder in (root, root / ".A.B", root / ".Caf&AOk-", root / ".x&AC4-y"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
    (root / "dovecot-keywords").write_text("0 $Work\n1 Later\n")
    assert maildir.flags_from_name("1.2.h:2,FRSab", maildir.read_keywords(root)) == {
        "\\Flagged", "\\Answered", "\\Seen", "$Work", "Later"}
    assert maildir.flags_from_name("1.2.h!2,T", []) == {"\\Deleted"}
    names = [n for n, _ in maildir.discover(root)]
    assert names == ["INBOX", "A/B", "Caf\u00e9", "x.y"]
    assert maildir.folder_path(root, "x.y/Caf\u00e9") == root / ".x&AC4-y.Caf&AOk-"
    nested = tmp_path / "nested"
    for folder in (nested / "INBOX", nested / "Sent", nested / "Sent" / "2020"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
    assert [n for n, _ in maildir.discover(nested)] == ["INBOX", "Sent", "Sent/2020"]


def test_info_letters_round_trip() -> None:
    table = {"$Work": 0, "Later": 1}
    flags = frozenset({"\\Seen", "\\Draft", "$Forwarded", "Later"})
    info = maildir.info_letters(flags, table)
    assert info == "DPSb"
    assert maildir.flags_from_name("x:2," + info, ["$Work", "Later"] + [""] * 24) == flags
