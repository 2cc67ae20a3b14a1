"""``pyimapd db migrate`` and ``pyimapd migrate-store SRC DST``: schema upgrades and
copying accounts between stores (SQLite <-> PostgreSQL).

How this works: :func:`migrate_schema` brings a store's schema up to date (PostgreSQL
needs it explicitly, since nodes refuse to start on an old schema; SQLite migrates
itself when opened). :func:`copy_account` copies one account through the storage
interface only, so it works between any two backends: the user with its password hash
and SASL secrets, every mailbox (``\\Noselect`` ones too), the subscriptions, and each
message with its flags and internal date. Bodies stream from the source's ``read`` into
a delivery spool and are parsed again, exactly as an APPEND would be, so no message is
held in memory whole. Messages get new UIDs in the destination (a fresh UIDVALIDITY), so
clients resynchronise once: docs/postgres.md says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pyimapd.config import Config
from pyimapd.delivery import Spool
from pyimapd.server import open_backend
from pyimapd.storage.interface import Backend, MailStore, StorageError
from pyimapd.storage.names import INBOX


@dataclass
class CopyReport:
    users: int = 0
    mailboxes: int = 0
    messages: int = 0
    bytes: int = 0


async def migrate_schema(backend: Backend) -> str:
    """Applies pending schema migrations; returns a line for the operator."""
    migrate = getattr(backend, "migrate", None)
    if migrate is not None:
        before, after = await migrate()
        if before == after:
            return f"schema is up to date (version {after})"
        return f"schema migrated from version {before} to {after}"
    await backend.start()  # SQLite migrates when it opens; memory has no schema
    await backend.close()
    return "schema is up to date"


async def copy_account(
    src: Backend, dst: Backend, user: str, report: CopyReport, tmp_dir: Path | None = None
) -> None:
    """Copies ``user`` from ``src`` to ``dst``; refuses if ``dst`` already has it."""
    record = await src.users.get_user(user)
    if record is None:
        raise StorageError(f"No user {user} in the source store")
    if await dst.users.get_user(user) is not None:
        raise StorageError(f"User {user} already exists in the destination store")
    await dst.users.add_user(
        user, record.password_hash, dict(record.secrets), default_mailboxes=False)
    source, target = await src.open_owner(user), await dst.open_owner(user)
    try:
        mailboxes = sorted(await source.list_mailboxes(), key=lambda m: m.name)
        for mailbox in mailboxes:
            if mailbox.name != INBOX:
                await target.create_mailbox(mailbox.name, mailbox.special_use)
            report.mailboxes += 1
        for mailbox in mailboxes:
            if not mailbox.noselect:
                await _copy_messages(source, target, mailbox.name, report, tmp_dir)
        for mailbox in reversed(mailboxes):  # inferiors exist, so these stay \Noselect
            if mailbox.noselect:
                await target.delete_mailbox(mailbox.name)
        for name in await source.list_subscriptions():
            await target.set_subscribed(name, True)
    finally:
        await source.close()
        await target.close()
    report.users += 1


async def _copy_messages(
    source: MailStore, target: MailStore, name: str, report: CopyReport, tmp_dir: Path | None
) -> None:
    """EXAMINE (read-only: no \\Recent is claimed in the source) and APPEND each message
    in UID order."""
    selected, result = await source.select(name, readonly=True)
    try:
        if not result.uids:
            return
        async for record in selected.fetch([(1, result.uids[-1])], with_structure=False):
            spool = Spool(tmp_dir)
            try:
                async for chunk in selected.read(record.content, 0, record.size):
                    spool.feed(chunk)
                prepared = await spool.finish()
                await target.append(name, prepared, record.flags, record.internaldate)
            finally:
                spool.close()
            report.messages += 1
            report.bytes += record.size
    finally:
        await selected.close()


async def copy_store(
    src: Backend, dst: Backend, users: list[str] | None, tmp_dir: Path | None = None
) -> CopyReport:
    """Copies the named accounts, or every account of ``src`` when ``users`` is None."""
    report = CopyReport()
    for user in users if users is not None else await src.users.list_users():
        await copy_account(src, dst, user, report, tmp_dir)
    return report


# --- the CLI's side ----------------------------------------------------------------------


def store_config(spec: str, base: Config) -> Config:
    """A store given on the command line: a ``postgresql://`` URL, ``memory``,
    ``sqlite:DIR`` or a SQLite data dir."""
    if spec.startswith(("postgresql://", "postgres://")) or spec == "memory":
        return replace(base, store=spec)
    path = spec.removeprefix("sqlite:")
    return replace(base, store="sqlite", data_dir=Path(path))


async def db_command(config: Config) -> int:
    """``pyimapd db migrate``."""
    print(f"pyimapd: {await migrate_schema(open_backend(config))}")
    return 0


async def migrate_store_command(
    base: Config, src_spec: str, dst_spec: str, users: list[str] | None
) -> int:
    """``pyimapd migrate-store SRC DST [--user NAME]...``."""
    src = open_backend(store_config(src_spec, base))
    dst_config = store_config(dst_spec, base)
    dst = open_backend(dst_config)
    await src.start()
    try:
        await dst.start()
        try:
            tmp = dst_config.data_dir / "tmp" if dst_config.store == "sqlite" else None
            if tmp is not None:
                tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
            report = await copy_store(src, dst, users, tmp)
        finally:
            await dst.close()
    finally:
        await src.close()
    print(f"pyimapd: copied {report.users} account(s), {report.mailboxes} mailbox(es),"
          f" {report.messages} message(s), {report.bytes} bytes")
    return 0
