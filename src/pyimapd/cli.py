"""The ``pyimapd`` command: ``serve``, ``user add|passwd|del|list|quota``, ``import``,
``export``, ``mailbox list|create|delete`` and ``doctor`` (the last four in
:mod:`pyimapd.admin`).

These names and options are a contract with users and scripts (README, docs/cli.md).
Every subcommand takes ``--config`` and ``--data-dir``; the command line wins over the file.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pyimapd import acl_admin, admin, index_admin, migrate, sieve_admin
from pyimapd.auth import stored
from pyimapd.auth.passwords import Passwords
from pyimapd.config import Config, ConfigError, TlsConfig, load_config, override
from pyimapd.logs import setup_logging
from pyimapd.server import open_backend, peer_feed, prepare_data_dir
from pyimapd.server import run as run_server
from pyimapd.storage.interface import QuotaLimits, StorageError, UserStore

USER_NAME = re.compile(r"^[A-Za-z0-9._@+-]{1,255}$")
ADMIN_COMMANDS = {
    "import": admin.import_command,
    "export": admin.export_command,
    "mailbox": acl_admin.mailbox_command,
    "doctor": admin.doctor_command,
    "sync": admin.sync_command,
    "sieve": sieve_admin.sieve_command,
    "deliver": sieve_admin.deliver_command,
    "index": index_admin.index_command,
    "acl": acl_admin.acl_command,
}


def _store_arg(value: str) -> str:
    if value in ("sqlite", "memory") or value.startswith(("postgresql://", "postgres://")):
        return value
    raise argparse.ArgumentTypeError(
        f"invalid store {value!r}: use sqlite, memory or a postgresql:// URL"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--data-dir", type=Path, help="where the store lives (default ./data)")
    parser.add_argument(
        "--store", type=_store_arg, metavar="STORE",
        help="storage backend: sqlite (default), memory or postgresql://USER@HOST/DB",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyimapd", description="An IMAP4rev1 server.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="serve IMAP in the foreground")
    _common(p_serve)
    p_serve.add_argument(
        "--listen", action="append", metavar="HOST:PORT", help="address to listen on (repeatable)"
    )
    p_serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    p_serve.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: one per core)"
    )
    p_serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="TLS certificate (PEM)")
    p_serve.add_argument("--tls-key", type=Path, metavar="FILE", help="TLS private key (PEM)")
    p_serve.add_argument(
        "--listen-tls", action="append", metavar="HOST:PORT",
        help="implicit-TLS address (repeatable); with a certificate, plain ones offer STARTTLS",
    )
    p_serve.add_argument(
        "--listen-lmtp", action="append", metavar="HOST:PORT|unix:PATH",
        help="also accept mail over LMTP here (repeatable; docs/lmtp.md)",
    )
    p_serve.add_argument(
        "--listen-managesieve", action="append", metavar="HOST:PORT",
        help="also serve ManageSieve (RFC 5804) here (repeatable; docs/sieve.md)",
    )
    p_serve.add_argument(
        "--metrics-listen", metavar="HOST:PORT", help="serve Prometheus metrics at /metrics"
    )
    p_serve.add_argument("--log-format", choices=("text", "json"), help="log line format")
    p_user = sub.add_parser("user", help="manage accounts")
    users = p_user.add_subparsers(dest="action", required=True)
    for action, text in (("add", "create an account"), ("passwd", "change a password")):
        p = users.add_parser(action, help=text)
        _common(p)
        p.add_argument("name")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p_del = users.add_parser("del", help="delete an account and all its mail")
    _common(p_del)
    p_del.add_argument("name")
    p_list = users.add_parser("list", help="list accounts")
    _common(p_list)
    p_passwd_file = users.add_parser(
        "import-passwd", help="create accounts from a Dovecot passwd-file, hashes kept")
    _common(p_passwd_file)
    p_passwd_file.add_argument("file", help="user:{SCHEME}hash:... lines")
    p_passwd_file.add_argument("--update", action="store_true",
                               help="also replace the passwords of existing accounts")
    p_quota = users.add_parser("quota", help="show or set an account's quota (RFC 9208)")
    _common(p_quota)
    p_quota.add_argument("name")
    p_quota.add_argument("--storage", type=_quota_arg, metavar="KIB|none", default=_UNCHANGED,
                         help="limit on the size of all messages, in KiB; none: unlimited")
    p_quota.add_argument("--messages", type=_quota_arg, metavar="N|none", default=_UNCHANGED,
                         help="limit on the number of messages; none: unlimited")
    _admin_parsers(sub)
    p_db = sub.add_parser("db", help="manage the store's schema")
    p_migrate = p_db.add_subparsers(dest="action", required=True).add_parser(
        "migrate", help="apply pending schema migrations (PostgreSQL: before starting nodes)"
    )
    _common(p_migrate)
    p_copy = sub.add_parser("migrate-store", help="copy accounts between stores")
    _common(p_copy)
    p_copy.add_argument("src", help="postgresql:// URL, sqlite:DIR or a SQLite data dir")
    p_copy.add_argument("dst", help="the same forms; must not hold the accounts yet")
    p_copy.add_argument(
        "--user", action="append", dest="users", metavar="NAME",
        help="copy this account (repeatable; default: all)",
    )
    return parser


def _admin_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_import = sub.add_parser("import", help="import an mbox file or a Maildir(++) tree")
    _common(p_import)
    p_import.add_argument("user")
    p_import.add_argument("path", help="mbox file, Maildir, or Maildir++ root")
    p_import.add_argument("--mailbox", help="target of an mbox or of the INBOX (default INBOX)")
    p_import.add_argument(
        "--skip-existing", action="store_true", help="skip messages whose Message-ID is there"
    )
    p_import.add_argument("--quiet", action="store_true", help="no progress line")
    keep = p_import.add_mutually_exclusive_group()
    keep.add_argument("--keep-uids", dest="keep_uids", action="store_true", default=None,
                      help="keep Dovecot's UIDVALIDITY and UIDs (dovecot-uidlist) or fail; "
                           "the default keeps them where the target mailbox is new or empty")
    keep.add_argument("--no-keep-uids", dest="keep_uids", action="store_false",
                      help="number the messages anew")
    p_import.add_argument("--doveadm-config", metavar="FILE",
                          help="dovecot.conf for doveadm, to read each mailbox's HIGHESTMODSEQ")
    p_import.add_argument("--dovecot-user", metavar="NAME",
                          help="the user's name on the Dovecot side (default: USER)")
    p_sync = sub.add_parser("sync", help="copy an account from a live IMAP server, "
                                          "keeping UIDs; later runs copy what changed")
    _common(p_sync)
    p_sync.add_argument("user")
    p_sync.add_argument("source", help="imap://LOGIN@HOST[:PORT] or imaps://...")
    p_sync.add_argument("--password-file", metavar="FILE",
                        help="the source password (default: read from stdin)")
    p_sync.add_argument("--dry-run", action="store_true", help="report, change nothing")
    p_sync.add_argument("--insecure", action="store_true",
                        help="do not verify the source's TLS certificate")
    p_sync.add_argument("--quiet", action="store_true", help="no progress lines")
    p_export = sub.add_parser("export", help="write an account's mail as Maildir++")
    _common(p_export)
    p_export.add_argument("user")
    p_export.add_argument("dir")
    p_export.add_argument(
        "--mailbox", action="append", dest="mailboxes", metavar="NAME",
        help="export only this mailbox (repeatable)",
    )
    p_export.add_argument("--crlf", action="store_true", help="keep CRLF line endings")
    p_export.add_argument("--quiet", action="store_true", help="no progress line")
    p_mailbox = sub.add_parser("mailbox", help="list, create or delete a user's mailboxes")
    boxes = p_mailbox.add_subparsers(dest="action", required=True)
    for action, text in (("list", "list mailboxes with counts"), ("create", "create one"),
                         ("delete", "delete one and its messages")):
        p = boxes.add_parser(action, help=text)
        _common(p)
        if action == "create":
            p.add_argument("--shared", action="store_true",
                           help="a public mailbox of the shared namespace: give NAME only")
            p.add_argument("user", metavar="USER", help="the owner (not with --shared)")
            p.add_argument("name", nargs="?")
            continue
        p.add_argument("user")
        if action != "list":
            p.add_argument("name")
    p_doctor = sub.add_parser("doctor", help="check the data dir and the store")
    _common(p_doctor)
    p_doctor.add_argument("--repair", action="store_true",
                          help="first index what the full-text index is missing")
    sieve_admin.add_parsers(sub, _common)
    index_admin.add_parsers(sub, _common)
    acl_admin.add_parsers(sub, _common)


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    listen = tuple(args.listen) if getattr(args, "listen", None) else None
    return override(
        config,
        data_dir=args.data_dir,
        store=args.store,
        listen=listen,
        log_level=getattr(args, "log_level", None),
        workers=getattr(args, "workers", None),
        listen_tls=tuple(args.listen_tls) if getattr(args, "listen_tls", None) else None,
        listen_lmtp=tuple(args.listen_lmtp) if getattr(args, "listen_lmtp", None) else None,
        listen_managesieve=tuple(args.listen_managesieve)
        if getattr(args, "listen_managesieve", None) else None,
        metrics_listen=getattr(args, "metrics_listen", None),
        log_format=getattr(args, "log_format", None),
        tls=_tls_config(config, args),
    )


def _tls_config(config: Config, args: argparse.Namespace) -> TlsConfig | None:
    """``--tls-cert`` and ``--tls-key`` replace the ``[tls]`` paths (both or neither)."""
    cert, key = getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if cert is None and key is None:
        return None
    try:
        return replace(config.tls, cert=cert or config.tls.cert, key=key or config.tls.key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("pyimapd: the passwords differ")
    if not password:
        raise SystemExit("pyimapd: the password is empty")
    return password


_UNCHANGED = -1


def _quota_arg(value: str) -> int | None:
    """``none`` (unlimited) or a non-negative integer."""
    if value.lower() == "none":
        return None
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number or 'none', not {value!r}")
    return int(value)


async def _quota_command(users: UserStore, args: argparse.Namespace) -> int:
    """``pyimapd user quota NAME [--storage KIB|none] [--messages N|none]``: sets the
    limits given, keeps the others, and prints the result."""
    limits = await users.get_quota(args.name)  # NoSuchUser: main() says so, exit 1
    storage, messages = args.storage, args.messages
    if storage != _UNCHANGED or messages != _UNCHANGED:
        limits = QuotaLimits(
            limits.storage_kib if storage == _UNCHANGED else storage,
            limits.messages if messages == _UNCHANGED else messages,
        )
        await users.set_quota(args.name, limits)
    for label, value in (("storage", limits.storage_kib), ("messages", limits.messages)):
        unit = " KiB" if label == "storage" and value is not None else ""
        print(f"{label}: {'none' if value is None else value}{unit}")
    return 0


async def _user_command(args: argparse.Namespace, config: Config) -> int:
    if not config.store.startswith(("postgresql://", "postgres://")):  # nothing kept there
        prepare_data_dir(config)
    feed = peer_feed(config)  # so that running servers hear of a deleted account
    backend = open_backend(config, feed)
    await backend.start()
    if feed is not None:
        feed.start(listen=False)
    try:
        users = backend.users
        if args.action == "list":
            for name in await users.list_users():
                print(name)
            return 0
        if args.action == "quota":
            return await _quota_command(users, args)
        if args.action == "import-passwd":
            return await _import_passwd(users, Path(args.file), args.update, config)
        if args.action != "del" and not USER_NAME.match(args.name):
            raise SystemExit(f"pyimapd: invalid user name {args.name!r}")
        if args.action == "del":
            await users.delete_user(args.name)
            return 0
        password = _read_password(args.password_stdin)
        password_hash = Passwords(config.argon2).hash(password)
        secrets = stored.derive(password)  # CRAM-MD5 and SCRAM; never the password
        if args.action == "add":
            await users.add_user(args.name, password_hash, secrets)
        else:
            if await users.get_user(args.name) is None:
                raise SystemExit(f"pyimapd: no such user {args.name!r}")
            await users.set_password(args.name, password_hash, secrets)
        return 0
    finally:
        await backend.close()


async def _import_passwd(users: UserStore, path: Path, update: bool, config: Config) -> int:
    """Dovecot passwd-file lines (``user:{SCHEME}hash[:uid:gid:gecos:home:shell:extra]``):
    every line is checked first, and nothing is imported when one is wrong (the errors
    name their lines). Hashes are kept as they are (auth/foreign.py) and become argon2id
    at the first login; a ``{PLAIN}`` password is hashed now and not kept."""
    from pyimapd.auth import foreign

    entries: list[tuple[str, str, str]] = []
    errors: list[str] = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        value = rest.split(":", 1)[0]
        parts = foreign.split(value)
        if not USER_NAME.match(name):
            errors.append(f"line {number}: invalid user name {name!r}")
        elif parts is None:
            errors.append(f"line {number}: no {{SCHEME}} prefix on the password of {name}")
        elif (why := foreign.check_format(*parts)) is not None:
            errors.append(f"line {number}: {why}")
        else:
            entries.append((name, parts[0], parts[1]))
    if errors:
        for error in errors:
            print(f"pyimapd: {path}: {error}", file=sys.stderr)
        return 1
    hasher = Passwords(config.argon2)
    added = updated = skipped = 0
    for name, scheme, value in entries:
        if scheme == "PLAIN":
            password_hash, secrets = hasher.hash(value), stored.derive(value)
        else:
            password_hash = f"{{{scheme}}}{value}"
            secrets = ({stored.CRAM_MD5: foreign.cram_md5_from_dovecot(value)}
                       if scheme == "CRAM-MD5" else {})
        if await users.get_user(name) is None:
            # Only INBOX: the account's folders come from the old server (pyimapd import
            # or sync), and folders it never had would show up in every client.
            await users.add_user(name, password_hash, secrets, default_mailboxes=False)
            added += 1
        elif update:
            await users.set_password(name, password_hash, secrets)
            updated += 1
        else:
            skipped += 1
    print(f"{added} accounts added, {updated} updated, {skipped} existing left alone")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"pyimapd: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    try:
        if args.command == "serve":
            return run_server(config)
        if args.command == "db":
            return asyncio.run(migrate.db_command(config))
        if args.command in ADMIN_COMMANDS:
            return asyncio.run(ADMIN_COMMANDS[args.command](args, config))
        if args.command == "migrate-store":
            return asyncio.run(
                migrate.migrate_store_command(config, args.src, args.dst, args.users)
            )
        return asyncio.run(_user_command(args, config))
    except StorageError as exc:
        print(f"pyimapd: {exc.text}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"pyimapd: {exc}", file=sys.stderr)
        return 1
