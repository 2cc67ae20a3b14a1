"""The PostgreSQL backend for several stateless nodes (see docs/postgres.md)."""

from pyimapd.storage.postgres.backend import PostgresBackend, is_postgres_url
from pyimapd.storage.postgres.schema import SchemaOutOfDate

__all__ = ["PostgresBackend", "SchemaOutOfDate", "is_postgres_url"]
