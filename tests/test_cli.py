"""The ``pyimapd`` command line: the names are a contract (README, docs/configuration.md)."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from pyimapd.cli import main

FAST = "[argon2]\ntime_cost = 1\nmemory_cost = 1024\nparallelism = 1\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pyimapd.toml"
    path.write_text(FAST)
    return path


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_user_lifecycle(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = str(tmp_path / "data")
    common = ["--data-dir", data, "--config", str(config)]
    assert run(monkeypatch, ["user", "add", "alice", "--password-stdin", *common], "pw1\n") == 0
    assert run(monkeypatch, ["user", "add", "bob", "--password-stdin", *common], "pw2\n") == 0
    capsys.readouterr()
    assert run(monkeypatch, ["user", "list", *common]) == 0
    assert capsys.readouterr().out.split() == ["alice", "bob"]
    assert run(monkeypatch, ["user", "add", "alice", "--password-stdin", *common], "x\n") == 1
    assert run(monkeypatch, ["user", "passwd", "alice", "--password-stdin", *common], "n\n") == 0
    assert run(monkeypatch, ["user", "del", "bob", *common]) == 0
    capsys.readouterr()
    assert run(monkeypatch, ["user", "list", *common]) == 0
    assert capsys.readouterr().out.split() == ["alice"]
    assert run(monkeypatch, ["user", "del", "bob", *common]) == 1
    mode = stat.S_IMODE(os.stat(data).st_mode)
    assert mode == 0o700


def test_password_is_not_stored_in_clear(
    tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    argv = ["user", "add", "carol", "--password-stdin", "--data-dir", str(data)]
    assert run(monkeypatch, [*argv, "--config", str(config)], "Sup3rSecretPassw0rd\n") == 0
    for path in data.rglob("*"):
        if path.is_file():
            assert b"Sup3rSecretPassw0rd" not in path.read_bytes(), path


def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nlisten_on = 3\n")
    assert main(["user", "list", "--config", str(bad)]) == 2
    assert "listen_on" in capsys.readouterr().err


def test_invalid_user_name(tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["user", "add", "bad name", "--password-stdin", "--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit):
        run(monkeypatch, [*argv, "--config", str(config)], "pw\n")
