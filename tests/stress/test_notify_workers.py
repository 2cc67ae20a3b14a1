"""NOTIFY (RFC 5465) across worker processes: a registration on one worker hears of a
mailbox created, a message delivered and a subscription changed through the other one,
between commands, over the workers' change datagrams (transport/peers.py)."""

from __future__ import annotations

from serverutil import start_server
from stress.conftest import wait_workers
from stress.procnet import owner_pid
from stress.wire import Connection


async def test_notify_across_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    handle = start_server(tmp_path, extra_args=("--workers", "2"))
    try:
        pids = wait_workers(handle, 2)
        on: dict[int, Connection] = {}
        for _ in range(200):
            conn = await Connection.open(handle.host, handle.port)
            pid = owner_pid(conn.writer.get_extra_info("sockname")[1], pids)
            if pid is None or pid in on:
                await conn.close()
                continue
            on[pid] = conn
            if len(on) == 2:
                break
        assert len(on) == 2, "connections did not reach both workers"
        watcher, writer = on[pids[0]], on[pids[1]]
        for conn in (watcher, writer):
            _, tagged = await conn.command("LOGIN demo demo")
            assert tagged.status() == "OK", tagged.raw
        _, tagged = await watcher.command(
            "NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))")
        assert tagged.status() == "OK", tagged.raw
        await writer.command("CREATE Shared")
        await watcher.expect(b'* LIST (\\HasNoChildren) "/" Shared')
        _, tagged = await writer.command("APPEND Shared", literal=b"S: x\r\n\r\nb\r\n")
        assert tagged.status() == "OK", tagged.raw
        await watcher.expect(b"* STATUS Shared (MESSAGES 1 UIDNEXT 2)")
        await writer.command("SUBSCRIBE Shared")
        await watcher.expect(b'* LIST (\\HasNoChildren \\Subscribed) "/" Shared')
        for conn in (watcher, writer):
            await conn.close()
    finally:
        handle.stop()
