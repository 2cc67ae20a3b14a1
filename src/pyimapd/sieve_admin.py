"""``pyimapd sieve ...`` and ``pyimapd deliver``: Sieve scripts and delivery from the
command line, through the same store routines, checks and filtering as ManageSieve
and LMTP (so an administrator cannot store a script a client could not).

``pyimapd deliver USER [--from SENDER]`` reads one message on stdin and delivers it
as LMTP would, the user's active script included: for an MTA without LMTP (Postfix's
``mailbox_command``, procmail-style setups). Its exit code is sendmail's (sysexits):
0 delivered (or filtered), 67 no such user, 75 try again later, 77 refused for good
(a Sieve reject or a full mailbox without ``quota_tempfail``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pyimapd.admin import opened
from pyimapd.config import Config
from pyimapd.delivery import Delivery, DeliveryResult, Spool
from pyimapd.managesieve.session import InvalidScript, check_script
from pyimapd.services import delivery_policy, sieve_filter
from pyimapd.sieve import Envelope, StaticEnvironment, compile_script, evaluate
from pyimapd.storage.interface import ScriptLimits

EX_NOUSER = 67
EX_TEMPFAIL = 75
EX_NOPERM = 77


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: object) -> None:
    """The ``sieve`` and ``deliver`` subcommands (``common`` adds --data-dir etc.)."""
    p_sieve = sub.add_parser("sieve", help="manage a user's Sieve scripts")
    actions = p_sieve.add_subparsers(dest="action", required=True)
    for name, text, args in (
        ("list", "list the scripts, the active one marked", ()),
        ("get", "print a script", ("name",)),
        ("put", "store a script from FILE (- for stdin), checked first", ("name", "file")),
        ("activate", "make a script the active one", ("name",)),
        ("deactivate", "make no script active", ()),
        ("delete", "delete a script (not the active one)", ("name",)),
        ("check", "check FILE without storing it", ("file",)),
        ("test", "print the actions SCRIPT (a file, a stored script's name, or 'active') "
                 "takes for the message in MESSAGE", ("script", "message")),
    ):
        p = actions.add_parser(name, help=text)
        common(p)  # type: ignore[operator]
        p.add_argument("user")
        for arg in args:
            p.add_argument(arg)
        if name == "test":
            p.add_argument("--from", dest="sender", default="sender@example.org",
                           help="the envelope sender (default sender@example.org)")
    p_deliver = sub.add_parser("deliver", help="deliver one message from stdin (Sieve included)")
    common(p_deliver)  # type: ignore[operator]
    p_deliver.add_argument("user", help="the recipient: an account or an address")
    p_deliver.add_argument("--from", dest="sender", default="",
                           help="the envelope sender (empty: <>)")


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text("utf-8")


async def sieve_command(args: argparse.Namespace, config: Config) -> int:
    async with opened(config) as backend:
        store = await backend.open_owner(args.user)
        scripts = store.scripts()
        try:
            if args.action == "list":
                for info in await scripts.list():
                    mark = "\tactive" if info.active else ""
                    print(f"{info.name}\t{info.size} bytes{mark}")
            elif args.action == "get":
                sys.stdout.write(await scripts.get(args.name))
            elif args.action == "put":
                text = _read(args.file)
                if _check(text):
                    return 1
                sieve = config.sieve
                await scripts.put(args.name, text, ScriptLimits(sieve.max_scripts,
                                                                sieve.max_script_size))
            elif args.action == "activate":
                if _check(await scripts.get(args.name)):
                    return 1
                await scripts.activate(args.name)
            elif args.action == "deactivate":
                await scripts.activate(None)
            elif args.action == "delete":
                await scripts.delete(args.name)
            elif args.action == "check":
                return _check(_read(args.file))
            else:
                return await _test(args, store)
        finally:
            await store.close()
    return 0


def _check(text: str) -> int:
    try:
        check_script(text)
    except InvalidScript as exc:
        for problem in str(exc).split("; "):
            print(f"pyimapd: {problem}", file=sys.stderr)
        return 1
    return 0


async def _test(args: argparse.Namespace, store: object) -> int:
    """The interpreter's verdict, without delivering: what ``sieve-test`` prints."""
    scripts = store.scripts()  # type: ignore[attr-defined]
    if args.script == "active":
        active = await scripts.active()
        if active is None:
            print("no active script: the message would be kept", file=sys.stderr)
            return 0
        text = active[1]
    elif Path(args.script).is_file() or args.script == "-":
        text = _read(args.script)
    else:
        text = await scripts.get(args.script)
    compiled = compile_script(text)
    boxes = {m.name for m in await store.list_mailboxes()}  # type: ignore[attr-defined]
    env = StaticEnvironment(mailboxes=boxes, addresses=[args.user])
    raw = Path(args.message).read_bytes()
    result = await asyncio.to_thread(
        evaluate, compiled, raw, Envelope(from_=args.sender, to=args.user), env)
    for action in result.actions:
        print(action)
    for line in result.errors + result.warnings:
        print(f"note: {line}")
    return 0


async def deliver_command(args: argparse.Namespace, config: Config) -> int:
    async with opened(config) as backend:
        delivery = Delivery(backend, delivery_policy(config), sieve=sieve_filter(config))
        found = await delivery.resolve(args.user)
        if isinstance(found, DeliveryResult):
            return _report(found)
        spool = Spool(config.data_dir / "tmp")
        try:
            # RFC 5321 section 4.4, as LMTP records it.
            spool.feed(f"Return-Path: <{args.sender}>\r\n".encode())
            while chunk := sys.stdin.buffer.read(64 * 1024):
                spool.feed(chunk)
                if spool.size > (config.lmtp.max_message_size or config.limits.max_append):
                    print("pyimapd: message too big", file=sys.stderr)
                    return EX_NOPERM
            prepared = await spool.finish()
            [result] = await delivery.deliver(prepared, [found], sender=args.sender)
        finally:
            spool.close()
    return _report(result)


def _report(result: DeliveryResult) -> int:
    if result.ok:
        return 0
    print(f"pyimapd: {result.code} {result.status} {result.text}", file=sys.stderr)
    if result.status == "5.1.1":
        return EX_NOUSER
    return EX_TEMPFAIL if result.temporary else EX_NOPERM


