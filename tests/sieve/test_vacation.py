"""RFC 5230 vacation (and RFC 6131 :seconds): the built reply and the safety rules
of sections 4.5 and 4.6."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pyimapd.sieve import Keep, Result, StaticEnvironment, Vacation

Runner = Callable[..., Result]
IMPLICIT = Keep(None, implicit=True)

TO_BOB = (b"From: Alice <alice@example.net>\r\nTo: Bob <bob@example.org>\r\n"
          b"Subject: Lunch?\r\nMessage-ID: <q1@example.net>\r\n"
          b"References: <q0@example.net>\r\n\r\nLunch today?\r\n")


def vacation(result: Result) -> Vacation | None:
    found = [a for a in result.actions if isinstance(a, Vacation)]
    return found[0] if found else None


def test_reply_fields(run: Runner) -> None:
    result = run('require "vacation"; vacation "I am away.";', TO_BOB)
    reply = vacation(result)
    assert reply is not None
    assert reply.to == "alice@example.net"
    assert reply.from_ == "bob@example.org"
    assert reply.subject == "Auto: Lunch?"
    assert reply.body == "I am away." and not reply.mime
    assert reply.seconds == 7 * 86400
    assert reply.in_reply_to == "<q1@example.net>"
    assert reply.references == "<q0@example.net> <q1@example.net>"
    assert result.actions[-1] == IMPLICIT  # vacation does not cancel the implicit keep


def test_reply_with_every_option(run: Runner) -> None:
    script = """require ["vacation", "vacation-seconds"];
    vacation :seconds 3600 :subject "Away" :from "Bob <bob@example.org>"
             :addresses ["robert@example.org"] :mime :handle "h1" text:
Content-Type: text/plain; charset=utf-8

Back soon.
.
;"""
    reply = vacation(run(script, TO_BOB))
    assert reply is not None
    assert (reply.subject, reply.from_, reply.handle, reply.seconds, reply.mime) == (
        "Away", "Bob <bob@example.org>", "h1", 3600, True)
    assert reply.body.startswith("Content-Type: text/plain")


def test_default_handle_depends_on_the_reply(run: Runner) -> None:
    a = vacation(run('require "vacation"; vacation "one";', TO_BOB))
    b = vacation(run('require "vacation"; vacation "two";', TO_BOB))
    c = vacation(run('require "vacation"; vacation "one";', TO_BOB))
    assert a and b and c
    assert a.handle != b.handle and a.handle == c.handle


def test_rfc5230_days_example(run: Runner) -> None:
    # RFC 5230 section 4: :days 23 and :addresses
    script = """require "vacation";
    vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
    "I'm away until October 19.
    If it's an emergency, call 911, I guess." ;"""
    raw = b"From: a@example.net\r\nTo: tjs@example.edu\r\nSubject: x\r\n\r\nhi\r\n"
    reply = vacation(run(script, raw))
    assert reply is not None and reply.seconds == 23 * 86400


@pytest.mark.parametrize(("sender", "extra", "reason"), [
    ("", b"", "envelope sender is empty"),
    ("MAILER-DAEMON@example.net", b"", "list or system address"),
    ("owner-list@example.net", b"", "list or system address"),
    ("list-request@example.net", b"", "list or system address"),
    ("bob@example.org", b"", "the sender is the user"),
    ("bob+x@example.org", b"", "the sender is the user"),
    ("alice@example.net", b"Auto-Submitted: auto-replied\r\n", "Auto-Submitted"),
    ("alice@example.net", b"Auto-Submitted: auto-generated; x=1\r\n", "Auto-Submitted"),
    ("alice@example.net", b"Precedence: bulk\r\n", "Precedence"),
    ("alice@example.net", b"Precedence: junk\r\n", "Precedence"),
    ("alice@example.net", b"List-Id: <l.example.net>\r\n", "list-id"),
    ("alice@example.net", b"List-Unsubscribe: <mailto:x@example.net>\r\n", "list-unsubscribe"),
])
def test_no_reply(run: Runner, sender: str, extra: bytes, reason: str) -> None:
    result = run('require "vacation"; vacation "away";', extra + TO_BOB, sender=sender)
    assert vacation(result) is None
    assert reason in result.warnings[0]
    assert result.actions == [IMPLICIT]


def test_auto_submitted_no_still_gets_a_reply(run: Runner) -> None:
    result = run('require "vacation"; vacation "away";', b"Auto-Submitted: no\r\n" + TO_BOB)
    assert vacation(result) is not None


def test_not_addressed_to_the_user(run: Runner) -> None:
    raw = b"From: a@example.net\r\nTo: list@example.com\r\n\r\nhi\r\n"
    result = run('require "vacation"; vacation "away";', raw)
    assert vacation(result) is None
    assert "none of the user's addresses" in result.warnings[0]
    # :addresses names another address of the user
    result = run('require "vacation"; vacation :addresses "list@example.com" "away";', raw)
    assert vacation(result) is not None
    # Cc, Bcc and the Resent- fields count; the detail of the address is ignored
    for field in (b"Cc", b"Bcc", b"Resent-To"):
        raw = b"From: a@example.net\r\nTo: x@example.com\r\n" + field + \
            b": Bob <bob+tag@example.org>\r\n\r\nhi\r\n"
        assert vacation(run('require "vacation"; vacation "away";', raw)) is not None


def test_one_reply_per_sender_per_period(run: Runner) -> None:
    env = StaticEnvironment(addresses=["bob@example.org"])
    reply = vacation(run('require "vacation"; vacation :handle "h" "away";', TO_BOB, env=env))
    assert reply is not None
    env.replied.add(("h", "alice@example.net"))
    result = run('require "vacation"; vacation :handle "h" "away";', TO_BOB, env=env)
    assert vacation(result) is None
    assert "already replied" in result.warnings[0]


def test_two_vacations_are_an_error(run: Runner) -> None:
    result = run('require "vacation"; vacation "a"; vacation "b";', TO_BOB)
    assert result.actions == [IMPLICIT]
    assert "more than one vacation" in result.errors[0]


def test_vacation_variables(run: Runner) -> None:
    script = """require ["vacation", "variables"];
    if header :matches "subject" "*" { set "s" "${1}"; }
    vacation :subject "Re: ${s}" "Away, about ${s}";"""
    reply = vacation(run(script, TO_BOB))
    assert reply is not None
    assert (reply.subject, reply.body) == ("Re: Lunch?", "Away, about Lunch?")
