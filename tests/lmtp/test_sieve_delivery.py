"""Sieve at delivery (pyimapd.filtering) on every backend: the active script files,
flags, discards, rejects, redirects and answers with vacation through an SMTP sink; and
nothing is lost when the script cannot do what it says (missing mailbox, relay down,
runtime error)."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from harness import Harness
from pyimapd.config import SieveConfig
from pyimapd.delivery import Delivery, DeliveryResult, Target, prepare_bytes
from pyimapd.filtering import SieveFilter
from pyimapd.relay import SmtpRelay
from pyimapd.storage.interface import Backend, ScriptLimits
from serverutil import free_port

LIMITS = ScriptLimits(10, 100_000)


def message(subject: str = "hello", sender: str = "alice@example.org",
            extra: str = "") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n{extra}\r\n"
            f"Hello Bob,\r\n.line with a dot\r\n").encode()


@dataclass
class Sink:
    """An SMTP server that keeps what it receives."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                              envelope.original_content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def backend(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    h = Harness(tmp_path, request.param)
    await h.start({"bob": "x"})
    yield h.backend
    await h.close()


async def deliver(backend: Backend, script: str | None, data: bytes, relay_port: int | None,
                  sender: str = "alice@example.org", address: str = "bob@example.org",
                  ) -> DeliveryResult:
    store = await backend.open("bob")
    if script is not None:
        await store.scripts().put("main", script, LIMITS)
        await store.scripts().activate("main")
    await store.close()
    relay = SmtpRelay("127.0.0.1", relay_port) if relay_port else None
    delivery = Delivery(backend, sieve=SieveFilter(SieveConfig(), relay, "mx.example.org"))
    spool, prepared = await prepare_bytes(data)
    try:
        [result] = await delivery.deliver(prepared, [Target(address, "bob")], sender=sender)
    finally:
        spool.close()
    return result


async def contents(backend: Backend) -> dict[str, list[frozenset[str]]]:
    """Mailbox name -> the flags of each message in it."""
    store = await backend.open("bob")
    out: dict[str, list[frozenset[str]]] = {}
    for record in await store.list_mailboxes():
        if record.noselect:
            continue
        selected, result = await store.select(record.name, readonly=True)
        if result.uids:
            ranges = [(min(result.uids), max(result.uids))]
            out[record.name] = [flags async for page in selected.fetch_flags(ranges)
                                for _, flags, _ in page]
        await selected.close()
    await store.close()
    return out


async def test_without_a_script_mail_goes_to_inbox(backend: Backend) -> None:
    result = await deliver(backend, None, message(), None)
    assert result.ok and result.mailbox == "INBOX"


async def test_fileinto_with_flags_and_create(backend: Backend) -> None:
    script = ('require ["fileinto", "imap4flags", "mailbox"];\r\n'
              'if header :contains "subject" "invoice" {\r\n'
              '  fileinto :create :flags ["\\\\Flagged", "$Bills"] "Bills/2026";\r\n}\r\n')
    result = await deliver(backend, script, message("Your invoice"), None)
    assert (result.code, result.mailbox) == (250, "Bills/2026"), result
    result = await deliver(backend, script, message("Lunch?"), None)
    assert result.mailbox == "INBOX"
    found = await contents(backend)
    assert found["Bills/2026"] == [frozenset({"\\Flagged", "$Bills"})]
    assert len(found["INBOX"]) == 1


async def test_a_missing_mailbox_keeps_the_message(backend: Backend) -> None:
    script = 'require "fileinto";\r\nfileinto "Nowhere";\r\n'
    result = await deliver(backend, script, message(), None)
    assert result.ok and result.mailbox == "INBOX", result
    assert "Nowhere" not in await contents(backend)


async def test_discard_and_reject(backend: Backend) -> None:
    result = await deliver(backend, "discard;", message(), None)
    assert result.ok and result.mailbox is None and "Discarded" in result.text
    script = 'require "reject";\r\nreject "I do not take mail from you";\r\n'
    result = await deliver(backend, script, message(), None)
    assert (result.code, result.status) == (550, "5.7.1")
    assert "I do not take mail from you" in result.text
    # From the null reverse-path there is no one to bounce to: discarded.
    result = await deliver(backend, script, message(), None, sender="")
    assert result.ok
    assert await contents(backend) == {}


