"""``pyimapd sieve ...`` and ``pyimapd deliver``: scripts managed and checked from the
command line, and a message delivered from stdin through the active script, with
sendmail's exit codes."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pyimapd.cli import main

SCRIPT = ('require ["fileinto", "mailbox", "imap4flags"];\n'
          'if header :contains "subject" "bill" {\n'
          '  fileinto :create :flags "\\\\Flagged" "Bills";\n}\n'
          'elsif address :is "from" "spam@example.net" { discard; }\n')
MESSAGE = "Subject: {subject}\r\nFrom: {sender}\r\nTo: bob@example.org\r\n\r\nbody\r\n"


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path,
        *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main([*argv, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_scripts_and_delivery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run(monkeypatch, capsys, data, "user", "add", "bob", "--password-stdin",
               stdin="secret\n")[0] == 0
    script = tmp_path / "main.sieve"
    script.write_text(SCRIPT)
    assert run(monkeypatch, capsys, data, "sieve", "put", "bob", "main", str(script))[0] == 0
    assert run(monkeypatch, capsys, data, "sieve", "activate", "bob", "main")[0] == 0
    code, out, _ = run(monkeypatch, capsys, data, "sieve", "list", "bob")
    assert (code, out) == (0, f"main\t{len(SCRIPT.encode())} bytes\tactive\n")
    code, out, _ = run(monkeypatch, capsys, data, "sieve", "get", "bob", "main")
    assert out == SCRIPT
    mail = tmp_path / "m.eml"
    mail.write_text(MESSAGE.format(subject="Your bill", sender="shop@example.com"))
    for which in ("active", "main", str(script)):
        code, out, _ = run(monkeypatch, capsys, data, "sieve", "test", "bob", which, str(mail))
        assert "FileInto(mailbox='Bills'" in out, out
    # Delivered from stdin through the script.
    for subject, sender in (("Your bill", "shop@example.com"), ("hi", "spam@example.net"),
                            ("hello", "friend@example.org")):
        code, _, err = run(monkeypatch, capsys, data, "deliver", "bob", "--from", sender,
                           stdin=MESSAGE.format(subject=subject, sender=sender))
        assert code == 0, err
    code, out, _ = run(monkeypatch, capsys, data, "mailbox", "list", "bob")
    assert "Bills\t1 messages" in out and "INBOX\t1 messages" in out, out
    # Errors: an invalid script is neither stored nor activated; exit codes.
    bad = tmp_path / "bad.sieve"
    bad.write_text('fileinto "x";\n')
    code, _, err = run(monkeypatch, capsys, data, "sieve", "put", "bob", "bad", str(bad))
    assert code == 1 and "1:1:" in err
    code, _, err = run(monkeypatch, capsys, data, "sieve", "check", "bob", str(bad))
    assert code == 1 and "require" in err
    code, _, err = run(monkeypatch, capsys, data, "sieve", "delete", "bob", "main")
    assert code == 1 and "active" in err
    code, _, err = run(monkeypatch, capsys, data, "deliver", "nobody", stdin="x\r\n\r\ny\r\n")
    assert code == 67, err
    assert run(monkeypatch, capsys, data, "sieve", "deactivate", "bob")[0] == 0
    assert run(monkeypatch, capsys, data, "sieve", "delete", "bob", "main")[0] == 0
