"""The delivery path shared by LMTP and the importers: address mapping and one result per
recipient, with the store's refusals mapped to RFC 3463 codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from pyimapd.delivery import (
    Delivery,
    DeliveryPolicy,
    DeliveryResult,
    Target,
    address_candidates,
    prepare_bytes,
)
from pyimapd.storage.interface import OverQuota, Unavailable
from pyimapd.storage.memory import MemoryBackend

MESSAGE = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"


@pytest.fixture
async def backend() -> AsyncIterator[MemoryBackend]:
    b = MemoryBackend()
    await b.start()
    for name in ("alice", "bob", "carol@example.org"):
        await b.users.add_user(name, "x")
    store = await b.open("bob")
    await store.create_mailbox("Lists")
    await store.close()
    yield b
    await b.close()


def test_address_candidates() -> None:
    assert address_candidates("bob+lists@example.org", "+") == [
        ("bob+lists@example.org", None), ("bob@example.org", "lists"),
        ("bob+lists", None), ("bob", "lists"),
    ]
    assert address_candidates("Bob@x", "") == [("Bob@x", None), ("bob@x", None),
                                                ("Bob", None), ("bob", None)]
    assert address_candidates("bob", "+") == [("bob", None)]


async def _resolve(delivery: Delivery, *addresses: str) -> list[Target | DeliveryResult]:
    return [await delivery.resolve(a) for a in addresses]


async def test_mapping_and_one_result_per_recipient(backend: MemoryBackend) -> None:
    delivery = Delivery(backend)
    found = await _resolve(delivery, "alice@example.org", "bob+lists@example.org",
                           "carol@example.org", "BOB+nosuch@example.org", "dave@example.org")
    *targets, unknown = found
    assert isinstance(unknown, DeliveryResult) and (unknown.code, unknown.status) == (
        550, "5.1.1")
    users = [t.user for t in targets if isinstance(t, Target)]
    assert users == ["alice", "bob", "carol@example.org", "bob"]
    _, prepared = await prepare_bytes(MESSAGE)
    results = await delivery.deliver(prepared, [t for t in targets if isinstance(t, Target)])
    assert [(r.code, r.mailbox) for r in results] == [
        (250, "INBOX"), (250, "Lists"), (250, "INBOX"), (250, "INBOX")
    ]
    store = await backend.open("bob")
    assert (await store.status("Lists")).messages == 1
    assert (await store.status("INBOX")).messages == 1
    await store.close()


async def test_detail_mailbox_can_be_turned_off(backend: MemoryBackend) -> None:
    delivery = Delivery(backend, DeliveryPolicy(detail_mailbox=False))
    target = await delivery.resolve("bob+Lists@x")
    assert isinstance(target, Target)
    _, prepared = await prepare_bytes(MESSAGE)
    [result] = await delivery.deliver(prepared, [target])
    assert result.mailbox == "INBOX"


class _FailingStore:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def list_mailboxes(self) -> list[object]:
        return []

    async def append(self, *args: object) -> None:
        raise self.exc

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("exc", "tempfail", "expected"),
    [
        (OverQuota("Quota exceeded"), False, (552, "5.2.2")),
        (OverQuota("Quota exceeded"), True, (452, "4.2.2")),
        (Unavailable("busy"), False, (451, "4.3.0")),
        (RuntimeError("bug"), False, (451, "4.3.0")),
    ],
)
async def test_store_failures_map_to_codes(
    backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch, exc: Exception, tempfail: bool,
    expected: tuple[int, str],
) -> None:
    async def failing_open(user: str) -> _FailingStore:
        return _FailingStore(exc)

    monkeypatch.setattr(backend, "open_owner", failing_open)
    delivery = Delivery(backend, DeliveryPolicy(quota_tempfail=tempfail))
    _, prepared = await prepare_bytes(MESSAGE)
    results = await delivery.deliver(
        prepared, [Target("alice@x", "alice"), Target("bob@x", "bob")],
        internaldate=datetime(2020, 1, 1, tzinfo=UTC),
    )
    assert [(r.code, r.status) for r in results] == [expected, expected]


async def test_deleted_user_between_rcpt_and_data(backend: MemoryBackend) -> None:
    delivery = Delivery(backend)
    target = await delivery.resolve("alice")
    assert isinstance(target, Target)
    await backend.users.delete_user("alice")
    _, prepared = await prepare_bytes(MESSAGE)
    [result] = await delivery.deliver(prepared, [target])
    assert (result.code, result.status) == (550, "5.1.1")
