"""The ``pyimapd`` command: ``serve`` and ``user add|passwd|del|list``.

These names and options are a contract with users and scripts (README, docs/cli.md).
Every subcommand takes ``--config`` and ``--data-dir``; the command line wins over the file.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pyimapd import migrate
from pyimapd.auth import stored
from pyimapd.auth.passwords import Passwords
from pyimapd.config import Config, ConfigError, TlsConfig, load_config, override
from pyimapd.server import open_backend, peer_feed, prepare_data_dir
from pyimapd.server import run as run_server
from pyimapd.storage.interface import StorageError

USER_NAME = re.compile(r"^[A-Za-z0-9._@+-]{1,255}$")


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


async def _user_command(args: argparse.Namespace, config: Config) -> int:
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"pyimapd: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "serve":
            return run_server(config)
        if args.command == "db":
            return asyncio.run(migrate.db_command(config))
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
