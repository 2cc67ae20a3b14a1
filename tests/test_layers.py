"""The house rules of the architecture that a test can check."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "pyimapd"
IO_MODULES = {"asyncio", "socket", "ssl", "selectors"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_protocol_layer_is_sans_io() -> None:
    files = list((SRC / "protocol").glob("*.py"))
    assert files
    for path in files:
        assert not (_imports(path) & IO_MODULES), f"{path.name} imports an I/O module"


def test_storage_and_protocol_do_not_import_the_session() -> None:
    for layer in ("protocol", "storage", "mime", "search", "auth"):
        for path in (SRC / layer).rglob("*.py"):
            text = path.read_text()
            assert "pyimapd.session" not in text, f"{path} reaches up into the session"
            assert "pyimapd.transport" not in text, f"{path} reaches into the transport"
