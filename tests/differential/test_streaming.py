"""FETCH of a 10 MB message streams: the serving processes' peak RSS (VmHWM) grows by
well under the message size (RFC 3501 literals are sent as they are read from the
store). Every message of the corpus, malformed ones included, gets answers to the
full FETCH set without a BAD or a dropped connection."""

from __future__ import annotations

import os
from pathlib import Path

from differential.compare import SIMPLE_ITEMS, corpus_messages
from differential.imapwire import Conn
from mime.bigmail import big_text
from serverutil import register_server, start_server

USERS = {"stream": "streampw"}


def _tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (the server may run worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _hwm(pids: list[int]) -> dict[int, int]:
    """Peak resident set (VmHWM, bytes) of each process."""
    out = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out[pid] = int(line.split()[1]) * 1024
        except OSError:
            pass
    return out


def test_fetch_of_10mb_message_streams(request, tmp_path) -> None:
    server = start_server(tmp_path, USERS)
    register_server(request.node, server)
    try:
        data = big_text()
        conn = Conn(server.host, server.port)
        conn.login("stream", "streampw")
        conn.ok("APPEND INBOX ", data)
        conn.ok("SELECT INBOX")
        conn.ok("FETCH 1 (RFC822.SIZE)")  # warm up the FETCH path
        assert server.proc is not None
        pids = _tree(server.proc.pid)
        before = _hwm(pids)
        reply = conn.ok("FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT])")
        after = _hwm(pids)
        conn.close()
        body = reply.fetches()[1]
        assert body["BODY[]"] == data and len(data) > 10 * 1024 * 1024
        growth = max(after[p] - before.get(p, after[p]) for p in after)
        assert growth < len(data) // 4, f"peak RSS grew by {growth} for {len(data)} bytes"
    finally:
        server.stop()


def test_no_corpus_message_breaks_the_server(request, tmp_path) -> None:
    server = start_server(tmp_path, USERS)
    register_server(request.node, server)
    try:
        conn = Conn(server.host, server.port)
        conn.login("stream", "streampw")
        messages = corpus_messages()
        for msg in messages:
            conn.ok(f"APPEND INBOX ({msg.flags}) ", msg.data)
        conn.ok("SELECT INBOX")
        items = " ".join((*SIMPLE_ITEMS, "BODY[1.2.3.MIME]", "BODY.PEEK[2.HEADER]<1.5>"))
        for number in range(1, len(messages) + 1):
            reply = conn.command(f"FETCH {number} ({items})")
            assert reply.status == "OK", (messages[number - 1].name, reply.text)
        assert conn.ok("SEARCH TEXT x").search() is not None
        conn.close()
    finally:
        server.stop()
