"""The sans-IO LMTP machine (RFC 2033): sequencing, dot-unstuffing, pipelining and the
one-reply-per-recipient rule of section 4.2, fed whole and one byte at a time."""

from __future__ import annotations

import pytest

from pyimapd.lmtp import protocol as p


def run(conn: p.LmtpConnection, data: bytes, accept: set[str], byte_at_a_time: bool = False,
        ) -> tuple[bytes, list[object], bytes]:
    """Feeds ``data``; accepts the RCPTs in ``accept`` and answers each message with
    one 250 per recipient. Returns (replies, events, message bytes)."""
    events: list[object] = []
    message = bytearray()
    chunks = [data[i:i + 1] for i in range(len(data))] if byte_at_a_time else [data]
    for chunk in chunks:
        conn.receive_data(chunk)
        while True:
            event = conn.next_event()
            if isinstance(event, p.NeedData | p.Closed):
                break
            events.append(event)
            if isinstance(event, p.Recipient):
                ok = event.address in accept
                conn.answer_recipient(p.Reply(250, "2.1.5", "OK") if ok
                                      else p.Reply(550, "5.1.1", "unknown"))
            elif isinstance(event, p.MessageData):
                message += event.data
            elif isinstance(event, p.MessageEnd):
                conn.answer_message(
                    [p.Reply(250, "2.0.0", f"done {r}") for r in event.recipients]
                )
    return conn.data_to_send(), events, bytes(message)


SESSION = (
    b"LHLO mx.example\r\n"
    b"MAIL FROM:<sender@example.org> SIZE=100\r\n"
    b"RCPT TO:<a@example.org>\r\n"
    b"RCPT TO:<nobody@example.org>\r\n"
    b"RCPT TO:<b@example.org>\r\n"
    b"DATA\r\n"
    b"Subject: hi\r\n\r\n..leading dot\r\n.\r\n"
    b"QUIT\r\n"
)


@pytest.mark.parametrize("byte_at_a_time", [False, True])
def test_one_reply_per_accepted_recipient_in_order(byte_at_a_time: bool) -> None:
    conn = p.LmtpConnection("lmtp.test")
    out, events, message = run(conn, SESSION, {"a@example.org", "b@example.org"},
                               byte_at_a_time)
    lines = out.decode().split("\r\n")
    assert lines[0].startswith("220 ")
    assert "250 SIZE" in out.decode() and "250-PIPELINING" in out.decode()
    after_data = lines[lines.index("354 Start mail input; end with <CRLF>.<CRLF>") + 1:]
    assert after_data[:3] == [
        "250 2.0.0 done a@example.org", "250 2.0.0 done b@example.org", "221 2.0.0 "
        "lmtp.test closing connection",
    ]
    assert message == b"Subject: hi\r\n\r\n.leading dot\r\n"
    end = next(e for e in events if isinstance(e, p.MessageEnd))
    assert end.recipients == ("a@example.org", "b@example.org")
    assert end.sender == "sender@example.org"
    assert conn.closed


def test_answer_count_must_match_recipients() -> None:
    conn = p.LmtpConnection("h")
    conn.receive_data(b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\nx\r\n.\r\n")
    for _ in range(4):
        event = conn.next_event()
        if isinstance(event, p.Recipient):
            conn.answer_recipient(p.Reply(250, "2.1.5", "OK"))
    while not isinstance(event, p.MessageEnd):
        event = conn.next_event()
    with pytest.raises(ValueError):
        conn.answer_message([])
    assert isinstance(conn.next_event(), p.AwaitingAnswer)
    conn.answer_message([p.Reply(250, "2.0.0", "ok")])
    assert isinstance(conn.next_event(), p.NeedData)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"MAIL FROM:<a@b>\r\n", b"503 5.5.1 Say LHLO first"),
        (b"HELO x\r\n", b"500 5.5.1"),
        (b"LHLO x\r\nRCPT TO:<a@b>\r\n", b"503 5.5.1 Need MAIL before RCPT"),
        (b"LHLO x\r\nDATA\r\n", b"503 5.5.1 Need MAIL before DATA"),
        (b"LHLO x\r\nMAIL FROM:<a@b>\r\nDATA\r\n", b"554 5.5.1 No valid recipients"),
        (b"LHLO x\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\n", b"503 5.5.1 Nested MAIL"),
        (b"LHLO x\r\nMAIL FROM:a@b\r\n", b"501 5.5.4"),
        (b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<>\r\n", b"501 5.5.4"),
        (b"LHLO\r\n", b"501 5.5.4"),
        (b"FOO\r\n", b"500 5.5.1 Unknown command FOO"),
        (b"NOOP\r\n", b"250 2.0.0 OK"),
        (b"VRFY a\r\n", b"252 2.5.0"),
        (b"LHLO x\r\nMAIL FROM:<a@b>\r\nRSET\r\nRCPT TO:<a@b>\r\n", b"503 5.5.1"),
    ],
)
def test_errors_and_sequencing(script: bytes, expected: bytes) -> None:
    out, _, _ = run(p.LmtpConnection("h"), script, {"a@b"})
    assert expected in out, out


def test_size_limits() -> None:
    conn = p.LmtpConnection("h", max_message_size=10)
    out, _, _ = run(conn, b"LHLO x\r\nMAIL FROM:<a@b> SIZE=11\r\n", set())
    assert b"552 5.3.4" in out
    conn = p.LmtpConnection("h", max_message_size=10)
    script = b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<a@b>\r\nDATA\r\n" + b"x" * 50 + b"\r\n.\r\n"
    conn.receive_data(script)
    seen = []
    while not isinstance(event := conn.next_event(), p.NeedData):
        seen.append(event)
        if isinstance(event, p.Recipient):
            conn.answer_recipient(p.Reply(250, "2.1.5", "OK"))
        if isinstance(event, p.MessageEnd):
            assert event.too_big
            conn.answer_message([p.Reply(552, "5.3.4", "Message too big")])
    assert not any(isinstance(e, p.MessageData) for e in seen)


def test_long_lines_stream_in_pieces_and_dots_only_at_line_start() -> None:
    body = b"a" * (3 * p.DATA_CHUNK) + b".not stuffed\r\n.\r\n"
    conn = p.LmtpConnection("h")
    _, events, message = run(
        conn, b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n" + body, {"a@b"}
    )
    assert message == body[:-3]
    assert max(len(e.data) for e in events if isinstance(e, p.MessageData)) <= 2 * p.DATA_CHUNK


def test_transaction_can_follow_another() -> None:
    script = SESSION.replace(b"QUIT\r\n", b"") + (
        b"MAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n.\r\n"
    )
    out, events, message = run(p.LmtpConnection("h"), script, {"a@example.org", "b@example.org"})
    ends = [e for e in events if isinstance(e, p.MessageEnd)]
    assert [e.recipients for e in ends] == [("a@example.org", "b@example.org"), ("b@example.org",)]
    assert out.count(b"250 2.0.0 done") == 3


def test_parse_path() -> None:
    assert p.parse_path("<@relay:user@x> BODY=8BITMIME") == ("user@x", {"BODY": "8BITMIME"})
    assert p.parse_path("<>") == ("", {})
    assert p.parse_path("user@x") is None


def test_protocol_module_is_sans_io() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(p.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module}
    assert not names & {"asyncio", "socket", "ssl", "selectors"}
