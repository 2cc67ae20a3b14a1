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
    for layer in ("protocol", "storage", "mime", "search", "auth", "sieve"):
        for path in (SRC / layer).rglob("*.py"):
            text = path.read_text()
            assert "pyimapd.session" not in text, f"{path} reaches up into the session"
            assert "pyimapd.transport" not in text, f"{path} reaches into the transport"


def test_the_sieve_interpreter_has_no_io() -> None:
    """pyimapd.sieve only computes actions: no sockets, files, database or event loop;
    delivery answers its questions through the Environment protocol."""
    files = list((SRC / "sieve").glob("*.py"))
    assert files
    for path in files:
        found = _imports(path) & (IO_MODULES | {"sqlite3", "asyncpg", "os", "pathlib",
                                                "subprocess", "shutil", "tempfile"})
        assert not found, f"{path.name} imports {', '.join(sorted(found))}"
        assert "pyimapd.storage" not in path.read_text(), f"{path.name} reaches into storage"


def test_only_the_storage_engines_import_a_database_driver() -> None:
    """SQL drivers belong to storage/sqlite and storage/postgres; the SQL core
    (storage/sql) only yields statements."""
    for layer in ("protocol", "session", "mime", "search", "storage/sql", "storage/memory"):
        for path in (SRC / layer).rglob("*.py"):
            found = _imports(path) & {"sqlite3", "asyncpg"}
            assert not found, f"{path} imports {', '.join(sorted(found))}"


def test_handlers_leave_the_wire_format_and_the_state_to_their_layers() -> None:
    """FETCH responses and literals are written by protocol/ (fetch_response, responses);
    the connection state changes through Session's transitions, never by assignment."""
    for path in (SRC / "session" / "handlers").glob("*.py"):
        text = path.read_text()
        for pattern in ("FETCH (", "{%d}", "~{"):
            for line in text.splitlines():
                code = line.split("#", 1)[0]
                if pattern in code and ('b"' in code or "b'" in code):
                    raise AssertionError(f"{path.name} writes {pattern!r} by hand: {line}")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "state":
                    raise AssertionError(f"{path.name}:{node.lineno} assigns .state")


def test_handlers_read_a_continuation_through_the_session() -> None:
    """A handler that reads a line of its own asks the session (ask_for_line,
    read_continuation): it does not switch the parser or write ``+`` itself."""
    for path in (SRC / "session" / "handlers").glob("*.py"):
        text = path.read_text()
        assert "expect_raw_line" not in text, f"{path.name} switches the parser itself"
        assert "continuation(" not in text.replace("read_continuation(", ""), (
            f"{path.name} writes a continuation request itself")


def test_the_lmtp_sessions_hold_no_socket() -> None:
    """LMTP's sockets, limits and shutdown are the transport's (transport/lmtp.py)."""
    for path in (SRC / "lmtp").glob("*.py"):
        found = _imports(path) & {"asyncio", "selectors", "ssl"}
        assert not found, f"{path.name} imports {', '.join(sorted(found))}"
