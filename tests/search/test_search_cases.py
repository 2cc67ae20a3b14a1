"""One table of SEARCH cases, run against the reference evaluator and against every
backend (the memory one uses the evaluator, SQLite the SQL compiler), so the compiler is
held to the reference on every key type of the AST."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pgutil import fresh_dsn
from pyimapd.protocol.commands import SequenceSet
from pyimapd.search.ast import (
    All,
    And,
    Body,
    Flag,
    Header,
    InternalDate,
    Not,
    Or,
    Recent,
    SearchKey,
    SentDate,
    SeqSet,
    Size,
    Text,
    UidIn,
)
from pyimapd.search.evaluate import SearchableMessage, matches
from pyimapd.search.sql import compile_search
from pyimapd.storage.interface import Backend, PreparedMessage
from pyimapd.storage.memory import MemoryBackend
from pyimapd.storage.postgres import PostgresBackend
from pyimapd.storage.sqlite import SqliteBackend


def tz(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


MESSAGES = [
    SearchableMessage(
        uid=1, flags=frozenset({"\\Seen", "\\Answered", "Work"}), size=100,
        internaldate=datetime(2024, 3, 1, 23, 30, tzinfo=tz(-5)),  # 03-02 in UTC
        sent_date=datetime(2024, 2, 28, 10, 0, tzinfo=UTC),
        headers={"Subject": "Hello World", "From": "Alice <alice@example.com>",
                 "To": "bob@example.com\ncarol@example.com"},
        text="The quick brown fox",
    ),
    SearchableMessage(
        uid=2, flags=frozenset({"\\Flagged", "\\Deleted", "$Junk"}), size=5000,
        internaldate=datetime(2024, 3, 2, 0, 30, tzinfo=tz(2)),  # 03-01 in UTC
        sent_date=None,
        headers={"subject": "Straße Grüße", "cc": ""},
        text="ÜBER lazy dog",
    ),
    SearchableMessage(
        uid=3, flags=frozenset(), size=200,
        internaldate=datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
        sent_date=datetime(2024, 3, 5, 23, 0, tzinfo=tz(-10)),  # 03-06 in UTC
        headers={"from": "bob@example.com", "X-Custom": "Value"},
        text="",
    ),
    SearchableMessage(
        uid=4, flags=frozenset({"\\Draft", "work"}), size=101,
        internaldate=datetime(2024, 2, 29, 8, 0, tzinfo=UTC),
        headers={}, text="100% _under_score",
    ),
]

ALL = [1, 2, 3, 4]
D = date.fromisoformat

CASES: list[tuple[str, SearchKey, list[int]]] = [
    ("all", All(), ALL),
    ("seen", Flag("\\Seen"), [1]),
    ("seen any case", Flag("\\SEEN"), [1]),
    ("unseen", Flag("\\Seen", False), [2, 3, 4]),
    ("deleted", Flag("\\Deleted"), [2]),
    ("draft", Flag("\\Draft"), [4]),
    ("keyword any case", Flag("WORK"), [1, 4]),
    ("unkeyword", Flag("work", False), [2, 3]),
    ("keyword $", Flag("$junk"), [2]),
    ("keyword prefix is not a match", Flag("wor"), []),
    ("recent never stored", Flag("\\Recent"), []),
    ("not recent", Flag("\\Recent", False), ALL),
    ("uid range", UidIn(((2, 3),)), [2, 3]),
    ("uid ranges", UidIn(((1, 1), (4, 10))), [1, 4]),
    ("uid none", UidIn(()), []),
    ("larger", Size(True, 100), [2, 3, 4]),
    ("smaller", Size(False, 101), [1]),
    ("larger than all", Size(True, 5000), []),
    ("on: own offset day", InternalDate("on", D("2024-03-01")), [1]),
    ("on: other offset", InternalDate("on", D("2024-03-02")), [2]),
    ("before", InternalDate("before", D("2024-03-02")), [1, 4]),
    ("since", InternalDate("since", D("2024-03-02")), [2, 3]),
    ("sent on", SentDate("on", D("2024-02-28")), [1]),
    ("sent on own offset", SentDate("on", D("2024-03-05")), [3]),
    ("sent before", SentDate("before", D("2024-03-05")), [1, 2, 4]),
    ("sent since", SentDate("since", D("2024-03-01")), [2, 3]),
    # without a Date header the sent date is the internal date (RFC 5256 section 2.2)
    ("no date header sent on", SentDate("on", D("2024-02-29")), [4]),
    ("no date header own offset", SentDate("on", D("2024-03-02")), [2]),
    ("no date header", Not(SentDate("since", D("2000-01-01"))), []),
    ("subject", Header("SUBJECT", "world"), [1]),
    ("subject phrase", Header("SUBJECT", "hello world"), [1]),
    ("has subject", Header("SUBJECT", ""), [1, 2]),
    ("has empty cc", Header("CC", ""), [2]),
    ("second value line", Header("TO", "carol"), [1]),
    ("match within one line", Header("TO", "com\ncarol"), []),
    ("from", Header("FROM", "BOB"), [3]),
    ("custom header", Header("X-CUSTOM", "value"), [3]),
    ("header needs its field", Header("SUBJECT", "bob"), []),
    ("casefold ß", Header("SUBJECT", "STRASSE"), [2]),
    ("non-ascii case", Header("SUBJECT", "GRÜSSE"), [2]),
    ("body", Body("QUICK"), [1]),
    ("body non-ascii", Body("über"), [2]),
    ("body empty", Body(""), ALL),
    ("body percent", Body("%"), [4]),
    ("body underscore", Body("_u"), [4]),
    ("like wildcards are literal", Body("q%k"), []),
    ("text in header", Text("alice@"), [1]),
    ("text in body", Text("fox"), [1]),
    ("text field name", Text("subject: hello"), [1]),
    ("text custom", Text("x-custom: val"), [3]),
    ("text nowhere", Text("zebra"), []),
    ("not", Not(Flag("\\Seen")), [2, 3, 4]),
    ("or", Or(Flag("\\Draft"), Size(True, 4000)), [2, 4]),
    ("and", And((Flag("work"), Size(False, 101))), [1]),
    ("and empty", And(()), ALL),
    ("or with not all", Or(Not(All()), Flag("\\Deleted")), [2]),
    ("nested", Not(Or(Flag("work"), Header("SUBJECT", ""))), [3]),
    ("and of or", And((Or(UidIn(((1, 2),)), Text("bob")), Not(Flag("\\Deleted")))), [1, 3]),
]


def prepared(m: SearchableMessage) -> PreparedMessage:
    data = b"x" * m.size
    return PreparedMessage(
        io.BytesIO(data), len(data), b"{}", sent_date=m.sent_date,
        search_headers=dict(m.headers), search_text=m.text,
    )


async def backend_results(backend: Backend) -> dict[str, list[int]]:
    await backend.start()
    try:
        await backend.users.add_user("u", "h")
        store = await backend.open("u")
        for m in MESSAGES:
            result = await store.append("INBOX", prepared(m), m.flags, m.internaldate)
            assert result.uid == m.uid
        sel, _ = await store.select("INBOX", True)
        return {name: await sel.search(key) for name, key, _ in CASES}
    finally:
        await backend.close()


@pytest.mark.parametrize("kind", ["evaluator", "memory", "sqlite", "postgres"])
async def test_cases(kind: str, tmp_path: Path) -> None:
    if kind == "evaluator":
        got = {name: [m.uid for m in MESSAGES if matches(key, m)] for name, key, _ in CASES}
    elif kind == "memory":
        got = await backend_results(MemoryBackend())
    elif kind == "postgres":
        pg = PostgresBackend(fresh_dsn())
        await pg.migrate()
        got = await backend_results(pg)
    else:
        got = await backend_results(SqliteBackend(tmp_path / "data"))
    wrong = {name: (got[name], want) for name, _, want in CASES if got[name] != want}
    assert wrong == {}


@pytest.mark.parametrize("key", [Recent(), SeqSet(SequenceSet(((1, 2),)))])
def test_session_keys_are_refused(key: SearchKey) -> None:
    with pytest.raises(ValueError):
        compile_search(key)
    with pytest.raises(ValueError):
        matches(key, MESSAGES[0])


def test_compiled_sql_uses_parameters_for_strings() -> None:
    sql, params = compile_search(And((Header("SUBJECT", "x' OR 1=1 --"), Body("a"))))
    assert "OR 1=1" not in sql and params == ["subject", "x' or 1=1 --", "a"]
    sql, params = compile_search(UidIn(tuple((i, i) for i in range(1, 40000, 2))))
    assert params == []  # long UID lists cannot hit the parameter limit
