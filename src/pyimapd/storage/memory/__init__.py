"""The in-memory reference backend: every rule of the storage contract, nothing durable.

How this works: one :class:`_State` holds accounts, mailboxes and message contents in
plain dicts. Every operation runs synchronously between two awaits, so on one event loop
each is atomic, which is what the SQL backends get from transactions. The hierarchy
rules come from :mod:`pyimapd.storage.plans`, flag rules from
:mod:`pyimapd.storage.values` and SEARCH from the reference evaluator, so this backend is
the oracle the contract suite holds the others to. It keeps message bytes in memory: it
is meant for fast tests, not for mail.

Modules: :mod:`.state` the dicts and their helpers, :mod:`.backend` accounts and the
authenticated state, :mod:`.selected` the selected state.
"""

from pyimapd.storage.memory.backend import MemoryBackend, MemoryMailStore, MemoryUserStore
from pyimapd.storage.memory.selected import MemorySelected

__all__ = ["MemoryBackend", "MemoryMailStore", "MemorySelected", "MemoryUserStore"]
