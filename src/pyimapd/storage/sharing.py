"""Sharing (RFC 4314 ACLs over RFC 2342 namespaces), enforced in the store layer.

How this works: ``Backend.open(user)`` returns a :class:`SharingStore`, which wraps the
unchecked per-owner stores (``Backend.open_owner``). Every name the session passes is
resolved by :meth:`SharingStore.locate` into a :class:`Place`: whose account it is in,
the owner's own name for it, and the caller's rights there. ``Other Users/<owner>/<name>``
reaches another user's mailbox, ``Shared/<name>`` one of the configured pseudo-owner's
(:class:`Namespaces`); any other name is the caller's own, where the owner has every
right. A name is only ever split at the namespace prefix and the owner component, and
the rest is looked up as one opaque name in that owner's account, so ``..``, ``~`` or
wildcards mean nothing; a mailbox whose ACL gives the caller no ``l`` right answers
exactly as a missing one (NoSuchMailbox), and with ``l`` but not the needed right
:class:`~pyimapd.storage.interface.NoPermission` (RFC 4314 section 4). What the selected
state may do is checked by :class:`~pyimapd.storage.sharing_selected.SharedSelected`.

Writes into another owner's mailbox go through that owner's store, so the change feed
hears them under the owner's ``(user, mailbox)``: the owner's IDLE wakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from pyimapd.storage import metadata as md
from pyimapd.storage import names
from pyimapd.storage import rights as r
from pyimapd.storage.interface import (
    DELIMITER,
    AppendItem,
    AppendResult,
    MailboxRecord,
    MailboxStatus,
    MailStore,
    NoPermission,
    NoSuchMailbox,
    NotAllowed,
    PreparedMessage,
    QuotaUsage,
    ScriptStore,
    SelectResult,
)
from pyimapd.storage.sharing_selected import SharedSelected, allowed_flags

if TYPE_CHECKING:
    from pyimapd.storage.interface import Backend


@dataclass(frozen=True, slots=True)
class Namespaces:
    """``[namespaces]``: the prefixes of RFC 2342's other users' and shared namespaces,
    and the account whose mailboxes the shared namespace shows (empty: no shared
    namespace). The pseudo-owner is an ordinary account; give it no password that works
    (``pyimapd user add`` with a random one) so no one logs in as it."""

    other: str = "Other Users"
    shared: str = "Shared"
    shared_owner: str = ""

    def __post_init__(self) -> None:
        for prefix in (self.other, self.shared):
            if not prefix or DELIMITER in prefix or prefix.upper() == names.INBOX:
                raise ValueError("namespace prefixes are one non-empty component, not INBOX")
        if self.other == self.shared:
            raise ValueError("the two namespace prefixes must differ")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a name leads. ``mailbox`` is the owner's own name for it ("" for a
    namespace node such as ``Other Users/bob``, which is no mailbox); ``prefix`` is what
    the caller's name has before it; ``rights`` the caller's (canonical letters) and
    ``exists`` whether the owner has the mailbox (meaningful only with ``l``)."""

    owner: str
    mailbox: str
    prefix: str
    rights: str = ""
    exists: bool = False

    @property
    def personal(self) -> bool:
        return self.prefix == ""

    def outside(self, owner_name: str) -> str:
        """The caller's name for the owner's mailbox ``owner_name``."""
        return self.prefix + owner_name


def _denied(name: str, place: Place, right: str) -> Exception:
    if "l" not in place.rights:
        return NoSuchMailbox(f"Mailbox {name} does not exist")
    return NoPermission(f"The {right} right on {name} is needed")


