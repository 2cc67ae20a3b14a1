"""The embedded SQLite backend (see :mod:`.backend` and docs/storage.md)."""

from pyimapd.storage.sqlite.backend import SqliteBackend

__all__ = ["SqliteBackend"]
