"""``pyimapd acl get|set|delete USER MAILBOX [IDENTIFIER [RIGHTS]]`` and the shared
mailboxes of ``pyimapd mailbox create --shared NAME`` (RFC 4314, docs/sharing.md).

The commands act as the mailbox's owner through the same store wrapper a client's
SETACL goes through (storage/sharing.py), so an administrator cannot write an ACL a
client could not: the same rights letters, the obsolete ``c`` and ``d``, the ``+``/``-``
modifiers, and no entry for the owner. MAILBOX is the owner's own name for it; the
shared namespace's mailboxes belong to ``[namespaces] shared_owner``, so they are
``pyimapd acl set SHARED_OWNER NAME anyone lr``.
"""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable

from pyimapd.admin import mailbox_command as own_mailbox_command
from pyimapd.admin import opened
from pyimapd.auth import stored
from pyimapd.auth.passwords import Passwords
from pyimapd.config import Config
from pyimapd.storage import rights
from pyimapd.storage.interface import Backend, MailboxExists, StorageError
from pyimapd.storage.sharing import open_sharing


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: Callable[[argparse.ArgumentParser], None]) -> None:
    p_acl = sub.add_parser("acl", help="show or change who may use a user's mailbox")
    actions = p_acl.add_subparsers(dest="action", required=True)
    for name, text, extra in (
        ("get", "print the mailbox's access control list", ()),
        ("set", "set, add (+RIGHTS) or remove (-RIGHTS) an identifier's rights",
         ("identifier", "rights")),
        ("delete", "remove an identifier's entry", ("identifier",)),
    ):
        p = actions.add_parser(name, help=text)
        common(p)
        p.add_argument("user", help="the mailbox's owner")
        p.add_argument("mailbox", help="the owner's name for it")
        for arg in extra:
            p.add_argument(arg)


async def acl_command(args: argparse.Namespace, config: Config) -> int:
    async with opened(config) as backend:
        store = await open_sharing(backend, args.user)
        try:
            if args.action == "get":
                for identifier, letters in await store.get_acl(args.mailbox):
                    print(f"{identifier}\t{rights.display(letters)}")
            else:
                mod = args.rights if args.action == "set" else None
                await store.set_acl(args.mailbox, args.identifier, mod)
        except StorageError as exc:
            raise SystemExit(f"pyimapd: {exc.text}") from None
        finally:
            await store.close()
    return 0


async def shared_owner(backend: Backend, config: Config) -> str:
    """The account that owns the shared namespace, created on first use with a random
    password nobody knows, so that no one logs in as it."""
    owner = config.namespaces.shared_owner
    if not owner:
        raise SystemExit("pyimapd: shared mailboxes need [namespaces] shared_owner "
                         "in the configuration (docs/sharing.md)")
    if await backend.users.get_user(owner) is None:
        password = secrets.token_urlsafe(32)
        await backend.users.add_user(owner, Passwords(config.argon2).hash(password),
                                     stored.derive(password))
    return owner


async def create_shared(config: Config, name: str) -> int:
    async with opened(config) as backend:
        owner = await shared_owner(backend, config)
        store = await backend.open_owner(owner)
        try:
            await store.create_mailbox(name)
        except MailboxExists:
            raise SystemExit(f"pyimapd: mailbox {name!r} exists") from None
        except StorageError as exc:
            raise SystemExit(f"pyimapd: {exc.text}") from None
        finally:
            await store.close()
    print(f"{config.namespaces.shared}/{name}: grant rights with "
          f"pyimapd acl set {owner} {name!r} IDENTIFIER RIGHTS")
    return 0


async def mailbox_command(args: argparse.Namespace, config: Config) -> int:
    """``pyimapd mailbox``: ``create --shared NAME`` here, the rest in admin.py."""
    if args.action != "create" or (not args.shared and args.name is not None):
        return await own_mailbox_command(args, config)
    if not args.shared or args.name is not None:
        raise SystemExit("pyimapd: mailbox create USER NAME, or mailbox create --shared NAME")
    return await create_shared(config, args.user)