async def test_redirect_through_the_relay(backend: Backend, sink: tuple[Sink, int]) -> None:
    handler, port = sink
    script = 'redirect "carol@example.net";\r\n'
    result = await deliver(backend, script, message(), port)
    assert result.ok and result.mailbox is None, result
    [(mail_from, rcpts, data)] = handler.received
    assert (mail_from, rcpts) == ("alice@example.org", ["carol@example.net"])
    parsed = email.message_from_bytes(data)
    assert parsed["X-Sieve-Redirected-By"], data[:300]
    assert b"\r\n.line with a dot\r\n" in data  # dot-stuffing undone by the sink
    assert await contents(backend) == {}


async def test_redirect_with_the_relay_down_keeps_the_message(backend: Backend) -> None:
    script = 'require "copy";\r\nredirect "carol@example.net";\r\n'
    result = await deliver(backend, script, message(), free_port())  # nothing listens
    assert result.ok and result.mailbox == "INBOX", result
    result = await deliver(backend, script, message(), None)  # no relay configured
    assert result.ok and result.mailbox == "INBOX", result


async def test_vacation_once_per_sender(backend: Backend, sink: tuple[Sink, int]) -> None:
    handler, port = sink
    script = ('require "vacation";\r\n'
              'vacation :days 7 :subject "Away" :addresses ["bob@example.org"] '
              '"Back on Monday.";\r\n')
    for _ in range(2):
        result = await deliver(backend, script, message("question"), port)
        assert result.ok and result.mailbox == "INBOX"
    assert len(handler.received) == 1, handler.received
    mail_from, rcpts, data = handler.received[0]
    assert (mail_from, rcpts) == ("<>", ["alice@example.org"])
    reply = email.message_from_bytes(data)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Subject"] == "Away"
    assert reply["In-Reply-To"] == "<question@example.org>"
    assert "Back on Monday." in reply.get_payload()
    # Another sender gets a reply of their own; a list message none.
    await deliver(backend, script, message("q2", sender="dave@example.org"), port,
                  sender="dave@example.org")
    await deliver(backend, script, message("q3", sender="eve@example.org",
                                           extra="List-Id: <x.example.org>\r\n"), port,
                  sender="eve@example.org")
    assert [r[1] for r in handler.received] == [["alice@example.org"], ["dave@example.org"]]


async def test_a_script_that_does_not_compile_keeps_the_message(backend: Backend) -> None:
    """Stored without ManageSieve's check (as by an older version): fileinto without
    its require. The message is kept, the log says why."""
    script = 'if true { fileinto "x"; }\r\n'
    result = await deliver(backend, script, message(), None)
    assert result.ok and result.mailbox == "INBOX"


async def test_runtime_error_keeps_the_message(backend: Backend) -> None:
    """RFC 5228 section 2.10.6: a run-time error (here: more redirects than the
    interpreter allows in one run) means the implicit keep, nothing else."""
    script = "".join(f'redirect "u{n}@example.net";\r\n' for n in range(40))
    result = await deliver(backend, script, message(), None)
    assert result.ok and result.mailbox == "INBOX", result


async def test_editheader_changes_the_stored_message(backend: Backend) -> None:
    script = ('require ["editheader"];\r\naddheader "X-Filtered" "yes";\r\n'
              'deleteheader "Subject";\r\n')
    result = await deliver(backend, script, message("secret"), None)
    assert result.ok and result.mailbox == "INBOX"
    store = await backend.open("bob")
    selected, _ = await store.select("INBOX", readonly=True)
    [record] = [r async for r in selected.fetch([(1, result.uid or 1)], False)]
    head = b"".join([chunk async for chunk in selected.read(record.content, 0, 200)])
    await selected.close()
    await store.close()
    assert b"X-Filtered: yes\r\n" in head and b"Subject:" not in head, head


async def test_duplicate_is_remembered_after_delivery(backend: Backend) -> None:
    script = ('require ["duplicate", "fileinto"];\r\n'
              'if duplicate { discard; stop; }\r\n')
    first = await deliver(backend, script, message("same"), None)
    second = await deliver(backend, script, message("same"), None)
    assert first.mailbox == "INBOX" and second.mailbox is None
    assert len((await contents(backend))["INBOX"]) == 1

