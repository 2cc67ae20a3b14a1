"""``make bench`` is not run in CI (it takes minutes and needs Dovecot and pymap), but its
data generator and bulk loader use the server's own import path and connection hook;
this loads a tiny data set the way the benchmark does, so a change there cannot break
``make bench`` unnoticed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from serverutil import ServerHandle

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bench/ is a package at the repository root


def test_bench_loads_a_tiny_data_set(tmp_path: Path) -> None:
    from bench.common import dataset, servers

    from pyimapd.storage.sqlite import SqliteBackend

    layout = dataset.Layout(big_messages=30, mix_users=1, mix_messages=4, heavy_messages=1)
    dataset.generate(tmp_path / "maildirs", layout, seed=3)
    trees = {user: tmp_path / "maildirs" / user for user in dataset.users(layout)}
    data = servers.load_pyimapd(tmp_path, trees, dataset.PASSWORD)

    async def count() -> dict[str, int]:
        backend = SqliteBackend(data)
        await backend.start()
        try:
            return {user: (await (await backend.open(user)).status("INBOX")).messages
                    for user in trees}
        finally:
            await backend.close()

    assert asyncio.run(count()) == {dataset.USER_BIG: 30, dataset.USER_HEAVY: 1,
                                    dataset.mix_user(0): 4}


def test_roundcube_timing_proxy_relays_and_counts(server: ServerHandle) -> None:
    """bench/roundcube's proxy passes a session through unchanged and counts what the
    server answered: one greeting, each tagged command, with its time."""
    import imaplib

    from bench.roundcube.proxy import TimingProxy

    proxy = TimingProxy(server.port).start()
    try:
        conn = imaplib.IMAP4("127.0.0.1", proxy.port, timeout=10)
        conn.login("demo", "demo")
        assert conn.select("INBOX")[0] == "OK"
        assert conn.uid("SORT", "(DATE)", "US-ASCII", "ALL")[0] == "OK"
        conn.logout()
        proxy.quiet_for(0.2)
        tally = proxy.take()
    finally:
        proxy.stop()
    assert tally.connections == 1
    assert {"greeting", "LOGIN", "SELECT", "UID SORT", "LOGOUT"} <= set(tally.calls)
    assert tally.server_s > 0
    assert proxy.take().commands == 0  # take() starts a fresh tally
