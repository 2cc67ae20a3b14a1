"""Accounts, mailboxes and the authenticated state of the in-memory backend."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime

from pyimapd.search.evaluate import fold
from pyimapd.storage import metadata as md
from pyimapd.storage import names, plans
from pyimapd.storage.feed import LocalChangeFeed
from pyimapd.storage.interface import (
    DEFAULT_MAILBOXES,
    MAILBOX_LIST,
    URLAUTH_KEY_BYTES,
    AppendItem,
    AppendResult,
    ChangeFeed,
    MailboxRecord,
    MailboxStatus,
    NoSuchMailbox,
    NoSuchUser,
    NotAllowed,
    PreparedMessage,
    QuotaLimits,
    QuotaUsage,
    SelectResult,
    StorageError,
    UserRecord,
    UserStore,
)
from pyimapd.storage.memory.scripts import MemoryScriptStore
from pyimapd.storage.memory.selected import MemorySelected
from pyimapd.storage.memory.state import (
    _Account,
    _add_message,
    _Content,
    _Mailbox,
    _read_source,
    _State,
    _status,
)
from pyimapd.storage.sharing import Namespaces, SharingStore, open_sharing
from pyimapd.storage.values import (
    normalize_flags,
    truncate,
)


class MemoryUserStore:
    """Accounts (the :class:`UserStore` Protocol)."""

    def __init__(self, state: _State, backend: MemoryBackend) -> None:
        self._state = state
        self._backend = backend

    async def get_user(self, name: str) -> UserRecord | None:
        account = self._state.accounts.get(name)
        if account is None:
            return None
        return UserRecord(name, account.password_hash, dict(account.secrets))

    async def add_user(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None,
        *, default_mailboxes: bool = True,
    ) -> None:
        if not name:
            raise StorageError("User name is empty")
        if name in self._state.accounts:
            raise StorageError(f"User {name} already exists")
        account = _Account(password_hash, dict(secrets or {}))
        account.mailboxes[names.INBOX] = _Mailbox(names.INBOX, self._state.new_uidvalidity())
        for box, use in DEFAULT_MAILBOXES if default_mailboxes else ():
            account.mailboxes[box] = _Mailbox(
                box, self._state.new_uidvalidity(), special_use=use)
        self._state.accounts[name] = account

    async def set_password(
        self, name: str, password_hash: str, secrets: Mapping[str, str] | None = None
    ) -> None:
        if name not in self._state.accounts:
            raise NoSuchUser(f"No user {name}")
        self._state.accounts[name].password_hash = password_hash
        self._state.accounts[name].secrets = dict(secrets or {})

    async def delete_user(self, name: str) -> None:
        account = self._state.accounts.pop(name, None)
        if account is None:
            raise NoSuchUser(f"No user {name}")
        for other in self._state.accounts.values():  # the user's /private entries
            for box in other.mailboxes.values():
                box.metadata = {k: v for k, v in box.metadata.items() if k[0] != name}
        for mailbox in account.mailboxes.values():
            for msg in mailbox.messages.values():
                self._state.release(msg.content)
            self._backend.changes.notify(name, mailbox.name)

    async def list_users(self) -> list[str]:
        return sorted(self._state.accounts)

    async def get_quota(self, name: str) -> QuotaLimits:
        if name not in self._state.accounts:
            raise NoSuchUser(f"No user {name}")
        return self._state.accounts[name].quota

    async def set_quota(self, name: str, limits: QuotaLimits) -> None:
        if name not in self._state.accounts:
            raise NoSuchUser(f"No user {name}")
        self._state.accounts[name].quota = limits


class MemoryBackend:
    """The :class:`Backend` Protocol in memory. ``changes`` defaults to a fresh
    :class:`LocalChangeFeed`."""

    def __init__(self, changes: ChangeFeed | None = None) -> None:
        self._state = _State()
        self.changes: ChangeFeed = changes if changes is not None else LocalChangeFeed()
        self.users: UserStore = MemoryUserStore(self._state, self)
        self.namespaces = Namespaces()
        self.metadata = md.MetadataSettings()

    async def start(self) -> None:
        pass

    async def open(self, user: str) -> SharingStore:
        return await open_sharing(self, user)

    async def open_owner(self, user: str) -> MemoryMailStore:
        if user not in self._state.accounts:
            raise NoSuchUser(f"No user {user}")
        return MemoryMailStore(self._state, user, self.changes)

    def _mailbox(self, owner: str, mailbox: str) -> _Mailbox | None:
        account = self._state.accounts.get(owner)
        return None if account is None else account.mailboxes.get(mailbox)

    async def get_acl(self, owner: str, mailbox: str) -> dict[str, str] | None:
        found = self._mailbox(owner, mailbox)
        return None if found is None else dict(found.acl)

    async def set_acl(self, owner: str, mailbox: str, identifier: str, rights: str) -> None:
        found = self._mailbox(owner, mailbox)
        if found is None:
            raise NoSuchMailbox(f"Mailbox {mailbox} does not exist")
        if rights:
            found.acl[identifier] = rights
        else:
            found.acl.pop(identifier, None)

    async def acl_entries(self, identifiers: Sequence[str]) -> list[tuple[str, str, str, str]]:
        wanted = set(identifiers)
        return [(owner, box.name, ident, letters)
                for owner, account in self._state.accounts.items()
                for box in account.mailboxes.values()
                for ident, letters in box.acl.items() if ident in wanted]

    def _metadata_of(self, owner: str, mailbox: str | None) -> dict[tuple[str, str], bytes] | None:
        if mailbox is None:
            account = self._state.accounts.get(owner)
            return None if account is None else account.metadata
        found = self._mailbox(owner, mailbox)
        return None if found is None else found.metadata

    async def get_metadata(
        self, owner: str, mailbox: str | None, user: str
    ) -> dict[str, bytes] | None:
        entries = self._metadata_of(owner, mailbox)
        if entries is None:
            return None
        return {entry: v for (who, entry), v in entries.items() if who in ("", user)}

    async def set_metadata(
        self, owner: str, mailbox: str | None, user: str,
        changes: Mapping[str, bytes | None], max_entries: int,
    ) -> None:
        entries = self._metadata_of(owner, mailbox)
        if entries is None:
            raise NoSuchMailbox(f"Mailbox {mailbox} does not exist")
        md.check_count([e for (who, e) in entries if who in ("", user)], changes, max_entries)
        for entry, data in changes.items():
            key = (md.owner_of(entry, user), entry)
            if data is None:
                entries.pop(key, None)
            else:
                entries[key] = data

    async def close(self) -> None:
        pass

    async def check(self) -> list[str]:
        """The invariants of docs/storage.md, in words (``pyimapd doctor``)."""
        problems = []
        refs: dict[int, int] = {}
        for user, account in self._state.accounts.items():
            if names.INBOX not in account.mailboxes:
                problems.append(f"account {user} has no INBOX")
            for box in account.mailboxes.values():
                for msg in box.messages.values():
                    refs[msg.content] = refs.get(msg.content, 0) + 1
                    if msg.uid >= box.uidnext or msg.modseq > box.highestmodseq:
                        problems.append(f"{user}/{box.name}: UID {msg.uid} breaks the "
                                        "UIDNEXT or HIGHESTMODSEQ invariant")
                    if msg.content not in self._state.contents:
                        problems.append(f"{user}/{box.name}: UID {msg.uid} lost its body")
        orphans = [cid for cid in self._state.contents if cid not in refs]
        if orphans:
            problems.append(f"{len(orphans)} stored message bodies belong to no message")
        return problems


class MemoryMailStore:
    """One user's authenticated state (the :class:`MailStore` Protocol)."""

    def __init__(self, state: _State, user: str, changes: ChangeFeed) -> None:
        self._state = state
        self.user = user
        self._changes = changes

    @property
    def _account(self) -> _Account:
        account = self._state.accounts.get(self.user)
        if account is None:
            raise NoSuchUser(f"No user {self.user}")
        return account

    def _existing(self) -> dict[str, bool]:
        return {n: mb.noselect for n, mb in self._account.mailboxes.items()}

    def _selectable(
        self, name: str, noselect_error: type[StorageError] = NotAllowed
    ) -> _Mailbox:
        """The mailbox if it exists and is selectable. APPEND and COPY pass
        ``NoSuchMailbox`` as ``noselect_error`` so that a \\Noselect target earns a
        TRYCREATE, whose CREATE revives the name."""
        name = names.normalize(name)
        mailbox = self._account.mailboxes.get(name)
        if mailbox is None:
            raise NoSuchMailbox(f"Mailbox {name} does not exist")
        if mailbox.noselect:
            raise noselect_error(f"Mailbox {name} is \\Noselect")
        return mailbox

    async def list_mailboxes(self) -> list[MailboxRecord]:
        account = self._account
        parents = names.with_children(account.mailboxes)
        return [
            MailboxRecord(
                name=name,
                uidvalidity=mb.uidvalidity,
                subscribed=name in account.subscriptions,
                has_children=name in parents,
                special_use=mb.special_use,
                noselect=mb.noselect,
            )
            for name, mb in sorted(account.mailboxes.items())
        ]

    async def create_mailbox(
        self, name: str, special_use: str | None = None
    ) -> tuple[int, int]:
        plan = plans.plan_create(name, self._existing())
        account = self._account
        for superior in plan.superiors:
            account.mailboxes[superior] = _Mailbox(superior, self._state.new_uidvalidity())
        # A revived \Noselect name is a new mailbox: fresh UIDVALIDITY and counters.
        mailbox = account.mailboxes[plan.name] = _Mailbox(
            plan.name, self._state.new_uidvalidity(), special_use=special_use)
        for created in (*plan.superiors, plan.name, MAILBOX_LIST):
            self._changes.notify(self.user, created)
        return mailbox.ident, mailbox.uidvalidity

    async def delete_mailbox(self, name: str) -> None:
        name, keep = plans.plan_delete(name, self._existing())
        account = self._account
        mailbox = account.mailboxes[name]
        for msg in mailbox.messages.values():
            self._state.release(msg.content)
        if keep:
            account.mailboxes[name] = _Mailbox(name, mailbox.uidvalidity, noselect=True)
        else:
            del account.mailboxes[name]
        mailbox.messages = {}
        mailbox.noselect = True  # sessions holding the old object see it gone
        self._changes.notify(self.user, name)
        self._changes.notify(self.user, MAILBOX_LIST)

    async def rename_mailbox(self, old: str, new: str) -> None:
        plan = plans.plan_rename(old, new, self._existing())
        account = self._account
        for superior in plan.superiors:
            account.mailboxes[superior] = _Mailbox(superior, self._state.new_uidvalidity())
        if plan.inbox:
            self._rename_inbox(account, plan.moves[0][1])
        else:
            moved = [(account.mailboxes.pop(src), dst) for src, dst in plan.moves]
            for mailbox, dst in moved:
                mailbox.name = dst
                account.mailboxes[dst] = mailbox
            for src, dst in plan.moves:
                if src in account.subscriptions:
                    account.subscriptions.discard(src)
                    account.subscriptions.add(dst)
        for src, dst in plan.moves:
            self._changes.notify(self.user, src)
            self._changes.notify(self.user, dst)
        self._changes.notify(self.user, MAILBOX_LIST)

    def _rename_inbox(self, account: _Account, new: str) -> None:
        """Moves INBOX's messages into a new mailbox (keeping UIDs, flags and MODSEQs:
        the new mailbox has its own UIDVALIDITY) and records them as expunged from
        INBOX, so sessions with INBOX selected see them go."""
        inbox = account.mailboxes[names.INBOX]
        target = _Mailbox(
            new, self._state.new_uidvalidity(), uidnext=inbox.uidnext,
            highestmodseq=inbox.highestmodseq, recent_floor=inbox.recent_floor,
            messages=inbox.messages, keywords=dict(inbox.keywords),
        )
        account.mailboxes[new] = target
        inbox.messages = {}
        if target.messages:
            inbox.highestmodseq += 1
            for uid in target.messages:
                inbox.expunged[uid] = inbox.highestmodseq

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """Subscriptions are names, not mailboxes: they may name a mailbox that does not
        exist, and deleting a mailbox keeps them (RFC 3501 section 6.3.6)."""
        if subscribed:
            self._account.subscriptions.add(names.validate(name))
        else:
            self._account.subscriptions.discard(names.normalize(name))
        self._changes.notify(self.user, MAILBOX_LIST)

    async def list_subscriptions(self) -> list[str]:
        return sorted(self._account.subscriptions)

    async def status(self, name: str) -> MailboxStatus:
        return _status(self._selectable(name))

    async def append(
        self, name: str, message: PreparedMessage, flags: frozenset[str], internaldate: datetime
    ) -> AppendResult:
        return (await self.append_many(name, [AppendItem(message, flags, internaldate)]))[0]

    async def restore_mailbox(
        self, name: str, uidvalidity: int, uidnext: int, highestmodseq: int
    ) -> None:
        if not (0 < uidvalidity <= 0xFFFFFFFF and 0 < uidnext <= 0xFFFFFFFF
                and highestmodseq > 0):
            raise NotAllowed("UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ must be positive")
        name = names.validate(name)
        account = self._account
        made = [p for p in names.parents(name) if p not in account.mailboxes]
        for superior in made:  # placeholders, as storage/sql/mailboxes.py makes them
            account.mailboxes[superior] = _Mailbox(
                superior, self._state.new_uidvalidity(), noselect=True)
        mailbox = account.mailboxes.get(name)
        if mailbox is None or mailbox.noselect:
            mailbox = account.mailboxes[name] = _Mailbox(name, uidvalidity)
            made.append(name)
        if mailbox.messages:
            raise NotAllowed(f"{name} has messages already: UIDs can be kept only in a "
                             "new or empty mailbox")
        mailbox.uidvalidity, mailbox.uidnext = uidvalidity, uidnext
        mailbox.highestmodseq, mailbox.recent_floor = highestmodseq, uidnext - 1
        mailbox.expunged.clear()
        for changed_name in (*made, name, MAILBOX_LIST):
            self._changes.notify(self.user, changed_name)

    async def append_many(self, name: str, items: Sequence[AppendItem]) -> list[AppendResult]:
        """Everything is checked and read before the mailbox changes: all or nothing."""
        mailbox = self._selectable(name, NoSuchMailbox)
        self._account.check_addition(sum(i.message.size for i in items), len(items))
        kept = [i.uid for i in items if i.uid is not None]
        if kept:  # a migration's UIDs (issue 20): as storage/sql/messages.py checks them
            highest = max(mailbox.messages, default=0)
            if (len(kept) != len(items) or any(b <= a for a, b in zip(kept, kept[1:], strict=False))
                    or kept[0] <= highest or kept[-1] > 0xFFFFFFFF):
                raise NotAllowed("Kept UIDs must ascend above the mailbox's highest UID")
        datas = [_read_source(item.message) for item in items]
        if not items:
            return []
        if not (kept and kept[-1] < mailbox.uidnext):  # see storage/sql/messages.py
            mailbox.highestmodseq += 1
        results = []
        for item, data in zip(items, datas, strict=True):
            message = item.message
            headers = {fold(k): fold(v) for k, v in message.search_headers.items()}
            content = _Content(data, bytes(message.structure), headers, fold(message.search_text),
                               preview=message.preview)
            cid = self._state.add_content(content)
            sent = truncate(message.sent_date) if message.sent_date is not None else None
            uid = _add_message(
                self._state, mailbox, cid, normalize_flags(item.flags),
                truncate(item.internaldate), sent, mailbox.highestmodseq, item.uid,
            )
            results.append(AppendResult(mailbox.uidvalidity, uid))
        self._changes.notify(self.user, mailbox.name)
        return results

    async def quota(self) -> QuotaUsage:
        account = self._account
        used = [m.size for box in account.mailboxes.values() for m in box.messages.values()]
        return QuotaUsage(sum(used), len(used), account.quota)

    async def select(self, name: str, readonly: bool) -> tuple[MemorySelected, SelectResult]:
        mailbox = self._selectable(name)
        uids = list(mailbox.messages)
        recent = frozenset(uid for uid in uids if uid > mailbox.recent_floor)
        if not readonly:
            mailbox.recent_floor = max(mailbox.recent_floor, mailbox.uidnext - 1)
        unseen = next((m.uid for m in mailbox.messages.values() if "\\Seen" not in m.flags), None)
        result = SelectResult(
            name=mailbox.name, uidvalidity=mailbox.uidvalidity, uidnext=mailbox.uidnext,
            highestmodseq=mailbox.highestmodseq, uids=uids, recent=recent,
            unseen_uids_first=unseen, keywords=frozenset(mailbox.keywords.values()),
            readonly=readonly, mailbox_id=mailbox.ident,
        )
        return MemorySelected(self, mailbox, readonly), result

    async def urlauth_key(self, name: str, create: bool) -> bytes | None:
        mailbox = self._selectable(name, NoSuchMailbox)
        if mailbox.access_key is None and create:
            mailbox.access_key = secrets.token_bytes(URLAUTH_KEY_BYTES)
        return mailbox.access_key

    def scripts(self) -> MemoryScriptStore:
        return MemoryScriptStore(self._account)

    async def reset_urlauth_keys(self, name: str | None) -> None:
        boxes = [self._selectable(name, NoSuchMailbox)] if name is not None else list(
            self._account.mailboxes.values())
        for mailbox in boxes:
            mailbox.access_key = None

    async def close(self) -> None:
        pass


