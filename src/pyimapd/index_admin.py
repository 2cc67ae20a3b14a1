"""``pyimapd index status|rebuild [USER]``: the full-text index of SEARCH (issue 17).

``rebuild`` indexes what the index is missing (the messages stored before the upgrade
that added it, on SQLite; the indexes a large PostgreSQL store's migration left to
build) while servers keep running: SQLite's rebuild commits every few hundred messages,
PostgreSQL's builds concurrently. ``--reset`` empties the index first, for one found
damaged by ``pyimapd doctor``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import cast

from pyimapd.admin import opened
from pyimapd.config import Config
from pyimapd.mailio.progress import Progress
from pyimapd.storage.interface import Backend, TextIndexed


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: Callable[[argparse.ArgumentParser], None]) -> None:
    p_index = sub.add_parser("index", help="the full-text index of SEARCH")
    actions = p_index.add_subparsers(dest="action", required=True)
    p_status = actions.add_parser("status", help="whether the index is usable, what is left")
    common(p_status)
    p_rebuild = actions.add_parser("rebuild", help="index what is missing, servers running")
    common(p_rebuild)
    p_rebuild.add_argument("user", nargs="?", help="only this account's messages")
    p_rebuild.add_argument("--reset", action="store_true",
                           help="empty the index first (a damaged index; all accounts)")
    p_rebuild.add_argument("--quiet", action="store_true", help="no progress line")


def indexed(backend: Backend) -> TextIndexed | None:
    """The backend's full-text index, if it keeps one (the memory store does not)."""
    if not hasattr(backend, "rebuild_text_index"):
        return None
    return cast(TextIndexed, backend)


async def rebuild(index: TextIndexed, user: str | None, reset: bool, quiet: bool) -> int:
    """Runs a rebuild with a progress line on stderr; returns what it indexed."""
    bar = Progress("indexing", enabled=not quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        if done:
            bar.messages = done - 1  # update() counts one more and redraws when due
            bar.update()

    try:
        return await index.rebuild_text_index(user, reset, progress)
    finally:
        bar.close()


async def index_command(args: argparse.Namespace, config: Config) -> int:
    async with opened(config) as backend:
        index = indexed(backend)
        if index is None:
            print(f"pyimapd: the {config.store} store keeps no full-text index",
                  file=sys.stderr)
            return 1
        if args.action == "status":
            usable, pending = await index.text_index_status()
            print(f"full-text index: {'usable' if usable else 'missing'},"
                  f" {pending} messages not indexed yet")
            return 0 if usable and not pending else 1
        if args.reset and args.user:
            print("pyimapd: --reset empties the whole index: give no user", file=sys.stderr)
            return 2
        if args.user and await backend.users.get_user(args.user) is None:
            print(f"pyimapd: no user {args.user}", file=sys.stderr)
            return 1
        done = await rebuild(index, args.user, args.reset, args.quiet)
        usable, pending = await index.text_index_status()
        print(f"indexed {done}; the index is {'usable' if usable else 'missing'},"
              f" {pending} messages not indexed yet")
        return 0
