"""SEARCH on PostgreSQL: :func:`pyimapd.search.sql.compile_search` with numbered
placeholders.

The compiler writes SQLite-flavoured SQL with ``?`` placeholders; the PostgreSQL schema
defines ``instr`` and ``date(epoch, 'unixepoch')`` with SQLite's meaning (see
:mod:`.schema`), so the only translation left is ``?`` to ``$n``. Every string and
number a client sends is a parameter, never part of the SQL text, so a ``?`` in the text
can only be a placeholder.
"""

from __future__ import annotations

from typing import Any

from pyimapd.search.ast import SearchKey
from pyimapd.search.sql import compile_search


def number_placeholders(sql: str, first: int) -> str:
    """``?`` -> ``$first``, ``$first+1``..."""
    parts = sql.split("?")
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(f"${first + i}{part}")
    return "".join(out)


def compile_pg(key: SearchKey, first: int) -> tuple[str, list[Any]]:
    """The condition for ``key`` with placeholders numbered from ``$first``."""
    sql, params = compile_search(key)
    if sql.count("?") != len(params):
        raise ValueError("search SQL and parameters disagree")
    return number_placeholders(sql, first), params
