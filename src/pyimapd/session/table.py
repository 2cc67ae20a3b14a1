"""The command table: for each command, its handler, the states it is allowed in and the
capability it brings. Dispatch, state checks and the CAPABILITY list all come from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pyimapd.protocol import acl_commands as a
from pyimapd.protocol import commands as c
from pyimapd.protocol import metadata_commands as md
from pyimapd.protocol.multisearch import Esearch
from pyimapd.session.handlers import (
    acl,
    append,
    auth,
    compress,
    context,
    fetch,
    idle,
    info,
    mailbox,
    message,
    metadata,
    multisearch,
    notify,
    quota,
    search,
    urlauth,
)
from pyimapd.session.handlers import any as any_
from pyimapd.session.handlers import sort as sort_
from pyimapd.session.state import ANY, AUTH, NOT_AUTH, SELECTED, Result, State
from pyimapd.storage import rights

Handler = Callable[[Any, Any], Awaitable[Result]]


def _always(_: c.Command) -> bool:
    return True


def _uid_only(command: c.Command) -> bool:
    """RFC 3501 section 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH, but the
    UID forms may carry them since they do not depend on sequence numbers."""
    return bool(getattr(command, "uid", False))


@dataclass(frozen=True, slots=True)
class CommandSpec:
    handler: Handler
    states: frozenset[State]
    capability: str | None = None
    allows_expunge: Callable[[c.Command], bool] = _always


TABLE: dict[type[c.Command], CommandSpec] = {
    c.Capability: CommandSpec(any_.capability, ANY),
    c.Noop: CommandSpec(any_.noop, ANY),
    c.Logout: CommandSpec(any_.logout, ANY),
    c.StartTLS: CommandSpec(auth.starttls, NOT_AUTH),
    c.Login: CommandSpec(auth.login, NOT_AUTH),
    c.Authenticate: CommandSpec(auth.authenticate, NOT_AUTH),
    c.Select: CommandSpec(mailbox.select, AUTH),
    c.Examine: CommandSpec(mailbox.examine, AUTH),
    c.Create: CommandSpec(mailbox.create, AUTH),
    c.Delete: CommandSpec(mailbox.delete, AUTH),
    c.Rename: CommandSpec(mailbox.rename, AUTH),
    c.Subscribe: CommandSpec(mailbox.subscribe, AUTH),
    c.Unsubscribe: CommandSpec(mailbox.unsubscribe, AUTH),
    c.List: CommandSpec(mailbox.list_, AUTH),
    c.Lsub: CommandSpec(mailbox.lsub, AUTH),
    c.Status: CommandSpec(mailbox.status, AUTH),
    c.AppendStart: CommandSpec(append.append, AUTH),
    c.Check: CommandSpec(message.check, SELECTED),
    c.Close: CommandSpec(message.close, SELECTED),
    c.Expunge: CommandSpec(message.expunge, SELECTED, capability="UIDPLUS"),
    c.Search: CommandSpec(search.search, SELECTED, allows_expunge=_uid_only),
    c.Sort: CommandSpec(sort_.sort, SELECTED, capability="SORT", allows_expunge=_uid_only),
    c.Thread: CommandSpec(sort_.thread, SELECTED, capability="THREAD=ORDEREDSUBJECT",
                          allows_expunge=_uid_only),
    c.CancelUpdate: CommandSpec(context.cancelupdate, SELECTED),
    Esearch: CommandSpec(multisearch.esearch, AUTH, capability="MULTISEARCH"),
    c.Notify: CommandSpec(notify.notify, AUTH, capability="NOTIFY"),
    c.Unauthenticate: CommandSpec(auth.unauthenticate, AUTH, capability="UNAUTHENTICATE"),
    c.Fetch: CommandSpec(fetch.fetch, SELECTED, allows_expunge=_uid_only),
    c.Store: CommandSpec(message.store, SELECTED, allows_expunge=_uid_only),
    c.Copy: CommandSpec(message.copy, SELECTED),
    c.Idle: CommandSpec(idle.idle, AUTH, capability="IDLE"),
    c.Namespace: CommandSpec(info.namespace, AUTH, capability="NAMESPACE"),
    c.Unselect: CommandSpec(message.unselect, SELECTED, capability="UNSELECT"),
    c.Move: CommandSpec(message.move, SELECTED, capability="MOVE"),
    c.ReplaceStart: CommandSpec(append.replace, SELECTED, capability="REPLACE"),
    c.Id: CommandSpec(info.id_, ANY, capability="ID"),
    c.Enable: CommandSpec(info.enable, AUTH, capability="ENABLE"),
    c.GetQuota: CommandSpec(quota.getquota, AUTH, capability="QUOTA"),
    c.GetQuotaRoot: CommandSpec(quota.getquotaroot, AUTH),
    c.SetQuota: CommandSpec(quota.setquota, AUTH),
    c.Compress: CommandSpec(compress.compress, AUTH, capability="COMPRESS=DEFLATE"),
    c.GenUrlAuth: CommandSpec(urlauth.genurlauth, AUTH, capability="URLAUTH"),
    c.ResetKey: CommandSpec(urlauth.resetkey, AUTH),
    c.UrlFetch: CommandSpec(urlauth.urlfetch, AUTH),
    a.SetAcl: CommandSpec(acl.setacl, AUTH, capability="ACL"),
    a.DeleteAcl: CommandSpec(acl.deleteacl, AUTH),
    a.GetAcl: CommandSpec(acl.getacl, AUTH),
    a.ListRights: CommandSpec(acl.listrights, AUTH),
    a.MyRights: CommandSpec(acl.myrights, AUTH),
    md.GetMetadata: CommandSpec(metadata.getmetadata, AUTH, capability="METADATA"),
    md.SetMetadata: CommandSpec(metadata.setmetadata, AUTH),
}

EXTENSIONS: tuple[str, ...] = ("LITERAL+", "CONDSTORE", "QRESYNC", "STATUS=SIZE")
EXTENSIONS += ("QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "MULTIAPPEND", "BINARY")
"""RFC 9208 section 3.1: the resources the QUOTA commands report and the store enforces;
RFC 3502: APPEND takes several messages (handlers/append.py, store.append_many); RFC
3516: FETCH BINARY / BINARY.SIZE (handlers/binary.py) and APPEND's literal8."""
"""Capabilities that change how existing commands behave rather than add a command.
LITERAL+ (RFC 7888): the parser takes ``{n+}`` anywhere, up to the same limits as
``{n}``; LITERAL- is not advertised with it (section 5 forbids both). CONDSTORE and
QRESYNC (RFC 7162) extend SELECT, FETCH, STORE, SEARCH, STATUS and EXPUNGE; STATUS=SIZE
(RFC 8438) adds the SIZE status item."""
EXTENSIONS += ("CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE")
"""RFC 3348, 5258, 5819 and 6154: LIST options and attributes and CREATE's USE parameter
(handlers/listing.py, handlers/mailbox.py)."""
EXTENSIONS += ("THREAD=REFERENCES", "ESEARCH", "SEARCHRES", "WITHIN", "CATENATE")
"""THREAD's second algorithm (RFC 5256): the THREAD command brings ORDEREDSUBJECT.
ESEARCH (RFC 4731): SEARCH RETURN (MIN MAX ALL COUNT); SEARCHRES (RFC 5182): RETURN
(SAVE) and ``$`` (session/view.py); WITHIN (RFC 5032): OLDER and YOUNGER search keys
(handlers/search.py binds them to a fixed moment); CATENATE (RFC 4469): APPEND's
``CATENATE (TEXT literal / URL url ...)`` (protocol/append_parser.py,
handlers/urls.py)."""
EXTENSIONS += ("SORT=DISPLAY", "ESORT", "PARTIAL")
"""RFC 5957: the DISPLAYFROM and DISPLAYTO sort keys (search/sort.py). ESORT (RFC 5267
section 3): SORT RETURN (...) answered with ESEARCH (handlers/sort.py). PARTIAL (RFC
9394): the PARTIAL result option of SEARCH and SORT and UID FETCH's PARTIAL modifier."""
EXTENSIONS += ("CONTEXT=SEARCH", "CONTEXT=SORT")
"""RFC 5267 section 4: CONTEXT and UPDATE for SEARCH and SORT, ADDTO/REMOVEFROM from
the view's refresh, CANCELUPDATE (handlers/context.py)."""

