"""Administration commands: ``import``, ``export``, ``mailbox list|create|delete`` and
``doctor``. :mod:`pyimapd.cli` parses the command line and calls these.

They open the store the way ``pyimapd user`` does: with the feed that reaches running
servers on the same data dir, so an IMAP session in IDLE sees imported messages and
deleted mailboxes at once.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pyimapd.config import Config
from pyimapd.server import open_backend, peer_feed, prepare_data_dir, run_dir
from pyimapd.storage.interface import Backend, MailboxExists, NotAllowed, StorageError

STALE_TMP = 24 * 3600.0
"""Files older than this in DATA_DIR/tmp were left by a crash."""


@asynccontextmanager
async def opened(config: Config, prepare: bool = True) -> AsyncIterator[Backend]:
    """``prepare``: create the data dir (and its spool) if missing; ``doctor`` does not,
    so that checking a PostgreSQL store leaves no directory behind."""
    if prepare:
        prepare_data_dir(config)
    feed = peer_feed(config)
    backend = open_backend(config, feed)
    await backend.start()
    if feed is not None:
        feed.start(listen=False)
    try:
        yield backend
    finally:
        if feed is not None:
            feed.close()
        await backend.close()


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False)


async def import_command(args: argparse.Namespace, config: Config) -> int:
    from pyimapd.mailio.importer import Importer

    if args.path == "doveadm:":
        return await _import_through_doveadm(args, config)
    path = Path(args.path)
    if not path.exists():
        raise SystemExit(f"pyimapd: {path} does not exist")
    modseqs: dict[str, int] = {}
    if args.keep_uids is not False and path.is_dir():
        from pyimapd.mailio.dovecot import DoveadmError, highest_modseqs

        config_file = Path(args.doveadm_config) if args.doveadm_config else None
        if config_file is not None or args.dovecot_user:
            try:
                modseqs = highest_modseqs(args.dovecot_user or args.user, config_file)
            except DoveadmError as exc:
                raise SystemExit(f"pyimapd: {exc}") from None
    async with opened(config) as backend:
        importer = Importer(
            backend, args.user, skip_existing=args.skip_existing, mailbox=args.mailbox,
            tmp_dir=config.data_dir / "tmp", progress=_progress_wanted(args),
            keep_uids=args.keep_uids, modseqs=modseqs,
        )
        stats = await importer.run(path)
    for name, count in stats.per_mailbox.items():
        print(f"{name}: {count} imported")
    for note in stats.notes:
        print(f"note: {note}")
    print(f"imported {stats.imported}, skipped {stats.skipped}, failed {stats.failed}")
    for error in stats.errors[:20]:
        print(f"  {error}", file=sys.stderr)
    return 1 if stats.failed else 0


async def sync_command(args: argparse.Namespace, config: Config) -> int:
    import ssl

    from pyimapd.mailio.sync import Source, Syncer, SyncError

    try:
        source = Source.parse(args.source)
    except SyncError as exc:
        raise SystemExit(f"pyimapd: {exc}") from None
    if args.password_file:
        password = Path(args.password_file).read_text().rstrip("\r\n")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    tls = ssl.create_default_context()
    if args.insecure:
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    async with opened(config) as backend:
        store = await backend.open_owner(args.user)
        try:
            syncer = Syncer(store, source, password, config.data_dir / "sync", args.user,
                            dry_run=args.dry_run, progress=_progress_wanted(args), tls=tls,
                            tmp_dir=config.data_dir / "tmp")
            report = await syncer.run()
        except SyncError as exc:
            raise SystemExit(f"pyimapd: {exc}") from None
        finally:
            await store.close()
    verb = "would add" if args.dry_run else "added"
    for box in report.mailboxes:
        uids = "UIDs kept" if box.kept_uids else "new UIDs (the mailbox had other mail)"
        print(f"{box.name}: {verb} {box.added}, flags {box.flags_changed}, "
              f"removed {box.removed}, skipped {box.skipped}; {uids}")
    for failure in report.failed:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if report.failed else 0


async def _import_through_doveadm(args: argparse.Namespace, config: Config) -> int:
    """``pyimapd import USER doveadm:``: Dovecot writes the user's mail (any of its
    formats) as a Maildir with UIDs into a temporary directory, which is imported with
    the UIDs kept and removed afterwards."""
    import shutil
    import tempfile

    from pyimapd.mailio.dovecot import DoveadmError, export_maildir

    # Outside the data dir, which stays 0700: doveadm writes as Dovecot's mail user,
    # into a directory of its own (0700) below this one.
    base = Path(tempfile.mkdtemp(prefix="pyimapd-doveadm-"))
    try:
        base.chmod(0o777)
        config_file = Path(args.doveadm_config) if args.doveadm_config else None
        try:
            export_maildir(args.dovecot_user or args.user, config_file, base / "maildir")
        except DoveadmError as exc:
            raise SystemExit(f"pyimapd: {exc}") from None
        args.path = str(base / "maildir")
        if args.keep_uids is None:
            args.keep_uids = True
        return await import_command(args, config)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def export_command(args: argparse.Namespace, config: Config) -> int:
    from pyimapd.mailio.exporter import Exporter

    async with opened(config) as backend:
        exporter = Exporter(
            backend, args.user, Path(args.dir), crlf=args.crlf,
            mailboxes=args.mailboxes, progress=_progress_wanted(args),
        )
        stats = await exporter.run()
    for name, count in stats.per_mailbox.items():
        print(f"{name}: {count} exported")
    print(f"exported {stats.exported} messages to {args.dir}")
    return 0


async def mailbox_command(args: argparse.Namespace, config: Config) -> int:
    async with opened(config) as backend:
        store = await backend.open_owner(args.user)
        try:
            if args.action == "list":
                for box in await store.list_mailboxes():
                    if box.noselect:
                        print(f"{box.name}\t\\Noselect")
                        continue
                    st = await store.status(box.name)
                    print(f"{box.name}\t{st.messages} messages\t{st.unseen} unseen\t"
                          f"{st.size} bytes")
            elif args.action == "create":
                try:
                    await store.create_mailbox(args.name)
                except MailboxExists:
                    raise SystemExit(f"pyimapd: mailbox {args.name!r} exists") from None
            else:
                await store.delete_mailbox(args.name)
        except NotAllowed as exc:
            raise SystemExit(f"pyimapd: {exc.text}") from None
        finally:
            await store.close()
    return 0


# --- doctor ------------------------------------------------------------------------------


def _mode_problems(path: Path, want: int, what: str) -> list[str]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    problems = []
    if stat.S_IMODE(st.st_mode) & ~want:
        problems.append(
            f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}: others can read "
            f"mail; run `chmod {want:04o} {path}`"
        )
    if st.st_uid != os.geteuid():
        problems.append(f"{what} {path} belongs to uid {st.st_uid}, not to the user "
                        f"running pyimapd (uid {os.geteuid()})")
    return problems


def _stale_files(config: Config) -> list[str]:
    problems = []
    tmp = config.data_dir / "tmp"
    if tmp.is_dir():
        old = [p for p in tmp.iterdir() if time.time() - p.lstat().st_mtime > STALE_TMP]
        if old:
            problems.append(f"{len(old)} files in {tmp} are over a day old (left by a "
                            "crash); they can be deleted while pyimapd is stopped")
    run = run_dir(config)
    if run.is_dir():
        dead = []
        for sock in run.glob("w*.sock"):
            pid = sock.stem[1:]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                dead.append(sock.name)
        if dead:
            problems.append(f"{len(dead)} sockets in {run} belong to workers that are "
                            "gone; they are removed on the next notification, or by hand")
    return problems


def _external(config: Config) -> bool:
    """A store outside the data dir (PostgreSQL): the data dir then holds only the
    import spool and the worker sockets, and need not exist."""
    return config.store.startswith(("postgresql://", "postgres://"))


def shown_store(store: str) -> str:
    """The store as the report shows it: a ``postgresql://`` URL without its password."""
    if not store.startswith(("postgresql://", "postgres://")):
        return store
    parts = urlsplit(store)
    netloc = parts.netloc
    if parts.password is not None:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = urlencode([(k, "***" if k == "password" else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def file_checks(config: Config) -> list[str]:
    """Modes, ownership and leftovers; run before the store opens (which resets modes)."""
    data = config.data_dir
    if not data.is_dir():
        if _external(config):
            return []
        return [f"the data directory {data} does not exist (create an account first: "
                "`pyimapd user add NAME`)"]
    problems = _mode_problems(data, 0o700, "the data directory")
    if config.store == "sqlite":
        db = data / "pyimapd.sqlite3"
        if not db.exists():
            problems.append(f"there is no database at {db}")
        for suffix in ("", "-wal", "-shm"):
            problems += _mode_problems(Path(f"{db}{suffix}"), 0o600, "the database file")
    return problems + _stale_files(config)


async def _store_checks(config: Config, repair: bool = False) -> list[str]:
    from pyimapd.index_admin import indexed, rebuild

    async with opened(config, prepare=config.data_dir.is_dir()) as backend:
        users = await backend.users.list_users()
        print(f"accounts: {len(users)}")
        checker = getattr(backend, "check", None)
        if checker is None:
            print(f"note: the {config.store} store has no self-check")
            return []
        index = indexed(backend) if repair else None
        if index is not None:
            print(f"repair: indexed {await rebuild(index, None, False, False)}")
        problems: list[str] = await checker()
        if index is not None and any("index rebuild --reset" in p for p in problems):
            print(f"repair: indexed {await rebuild(index, None, True, False)} anew")
            problems = await checker()
        return problems


async def doctor_command(args: argparse.Namespace, config: Config) -> int:
    problems = file_checks(config)
    print(f"data directory: {config.data_dir.resolve()} (store: {shown_store(config.store)})")
    no_db = not _external(config) and (not config.data_dir.is_dir() or (
        config.store == "sqlite" and not (config.data_dir / "pyimapd.sqlite3").exists()
    ))
    if not no_db:
        try:
            problems += await _store_checks(config, getattr(args, "repair", False))
        except StorageError as exc:  # unreachable, busy, or a schema it must not use
            problems.append(f"the store cannot be used: {exc.text}")
        except Exception as exc:  # a damaged file often fails before any check runs
            problems.append(f"the store cannot be opened or read ({type(exc).__name__}: "
                            f"{exc}); restore it from a backup")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if not problems:
        print("everything looks fine")
    return 1 if problems else 0
