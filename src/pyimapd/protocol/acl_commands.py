"""The RFC 4314 ACL commands (section 3), apart from :mod:`.commands` to keep it small;
the parser reads them in :mod:`.acl_parser`."""

from __future__ import annotations

from dataclasses import dataclass

from pyimapd.protocol.commands import Command


@dataclass(frozen=True, slots=True)
class GetAcl(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class MyRights(GetAcl):
    pass


@dataclass(frozen=True, slots=True)
class DeleteAcl(GetAcl):
    identifier: str


@dataclass(frozen=True, slots=True)
class ListRights(DeleteAcl):
    pass


@dataclass(frozen=True, slots=True)
class SetAcl(DeleteAcl):
    """``rights``: RFC 4314's mod-rights, ``+`` adds, ``-`` removes, else replaces."""

    rights: str
