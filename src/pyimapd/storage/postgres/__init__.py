"""The PostgreSQL backend for several stateless nodes (see docs/postgres.md)."""

try:
    import asyncpg  # noqa: F401
except ImportError as exc:  # an optional dependency: say how to get it
    raise ImportError(
        "the PostgreSQL store needs asyncpg: pip install 'pyimapd[postgres]'"
    ) from exc

from pyimapd.storage.postgres.backend import PostgresBackend, is_postgres_url
from pyimapd.storage.postgres.schema import SchemaOutOfDate

__all__ = ["PostgresBackend", "SchemaOutOfDate", "is_postgres_url"]