EXTENSIONS += ("OBJECTID", "PREVIEW", "SAVEDATE", "SEARCH=FUZZY")
"""RFC 8474 (handlers/objectid.py): MAILBOXID in SELECT, EXAMINE, CREATE and STATUS;
FETCH EMAILID and THREADID (NIL: threads are not kept); SEARCH EMAILID and THREADID.
PREVIEW (RFC 8970, mime/preview.py): FETCH PREVIEW [(LAZY)], made once at APPEND.
SAVEDATE (RFC 8514): FETCH SAVEDATE and SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED.
UTF8=ACCEPT (RFC 6855) is advertised by handlers/any.py, with ``utf8_accept`` set: after
ENABLE, UTF-8 mailbox names out, ``UTF8 (~{n})`` APPEND and CATENATE data
(protocol/append_parser.py) and no SEARCH CHARSET; without it an APPEND whose header
holds 8-bit octets is refused (handlers/append.py).
SEARCH=FUZZY (RFC 6203, search/fuzzy.py): FUZZY on the string keys, the RELEVANCY
result option and sort key, on every store (through the full-text index where there is
one)."""

EXTENSIONS += ("UIDONLY",)
"""RFC 9586 (handlers/uidonly.py): after ENABLE UIDONLY, message numbers in commands get
BAD [UIDREQUIRED] (checked once, in Session.dispatch), FETCH responses are UIDFETCH and
expunges VANISHED (the view's numbering), SELECT sends no UNSEEN code."""

EXTENSIONS += (f"RIGHTS={rights.EXTRA_RIGHTS}", "LIST-MYRIGHTS")
"""RFC 4314 section 5.1.1: the rights beyond RFC 2086's (storage/rights.py); ACL comes
with SETACL in the table (handlers/acl.py, enforced in storage/sharing.py).
LIST-MYRIGHTS (RFC 8440): LIST's MYRIGHTS return option (handlers/mailbox.py)."""

_NAMES = {a.SetAcl: "SETACL", a.DeleteAcl: "DELETEACL", a.GetAcl: "GETACL",
          a.ListRights: "LISTRIGHTS", a.MyRights: "MYRIGHTS",
          md.GetMetadata: "GETMETADATA", md.SetMetadata: "SETMETADATA",
          c.AppendStart: "APPEND", c.ReplaceStart: "REPLACE", c.Lsub: "LSUB",
          c.StartTLS: "STARTTLS", c.GenUrlAuth: "GENURLAUTH", c.ResetKey: "RESETKEY",
          c.UrlFetch: "URLFETCH"}


def command_name(command: c.Command) -> str:
    """The command's wire name, as used in response texts: ``UID FETCH``, ``APPEND``."""
    name = _NAMES.get(type(command), type(command).__name__.upper())
    return f"UID {name}" if getattr(command, "uid", False) else name


@cache
def capabilities() -> tuple[str, ...]:
    """The capabilities the table's commands bring, in table order (the table is fixed
    at import, so this is worked out once)."""
    names = [spec.capability for spec in TABLE.values() if spec.capability]
    return tuple(dict.fromkeys([*names, *EXTENSIONS]))
