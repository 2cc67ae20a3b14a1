"""The differential SEARCH battery (tests/differential/battery.py) against pyimapd on
SQLite (the SQL compiler) and on the memory store (the reference evaluator): the
result sets must be identical, query for query, on the whole MIME corpus."""

from __future__ import annotations

from differential.battery import queries
from differential.compare import corpus_messages
from differential.imapwire import Conn
from differential.runner import Pair, load, search_differences
from serverutil import register_server, start_server

USERS = {"sq": "sqpw"}


def test_sql_and_evaluator_agree_on_the_battery(request, tmp_path) -> None:
    sql = start_server(tmp_path / "sqlite", USERS, store="sqlite")
    register_server(request.node, sql)
    try:
        mem = start_server(tmp_path / "memory", USERS, store="memory")
        register_server(request.node, mem)
        try:
            a, b = Conn(sql.host, sql.port), Conn(mem.host, mem.port)
            a.login("sq", "sqpw")
            b.login("sq", "sqpw")
            pair = Pair(a, b)
            messages = corpus_messages()
            load(pair, messages, messages[:3])
            compared, diffs = search_differences(pair, queries())
            pair.close()
            assert compared >= 150
            assert not diffs, "\n".join(str(d).replace("dovecot:", "memory: ") for d in diffs)
        finally:
            mem.stop()
    finally:
        sql.stop()