class SharingStore:
    """The :class:`MailStore` a session gets: the user's own store, and others' mailboxes
    as their ACLs allow."""

    def __init__(self, backend: Backend, own: MailStore, namespaces: Namespaces) -> None:
        self._backend = backend
        self._own = own
        self.user = own.user
        self.namespaces = namespaces
        self._owners: dict[str, MailStore] = {own.user: own}

    # --- names and rights ---------------------------------------------------------

    def split(self, name: str) -> Place:
        """Which account and mailbox ``name`` means, without rights (no store access)."""
        ns = self.namespaces
        head, _, rest = name.partition(DELIMITER)
        if head == ns.other:
            owner, _, mailbox = rest.partition(DELIMITER)
            if not owner or owner in (self.user, ns.shared_owner):
                # Oneself and the pseudo-owner have their own names: nothing here.
                return Place("", "", ns.other + DELIMITER)
            return Place(owner, names.normalize(mailbox) if mailbox else "",
                         f"{ns.other}{DELIMITER}{owner}{DELIMITER}")
        if head == ns.shared and ns.shared_owner:
            return Place(ns.shared_owner, names.normalize(rest) if rest else "",
                         ns.shared + DELIMITER)
        return Place(self.user, names.normalize(name), "")

    def feed_key(self, name: str) -> tuple[str, str]:
        """The change-feed key of ``name``: the owner's ``(user, mailbox)``, so a session
        watching a shared mailbox hears what others do there and the other way round."""
        place = self.split(name)
        return place.owner or self.user, place.mailbox or name

    async def locate(self, name: str) -> Place:
        """``name`` resolved with the caller's rights: every right in the own account
        (without a query: ``exists`` is then not looked up), the ACL's otherwise (none
        for a missing mailbox or a namespace node)."""
        place = self.split(name)
        if place.owner == self.user:
            return replace(place, rights=r.ALL, exists=True)
        if not place.owner or not place.mailbox:
            return place
        return await self._with_acl(place, place.mailbox)

    async def _with_acl(self, place: Place, mailbox: str) -> Place:
        """``mailbox`` of the place's owner, with the caller's rights and existence."""
        acl = await self._backend.get_acl(place.owner, mailbox)
        if acl is None:
            return replace(place, mailbox=mailbox, rights="", exists=False)
        letters = r.ALL if place.owner == self.user else r.effective(acl, self.user)
        return replace(place, mailbox=mailbox, rights=letters, exists=True)

    async def need(self, name: str, right: str) -> Place:
        """The place of ``name`` when the caller has ``right`` there (every letter of a
        longer string), else NoSuchMailbox without ``l`` or NoPermission with it."""
        place = await self.locate(name)
        for letter in right:
            if letter not in place.rights:
                raise _denied(name, place, letter)
        return place

    async def owner_store(self, owner: str) -> MailStore:
        store = self._owners.get(owner)
        if store is None:
            store = self._owners[owner] = await self._backend.open_owner(owner)
        return store

    async def _parent_place(self, place: Place) -> Place | None:
        """The nearest existing superior of ``place`` in its account, with the caller's
        rights there (RFC 4314 section 4's CREATE check), or None at the top."""
        for parent in reversed(names.parents(place.mailbox)):
            found = await self._with_acl(place, parent)
            if found.exists:
                return found
        return None

    async def _may_create(self, name: str, place: Place) -> Place | None:
        """Checks the ``k`` right on the nearest existing parent (the owner has it
        everywhere in their account); returns that parent's place, to inherit its ACL."""
        parent = await self._parent_place(place)
        if place.personal:
            return parent
        if place.exists and "l" in place.rights:
            return parent  # the owner's store answers ALREADYEXISTS
        if parent is None or "k" not in parent.rights:
            raise NoPermission(f"The k right on the parent of {name} is needed")
        return parent

    # --- ACLs (RFC 4314 section 3) ---------------------------------------------------

    async def _acl_of(self, name: str, right: str) -> tuple[Place, dict[str, str]]:
        """The place of ``name`` when the caller has ``right`` there, with its ACL; the
        own account is looked up too, so a missing mailbox is NONEXISTENT there also."""
        place = await self.need(name, right)
        acl = await self._backend.get_acl(place.owner, place.mailbox)
        if acl is None:
            raise NoSuchMailbox(f"Mailbox {name} does not exist")
        return place, acl

    async def myrights(self, name: str) -> str:
        """MYRIGHTS needs any of ``l r i k x a`` (section 4)."""
        place = await self.locate(name)
        if not set(place.rights) & set("lrikxa"):
            raise NoSuchMailbox(f"Mailbox {name} does not exist")
        await self._acl_of(name, "")
        return place.rights

    async def get_acl(self, name: str) -> list[tuple[str, str]]:
        """The entries, the owner's implicit all-rights entry first."""
        place, acl = await self._acl_of(name, "a")
        return [(place.owner, r.ALL), *sorted(acl.items())]

    async def set_acl(self, name: str, identifier: str, mod: str | None) -> None:
        """SETACL (``mod`` as section 3.1 has it) or DELETEACL (``mod`` None)."""
        r.check_identifier(identifier)
        place, acl = await self._acl_of(name, "a")
        if identifier == place.owner:
            raise NotAllowed("The owner always has every right")
        new = "" if mod is None else r.modify(acl.get(identifier, ""), mod)
        await self._backend.set_acl(place.owner, place.mailbox, identifier, new)

    async def list_rights(self, name: str, identifier: str) -> tuple[str, list[str]]:
        """LISTRIGHTS: rights always granted, and the others one by one (no right here
        is tied to another; ``c`` and ``d`` follow, section 2.1.1)."""
        r.check_identifier(identifier)
        place, _ = await self._acl_of(name, "a")
        if identifier == place.owner:
            return r.ALL, []
        return "", [*r.ALL, "c", "d"]

    # --- METADATA (RFC 5464 section 3.3) ---------------------------------------------

    async def _metadata_place(self, name: str, shared_right: str, shared: bool) -> Place:
        """Section 3.3 with ACLs: ``l`` and one of ``r s w i p`` on the mailbox, and for
        ``/shared`` entries ``shared_right`` too (``r`` to read, ``w`` to write)."""
        place = await self.locate(name)
        if "l" not in place.rights or not set(place.rights) & set("rswip"):
            raise _denied(name, place, "r")
        if shared and shared_right not in place.rights:
            raise _denied(name, place, shared_right)
        return place

    async def get_metadata(
        self, name: str, entries: Sequence[str], depth: int, maxsize: int | None
    ) -> tuple[list[tuple[str, bytes]], int]:
        """GETMETADATA: the entries (and those below them to ``depth``) of at most
        ``maxsize`` octets, and the size of the largest one left out. ``name`` ""
        is the server: anyone reads its ``/shared`` entries (section 3.3)."""
        if name == "":
            found = {**self._backend.metadata.server_shared(),
                     **(await self._backend.get_metadata(self.user, None, self.user) or {})}
        else:
            shared = not all(md.is_private(e) for e in entries)
            place = await self._metadata_place(name, "r", shared)
            got = await self._backend.get_metadata(place.owner, place.mailbox, self.user)
            if got is None:
                raise NoSuchMailbox(f"Mailbox {name} does not exist")
            found = got
        return md.limit(md.select(found, entries, depth), maxsize)

    async def set_metadata(self, name: str, changes: Mapping[str, bytes | None]) -> None:
        """SETMETADATA, all or nothing (section 4.3). Server ``/shared`` entries are the
        administrator's (``[metadata]`` in the configuration): NO [NOPERM]."""
        settings = self._backend.metadata
        for data in changes.values():
            if data is not None and len(data) > settings.max_size:
                raise md.MetadataTooBig(settings.max_size)
        shared = not all(md.is_private(e) for e in changes)
        if name == "":
            if shared:
                raise NoPermission("Server /shared entries are set by the administrator")
            owner, mailbox = self.user, None
        else:
            place = await self._metadata_place(name, "w", shared)
            owner, mailbox = place.owner, place.mailbox
        await self._backend.set_metadata(
            owner, mailbox, self.user, changes, settings.max_entries)

    # --- the MailStore Protocol ----------------------------------------------------

    async def list_mailboxes(self) -> list[MailboxRecord]:
        """The own mailboxes, then those of others the caller may look up (``l``), with
        \\Noselect namespace nodes above them. Per section 4, a superior the caller may
        not look up is left out; ``has_children`` counts only what the caller sees."""
        own = [m for m in await self._own.list_mailboxes() if self.split(m.name).personal]
        subscribed = set(await self._own.list_subscriptions())
        acls: dict[tuple[str, str], dict[str, str]] = {}
        for owner, mailbox, ident, letters in await self._backend.acl_entries(
                r.relevant(self.user)):
            acls.setdefault((owner, mailbox), {})[ident] = letters
        visible: dict[str, set[str]] = {}
        for (owner, mailbox), acl in acls.items():
            if "l" in r.effective(acl, self.user):
                visible.setdefault(owner, set()).add(mailbox)
        shown: list[MailboxRecord] = []
        nodes: set[str] = set()
        for owner in sorted(visible):
            prefix = self._prefix_for(owner)
            if owner == self.user or not self.split(prefix).owner:
                continue
            records = await (await self.owner_store(owner)).list_mailboxes()
            seen = {m.name for m in records} & visible[owner]
            if not seen:
                continue
            nodes.add(prefix.rstrip(DELIMITER))
            if owner != self.namespaces.shared_owner:
                nodes.add(self.namespaces.other)
            parents = names.with_children(seen)
            shown += [
                MailboxRecord(prefix + m.name, m.uidvalidity, prefix + m.name in subscribed,
                              m.name in parents, noselect=m.noselect)
                for m in records if m.name in seen
            ]
        tops = [MailboxRecord(n, 0, n in subscribed, True, noselect=True) for n in sorted(nodes)]
        return own + tops + shown

    def _prefix_for(self, owner: str) -> str:
        ns = self.namespaces
        if owner == ns.shared_owner:
            return ns.shared + DELIMITER
        return f"{ns.other}{DELIMITER}{owner}{DELIMITER}"

    async def create_mailbox(self, name: str, special_use: str | None = None) -> tuple[int, int]:
        place = self.split(name)
        if not place.personal and not (place.owner and place.mailbox):
            raise NoPermission(f"{name} is a namespace, not a mailbox")
        if not place.personal:
            place = await self._with_acl(place, place.mailbox)
        parent = await self._may_create(name, place)
        store = await self.owner_store(place.owner)
        before = {m.name for m in await store.list_mailboxes()}
        created = await store.create_mailbox(place.mailbox, special_use)
        if parent is not None:  # section 4: a new mailbox SHOULD inherit its parent's ACL
            acl = await self._backend.get_acl(parent.owner, parent.mailbox) or {}
            made = [p for p in (*names.parents(place.mailbox), place.mailbox)
                    if p not in before and names.is_inferior(p, parent.mailbox)]
            for mailbox in made:
                for ident, letters in acl.items():
                    await self._backend.set_acl(place.owner, mailbox, ident, letters)
        return created

    async def delete_mailbox(self, name: str) -> None:
        place = await self.need(name, "x")
        await (await self.owner_store(place.owner)).delete_mailbox(place.mailbox)

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Section 4: ``x`` on the mailbox and ``k`` on the new parent, in one account."""
        source = await self.need(old, "x")
        target = await self.locate(new)
        if target.owner != source.owner or target.prefix != source.prefix or not target.mailbox:
            raise NotAllowed("RENAME cannot move a mailbox to another account")
        await self._may_create(new, target)
        await (await self.owner_store(source.owner)).rename_mailbox(
            source.mailbox, target.mailbox)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """Subscriptions are the caller's own list of names, whoever owns them; RFC
        4314 section 4 needs no right for it (existence is not checked)."""
        await self._own.set_subscribed(name, subscribed)

    async def list_subscriptions(self) -> list[str]:
        return await self._own.list_subscriptions()

    async def status(self, name: str) -> MailboxStatus:
        place = await self.need(name, "r")
        return await (await self.owner_store(place.owner)).status(place.mailbox)

    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        return (await self.append_many(name, [AppendItem(message, flags, internaldate)]))[0]

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        """Section 4: ``i`` is needed; flags the caller may not set are dropped."""
        place = await self.need(name, "i")
        kept = [replace(i, flags=allowed_flags(i.flags, place.rights)) for i in items]
        return await (await self.owner_store(place.owner)).append_many(place.mailbox, kept)

    async def restore_mailbox(
        self, name: str, uidvalidity: int, uidnext: int, highestmodseq: int
    ) -> None:
        place = await self._personal(name)
        await self._own.restore_mailbox(place.mailbox, uidvalidity, uidnext, highestmodseq)

    async def _personal(self, name: str) -> Place:
        place = self.split(name)
        if not place.personal:
            raise NotAllowed(f"{name} is not one of your own mailboxes")
        return place

    async def quota(self) -> QuotaUsage:
        return await self._own.quota()

    async def select(self, name: str, readonly: bool) -> tuple[SharedSelected, SelectResult]:
        """``r`` is needed; without any of ``i e w s t`` the mailbox opens read-only
        (section 5.2)."""
        place = await self.need(name, "r")
        readonly = readonly or not set(place.rights) & r.WRITE_RIGHTS
        inner, result = await (await self.owner_store(place.owner)).select(
            place.mailbox, readonly)
        selected = SharedSelected(self, place, inner)
        return selected, replace(result, name=place.outside(result.name), readonly=readonly)

    async def urlauth_key(self, name: str, create: bool) -> bytes | None:
        place = await self._personal(name)
        return await self._own.urlauth_key(place.mailbox, create)

    async def reset_urlauth_keys(self, name: str | None) -> None:
        if name is not None:
            name = (await self._personal(name)).mailbox
        await self._own.reset_urlauth_keys(name)

    def scripts(self) -> ScriptStore:
        return self._own.scripts()

    async def close(self) -> None:
        for store in self._owners.values():
            await store.close()
        self._owners = {}


def feed_key(store: MailStore, name: str) -> tuple[str, str]:
    """The change-feed key a session watching ``name`` subscribes to (the owner's)."""
    if isinstance(store, SharingStore):
        return store.feed_key(name)
    return store.user, name


async def open_sharing(backend: Backend, user: str) -> SharingStore:
    """What ``Backend.open`` returns."""
    own = await backend.open_owner(user)
    return SharingStore(backend, own, backend.namespaces)
