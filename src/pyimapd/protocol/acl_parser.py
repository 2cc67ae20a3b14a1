"""Arguments of the ACL commands (RFC 4314 section 7); :mod:`pyimapd.protocol.parser`
lists them in its command table.

    setacl     = "SETACL" SP mailbox SP identifier SP mod-rights
    deleteacl  = "DELETEACL" SP mailbox SP identifier
    getacl     = "GETACL" SP mailbox
    listrights = "LISTRIGHTS" SP mailbox SP identifier
    myrights   = "MYRIGHTS" SP mailbox
    identifier = astring ; mod-rights = astring
"""

from __future__ import annotations

from collections.abc import Callable

from pyimapd.protocol import acl_commands as c
from pyimapd.protocol.commands import Command
from pyimapd.protocol.grammar import Reader


def _mailbox(r: Reader) -> str:
    r.sp("mailbox name")
    return r.mailbox()


def _astring(r: Reader, what: str) -> str:
    """Identifiers are UTF-8 (RFC 4314 Appendix A item 1)."""
    r.sp(what)
    return r.astring(what).decode("utf-8", "replace")


def setacl(r: Reader, tag: str, uid: bool) -> Command:
    mailbox = _mailbox(r)
    identifier = _astring(r, "identifier")
    rights = _astring(r, "rights")
    r.end("SETACL")
    return c.SetAcl(tag, mailbox, identifier, rights)


def _with_identifier(
    cls: type[c.DeleteAcl], name: str
) -> Callable[[Reader, str, bool], Command]:
    def parse(r: Reader, tag: str, uid: bool) -> Command:
        mailbox = _mailbox(r)
        identifier = _astring(r, "identifier")
        r.end(name)
        return cls(tag, mailbox, identifier)

    return parse


def _mailbox_only(cls: type[c.GetAcl], name: str) -> Callable[[Reader, str, bool], Command]:
    def parse(r: Reader, tag: str, uid: bool) -> Command:
        mailbox = _mailbox(r)
        r.end(name)
        return cls(tag, mailbox)

    return parse


deleteacl = _with_identifier(c.DeleteAcl, "DELETEACL")
listrights = _with_identifier(c.ListRights, "LISTRIGHTS")
getacl = _mailbox_only(c.GetAcl, "GETACL")
myrights = _mailbox_only(c.MyRights, "MYRIGHTS")
