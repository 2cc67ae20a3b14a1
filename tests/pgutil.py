"""A throwaway PostgreSQL cluster for the tests, on loopback in a temp dir.

How this works: :func:`shared_cluster` starts one cluster per test process (``initdb``
then ``pg_ctl start`` from ``/usr/lib/postgresql/*/bin``), the first time a test needs
it, and stops it at exit. Tests get a private schema in it with :func:`fresh_dsn`: the
DSN carries ``search_path=<schema>`` (asyncpg passes unknown DSN parameters as server
settings), so every test starts from an empty database in a few milliseconds.

PostgreSQL refuses to run as root, and CI runs as root: there the cluster runs as the
``postgres`` user that the Debian package creates (``runuser -u postgres``).

``PYIMAPD_TEST_PG_DSN`` points the tests at an existing server instead (schemas are still
made per test). When no cluster can be had the tests *fail*, loudly, unless
``PYIMAPD_ALLOW_MISSING_CLIENTS=1`` is set, in which case they skip: a suite that skipped
its PostgreSQL variants silently would prove nothing.

The shared cluster runs with ``fsync=off`` for speed: the backend still commits with
``synchronous_commit=on`` and a crash of the *server process* loses nothing (the WAL is
in the OS cache), which is what the fault tests exercise; those start their own cluster
(:class:`PgCluster` with ``fsync=True``) so they may restart it freely.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_DSN = "PYIMAPD_TEST_PG_DSN"
ALLOW_MISSING = "PYIMAPD_ALLOW_MISSING_CLIENTS"
HOST = "127.0.0.1"
DATABASE = "pyimapd_test"


class PgUnavailable(RuntimeError):
    """No PostgreSQL could be started or reached."""


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian layout)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        found = shutil.which("initdb")
        if found is None:
            raise PgUnavailable("PostgreSQL is not installed: apt-get install postgresql")
        return Path(found).parent
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One private PostgreSQL server: ``start``, ``stop``, ``restart`` and its DSN."""

    def __init__(self, fsync: bool = False) -> None:
        self.bin = pg_bin()
        self.base = Path(tempfile.mkdtemp(prefix="pyimapd-pg-"))
        self.datadir = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = _free_port()
        self.fsync = fsync
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PgUnavailable("running as root and there is no postgres user") from exc
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.base.chmod(0o755)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{DATABASE}"

    def _run(self, *cmd: str, timeout: float = 60.0) -> None:
        proc = subprocess.run(
            [*self._as, *cmd], capture_output=True, text=True, timeout=timeout,
            cwd=self.base,
        )
        if proc.returncode != 0:
            raise PgUnavailable(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                + self.log_text()
            )

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                  "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8")

    def start(self) -> None:
        options = (
            f"-c listen_addresses={HOST} -p {self.port} -k {self.base}"
            f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
            " -c shared_buffers=32MB"
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``mode``: ``fast`` (clean, disconnects clients) or ``immediate`` (a crash:
        no checkpoint, recovery from the WAL at the next start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w",
                  "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def create_database(self) -> None:
        self._run(str(self.bin / "psql"), "-h", HOST, "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}")

    def destroy(self) -> None:
        with contextlib.suppress(PgUnavailable, OSError, subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def new_cluster(fsync: bool = False) -> PgCluster:
    """A started cluster with the test database; the caller destroys it."""
    cluster = PgCluster(fsync)
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
    except BaseException:
        cluster.destroy()
        raise
    return cluster


_shared: PgCluster | None = None
_shared_error: str | None = None


def base_dsn() -> str:
    """The DSN of the shared test server (started on first use)."""
    global _shared, _shared_error
    if os.environ.get(ENV_DSN):
        return os.environ[ENV_DSN]
    if _shared is None:
        if _shared_error is not None:
            raise PgUnavailable(_shared_error)
        try:
            _shared = new_cluster()
        except (PgUnavailable, OSError, subprocess.SubprocessError) as exc:
            _shared_error = str(exc)
            raise PgUnavailable(_shared_error) from exc
        atexit.register(_shared.destroy)
    return _shared.dsn


def require_postgres() -> str:
    """:func:`base_dsn`, or fail the test (skip with ``PYIMAPD_ALLOW_MISSING_CLIENTS=1``)."""
    try:
        return base_dsn()
    except PgUnavailable as exc:
        if os.environ.get(ALLOW_MISSING) == "1":
            pytest.skip(f"PostgreSQL unavailable ({ALLOW_MISSING}=1): {exc}")
        pytest.fail(
            f"PostgreSQL is needed for this test and could not be started: {exc}\n"
            f"Install it (apt-get install postgresql; CI's .ci/run does), set {ENV_DSN}, "
            f"or set {ALLOW_MISSING}=1 to skip.",
            pytrace=False,
        )


def with_schema(dsn: str, schema: str) -> str:
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}search_path={schema}"


def fresh_dsn() -> str:
    """A DSN whose tables will live in a new, empty schema of the shared server."""
    dsn = require_postgres()
    schema = "t_" + uuid.uuid4().hex[:16]
    _psql(dsn, f"CREATE SCHEMA {schema}")
    return with_schema(dsn, schema)


def _psql(dsn: str, sql: str) -> None:
    bin_dir = pg_bin()
    proc = subprocess.run([str(bin_dir / "psql"), dsn, "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise PgUnavailable(f"psql {sql!r} failed: {proc.stderr}")


def database_dsn(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` instead (query parameters dropped)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name, query=""))


def new_database(template: str | None = None) -> str:
    """A new database on the shared server (a copy of ``template`` when given, which is
    much faster than migrating and adding users again); returns its DSN."""
    dsn = require_postgres()
    name = "d_" + uuid.uuid4().hex[:16]
    _psql(dsn, f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return database_dsn(dsn, name)
