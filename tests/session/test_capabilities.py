"""CAPABILITY matches docs/capabilities.md exactly (issue 7, acceptance 2)."""

from __future__ import annotations

import re
from pathlib import Path

from harness import Harness

TABLE = Path(__file__).resolve().parents[2] / "docs" / "capabilities.md"
_ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \|", re.M)


def documented() -> dict[str, str]:
    """Capability -> "when" column of the table."""
    rows = {m.group(1): m.group(3).strip() for m in _ROW.finditer(TABLE.read_text())}
    assert rows, "no capability rows found in docs/capabilities.md"
    return rows


def advertised(response: bytes) -> list[str]:
    m = re.search(rb"^\* CAPABILITY (.*)\r$", response, re.M)
    assert m, response
    return m.group(1).decode().split(" ")


async def test_capability_matches_the_documented_table(harness: Harness) -> None:
    rows = documented()
    c = await harness.connect()
    before = advertised(await c.command("a CAPABILITY"))
    assert len(before) == len(set(before)), before
    expected = {name for name, when in rows.items() if when in ("always", "before login")}
    assert set(before) == expected
    await c.command("b LOGIN demo demo")
    after = advertised(await c.command("c CAPABILITY"))
    assert len(after) == len(set(after)), after
    assert set(after) == {name for name, when in rows.items() if when == "always"}
    assert before[0] == after[0] == "IMAP4rev1"


async def test_enable_does_not_change_capability(harness: Harness) -> None:
    """RFC 5161 section 3.1: the list is the same after ENABLE."""
    c = await harness.connect(("demo", "demo"))
    first = advertised(await c.command("a CAPABILITY"))
    assert b"* ENABLED QRESYNC\r\n" in await c.command("b ENABLE QRESYNC")
    assert advertised(await c.command("c CAPABILITY")) == first
