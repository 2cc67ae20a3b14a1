"""Debian's Roundcube, served by PHP's built-in web server on loopback, for one test module.

How this works: Roundcube is run from the package's own files (INSTALL_PATH
/var/lib/roundcube, whose public_html is the document root; program/, skins/ and
plugins/ there are the package's symlinks into /usr/share/roundcube).  Nothing of
/etc/roundcube is used: ``ROUNDCUBE_CONFIG_DIR`` (read by program/include/iniset.php)
points at a private config dir in tmp_path, holding a link to the package's
defaults.inc.php and our config.inc.php.  That config gives Roundcube its own SQLite
database (created from SQL/sqlite.initial.sql), temp and log dirs in tmp_path, the test's
pyimapd as its only IMAP host (plain, 127.0.0.1:PORT), when asked the managesieve
plugin against pyimapd's ManageSieve listener, and any other plugins a test module asks
for (the acl plugin: Settings > Folders > Sharing, RFC 4314).  SMTP is not configured:
nothing is sent.

``imap_debug`` is on, so logs/imap.log holds every line Roundcube exchanged with the
server; a failing test shows its tail (``log_tail``) next to the server's log.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from serverutil import HOST, free_port

INSTALL_PATH = Path("/var/lib/roundcube")
DOCROOT = INSTALL_PATH / "public_html"
SHARE = Path("/usr/share/roundcube")
DEFAULTS = Path("/etc/roundcube/defaults.inc.php")
INITIAL_SQL = SHARE / "SQL" / "sqlite.initial.sql"
READY_TIMEOUT = 20.0
# Roundcube encrypts the IMAP password in its session with this (24 octets for DES-EDE3).
DES_KEY = "pyimapd-tests-des-key-24"

CONFIG = """<?php
$config = [];
$config['db_dsnw'] = 'sqlite:///{db}?mode=0600';
$config['imap_host'] = '{imap}';
$config['imap_debug'] = true;
$config['imap_timeout'] = 30;
$config['smtp_host'] = '';
$config['des_key'] = '{des_key}';
$config['temp_dir'] = '{temp}/';
$config['log_dir'] = '{logs}/';
$config['log_driver'] = 'file';
$config['skin'] = 'elastic';
$config['language'] = 'en_US';
$config['enable_spellcheck'] = false;
$config['enable_installer'] = false;
$config['login_rate_limit'] = 0;
$config['session_lifetime'] = 60;
$config['support_url'] = '';
$config['product_name'] = 'pyimapd tests';
$config['create_default_folders'] = true;
$config['mail_pagesize'] = 50;
$config['draft_autosave'] = 0;
$config['refresh_interval'] = 0;
$config['plugins'] = {plugins};
$config['managesieve_host'] = '{sieve}';
$config['managesieve_usetls'] = false;
$config['managesieve_vacation'] = 0;
// The acl plugin: the Sharing tab takes a free-text user name (no LDAP address book),
// and its rights are grouped (read, write, delete, other) as a person first sees them.
$config['acl_users_source'] = '';
$config['acl_advanced_mode'] = false;
"""


def require_roundcube() -> None:
    """Skip (with the reason) when Debian's Roundcube or PHP is not installed."""
    missing = [str(p) for p in (DOCROOT / "index.php", DEFAULTS, INITIAL_SQL) if not p.exists()]
    if shutil.which("php") is None:
        missing.append("php (php-cli)")
    if missing:
        pytest.skip("Roundcube is not installed (apt-get install roundcube-core "
                    f"roundcube-sqlite3 roundcube-plugins php-cli php-sqlite3): {missing}")
    probe = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
    if "pdo_sqlite" not in probe.stdout:
        pytest.skip("PHP has no pdo_sqlite (apt-get install php-sqlite3)")


@dataclass
class Roundcube:
    """A running Roundcube: its URL, its private dirs and the PHP server process."""

    base: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    kind: str = "roundcube"  # with log_path and log_text: what the failure report shows

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def log_path(self) -> Path:
        return self.logs

    def log_text(self) -> str:
        return self.log_tail()

    def log_tail(self, lines: int = 80) -> str:
        """The end of each Roundcube log (errors, imap, sieve) and of the PHP server's."""
        out = []
        for path in sorted([*self.logs.glob("*.log"), self.base / "php-server.log"]):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name} ---\n" + "\n".join(tail))
        return "\n".join(out) or "(no Roundcube logs)"

    def imap_log(self) -> str:
        """Every IMAP line Roundcube has exchanged so far (``imap_debug``)."""
        path = self.logs / "imap.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _write_config(base: Path, imap: str, sieve: str | None, plugins: Sequence[str],
                  extra: str) -> Path:
    config_dir = base / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "defaults.inc.php").symlink_to(DEFAULTS)
    for sub in ("temp", "logs"):
        (base / sub).mkdir()
    db = base / "roundcube.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(INITIAL_SQL.read_text())
    names = (["managesieve"] if sieve else []) + [p for p in plugins if p != "managesieve"]
    (config_dir / "config.inc.php").write_text(CONFIG.format(
        db=db, imap=imap, des_key=DES_KEY, temp=base / "temp", logs=base / "logs",
        plugins="[" + ", ".join(f"'{name}'" for name in names) + "]",
        sieve=sieve or "") + extra)
    return config_dir


def _wait_http(rc: Roundcube, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if rc.proc is not None and rc.proc.poll() is not None:
            raise RuntimeError(f"php -S exited with {rc.proc.returncode}\n{rc.log_tail()}")
        try:
            with urllib.request.urlopen(rc.url, timeout=5) as resp:
                if resp.status == 200 and b"rcmloginuser" in resp.read():
                    return
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            last = exc
        time.sleep(0.1)  # polling interval of a readiness check
    raise RuntimeError(f"Roundcube not ready in {timeout}s ({last!r})\n{rc.log_tail()}")


def start_roundcube(base: Path, imap_port: int, sieve_port: int | None = None,
                    extra_config: str = "", plugins: Sequence[str] = ()) -> Roundcube:
    """Configure and serve Roundcube for pyimapd on ``imap_port`` (and ManageSieve, whose
    plugin is then on); ``plugins`` are Debian's plugin names to enable besides
    (``acl``); ``extra_config`` is PHP appended to config.inc.php (bench/roundcube)."""
    require_roundcube()
    missing = [p for p in plugins if not (INSTALL_PATH / "plugins" / p / f"{p}.php").exists()]
    if missing:
        pytest.skip(f"Roundcube plugins not installed (apt-get install roundcube-plugins): "
                    f"{missing}")
    sieve = f"{HOST}:{sieve_port}" if sieve_port else None
    config_dir = _write_config(base, f"{HOST}:{imap_port}", sieve, plugins, extra_config)
    rc = Roundcube(base=base, port=free_port())
    log = (base / "php-server.log").open("ab")
    env = {"PATH": "/usr/bin:/bin", "ROUNDCUBE_CONFIG_DIR": str(config_dir),
           "PHP_CLI_SERVER_WORKERS": "2"}
    rc.proc = subprocess.Popen(
        ["php", "-d", "upload_max_filesize=20M", "-d", "post_max_size=20M",
         "-S", f"{HOST}:{rc.port}", "-t", str(DOCROOT)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=DOCROOT)
    log.close()
    try:
        _wait_http(rc, READY_TIMEOUT)
    except BaseException:
        rc.stop()
        raise
    return rc
