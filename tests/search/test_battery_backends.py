"""The differential SEARCH battery (tests/differential/battery.py) on the memory store
(the reference evaluator) and on SQLite (the SQL compiler), through a real Session: the
result sets must be identical, query for query, on the whole MIME corpus."""

from __future__ import annotations

import re

from differential.battery import queries
from differential.compare import corpus_messages
from harness import Harness

USERS = {"sq": "sqpw"}


async def _run(tmp_path, store: str) -> list[bytes]:
    (tmp_path / store).mkdir()
    h = Harness(tmp_path / store, store)
    await h.start(USERS)
    client = await h.connect(("sq", "sqpw"))
    await client.command("a CREATE box")
    messages = corpus_messages()
    for msg in messages + messages[:3]:
        client.send(f'a APPEND box ({msg.flags}) "{msg.internaldate}" {{{len(msg.data)}+}}\r\n'
                    .encode() + msg.data + b"\r\n")
        assert b"a OK" in await client.read_until(rb"^a .*\r\n")
        if msg is messages[-1]:  # claim \Recent for the first ones, as the differential does
            await client.command("b SELECT box")
            await client.command("b SELECT INBOX")
    await client.command("c SELECT box")
    out = []
    for i, query in enumerate(queries()):
        line = b"q%d " % i
        for piece in query:
            line += piece.encode() if isinstance(piece, str) else (
                b"{%d+}\r\n" % len(piece) + piece)
        client.send(line + b"\r\n")
        reply = await client.read_until(rb"^q%d .*\r\n" % i, timeout=30)
        found = re.search(rb"^\* SEARCH[^\r]*", reply, re.M)
        status = reply.rsplit(b"\r\n", 2)[-2].split(b" ")[1]
        out.append(status + b" " + (found.group() if found else b""))
    return out


async def test_sql_and_evaluator_agree_on_the_battery(tmp_path) -> None:
    memory = await _run(tmp_path, "memory")
    sqlite = await _run(tmp_path, "sqlite")
    battery = queries()
    assert len(battery) >= 150
    assert sum(r.startswith(b"OK") for r in memory) >= 150
    diffs = [f"{q}: memory {m!r} sqlite {s!r}"
             for q, m, s in zip(battery, memory, sqlite, strict=True) if m != s]
    assert not diffs, "\n".join(diffs)
