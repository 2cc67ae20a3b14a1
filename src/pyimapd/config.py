"""Configuration: frozen dataclasses loaded from TOML and passed explicitly.

The file is optional; every key has a default documented in docs/configuration.md, and
the command line overrides the file. Nothing here is held in module globals.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pyimapd.protocol.limits import Limits
from pyimapd.storage.metadata import MetadataSettings
from pyimapd.storage.sharing import Namespaces

DEFAULT_LISTEN = ("127.0.0.1:1143",)


class ConfigError(ValueError):
    """The configuration file is unreadable or has a bad key or value."""


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost. The defaults are argon2-cffi's (RFC 9106 low-memory profile)."""

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. RFC 3501 section 5.4: the autologout timer is at least 30 minutes."""

    unauthenticated: float = 60.0
    autologout: float = 30 * 60.0
    loop_stall: float = 1.0
    """Seconds a worker's event loop may run one piece of code before the watchdog logs
    a WARNING naming the command, its tag and user (pyimapd.watchdog); 0: no watchdog."""

    def __post_init__(self) -> None:
        if self.loop_stall < 0:
            raise ValueError("loop_stall must not be negative")


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """``[tls]``: the certificate chain and key (PEM), re-read on SIGHUP. With both set,
    ``listen_tls`` addresses serve implicit TLS (RFC 8314) and the plain ones offer
    STARTTLS (RFC 3501 section 6.2.1). Only TLS 1.2 and later are accepted."""

    cert: Path | None = None
    key: Path | None = None
    min_version: str = "TLSv1.2"
    handshake_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.min_version not in ("TLSv1.2", "TLSv1.3"):
            raise ValueError("min_version must be TLSv1.2 or TLSv1.3")
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together")

    @property
    def enabled(self) -> bool:
        return self.cert is not None


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """``[auth]``: see docs/security.md. ``plaintext_auth`` says where LOGIN, PLAIN and
    AUTH=LOGIN are allowed without TLS: ``loopback`` (the default: only from a loopback
    peer; elsewhere CAPABILITY says LOGINDISABLED), ``always`` or ``never``.
    ``submit_users`` are the accounts of message submission servers: a session logged in
    as one may URLFETCH URLs whose URLAUTH access is ``submit+user`` (RFC 4467 section 3);
    no other session can. ``rehash_imported``: a password hash imported from Dovecot
    (``pyimapd user import-passwd``) is replaced by argon2id at the first login."""

    plaintext_auth: str = "loopback"
    login_cache_ttl: float = 300.0
    failure_delay: float = 1.0
    failure_delay_max: float = 15.0
    mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")
    submit_users: tuple[str, ...] = ()
    rehash_imported: bool = True

    def __post_init__(self) -> None:
        if self.plaintext_auth not in ("loopback", "always", "never"):
            raise ValueError("plaintext_auth must be loopback, always or never")
        if self.login_cache_ttl < 0 or self.failure_delay < 0 or self.failure_delay_max < 0:
            raise ValueError("login_cache_ttl and failure delays must not be negative")
        object.__setattr__(self, "mechanisms", tuple(m.upper() for m in self.mechanisms))
        object.__setattr__(self, "submit_users", tuple(self.submit_users))


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Concurrent connections a server process accepts, in total and per client IP; the
    one over the limit gets ``* BYE`` and is closed. Set under ``[limits]``."""

    max_connections: int = 1000
    max_connections_per_ip: int = 50

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_connections_per_ip < 1:
            raise ValueError("connection limits must be positive")


CONNECTION_LIMIT_KEYS = frozenset({"max_connections", "max_connections_per_ip"})


@dataclass(frozen=True, slots=True)
class LmtpConfig:
    """``[lmtp]``: delivery over LMTP (docs/lmtp.md). ``detail_delimiter`` splits
    ``user+tag`` (empty: no details); ``detail_mailbox`` delivers ``user+tag`` into the
    user's mailbox ``tag`` when it exists; ``quota_tempfail`` answers a full mailbox with
    452 4.2.2 (retry) instead of 552 5.2.2 (bounce). ``max_message_size`` 0 means the
    APPEND limit (``[limits] max_append``). ``hostname`` (default: the FQDN) is what the
    greeting says."""

    detail_delimiter: str = "+"
    detail_mailbox: bool = True
    quota_tempfail: bool = False
    max_message_size: int = 0
    hostname: str = ""

    def __post_init__(self) -> None:
        if len(self.detail_delimiter) > 1:
            raise ValueError("detail_delimiter is one character or empty")
        if self.max_message_size < 0:
            raise ValueError("max_message_size must not be negative")


@dataclass(frozen=True, slots=True)
class SieveConfig:
    """``[sieve]``: filtering at delivery and ManageSieve (docs/sieve.md). ``relay`` is
    the SMTP ``HOST:PORT`` that redirects, rejects and vacation replies go out through
    (empty: such actions are not taken and the message is kept, with a log line).
    ``max_scripts`` and ``max_script_size`` (octets) are PUTSCRIPT's quotas;
    ``max_redirects`` bounds one script run (the MAXREDIRECTS capability);
    ``global_dir`` holds the scripts ``include :global`` may name."""

    relay: str = ""
    max_scripts: int = 20
    max_script_size: int = 256 * 1024
    max_redirects: int = 4
    global_dir: str = ""

    def __post_init__(self) -> None:
        if self.max_scripts < 1 or self.max_script_size < 1 or self.max_redirects < 0:
            raise ValueError("max_scripts and max_script_size must be positive, "
                             "max_redirects not negative")
        if self.relay and ":" not in self.relay:
            raise ValueError("relay is HOST:PORT")


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path = Path("./data")
    listen: tuple[str, ...] = DEFAULT_LISTEN
    store: str = "sqlite"
    log_level: str = "INFO"
    limits: Limits = field(default_factory=Limits)
    argon2: Argon2Params = field(default_factory=Argon2Params)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_bad_commands: int = 20
    max_bad_commands_unauthenticated: int = 5
    utf8_accept: bool = False
    """Advertise UTF8=ACCEPT (RFC 6855). Off by default because section 4 then obliges
    the server to refuse, from every client that has not ENABLEd it, an APPEND whose
    header holds 8-bit octets, and such mail is common (raw Latin-1 subjects, EAI
    mail): sync and copy tools that do not ENABLE it would stop storing it."""
    workers: int = 0
    """Worker processes for ``serve``; 0 means one per core (see pyimapd.server)."""
    listen_tls: tuple[str, ...] = ()
    """Implicit-TLS addresses (port 993 by convention); needs ``[tls]`` cert and key."""
    tls: TlsConfig = field(default_factory=TlsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    listen_lmtp: tuple[str, ...] = ()
    """LMTP addresses, ``HOST:PORT`` or ``unix:PATH`` (docs/lmtp.md)."""
    lmtp: LmtpConfig = field(default_factory=LmtpConfig)
    listen_managesieve: tuple[str, ...] = ()
    """ManageSieve addresses, ``HOST:PORT`` (RFC 5804; 4190 by convention)."""
    sieve: SieveConfig = field(default_factory=SieveConfig)
    metrics_listen: str = ""
    """``HOST:PORT`` of the Prometheus endpoint (``/metrics``); empty: none."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line)."""
    namespaces: Namespaces = field(default_factory=Namespaces)
    """``[namespaces]``: other users' and shared mailboxes (docs/sharing.md)."""
    metadata: MetadataSettings = field(default_factory=MetadataSettings)
    """``[metadata]``: RFC 5464's limits and the server's /shared entries."""

    def __post_init__(self) -> None:
        if self.log_format not in ("text", "json"):
            raise ValueError("log_format must be text or json")


def _section(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(sorted(unknown))}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value in [{where}]: {exc}") from exc


def load_config(path: Path | None) -> Config:
    """Reads a TOML file (see docs/configuration.md); None gives the defaults."""
    if path is None:
        return Config()
    try:
        with open(path, "rb") as fp:
            raw = tomllib.load(fp)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    server = dict(raw.pop("server", {}))
    limits = dict(raw.pop("limits", {}))
    connections = {k: limits.pop(k) for k in CONNECTION_LIMIT_KEYS & set(limits)}
    tls = dict(raw.pop("tls", {}))
    for key in ("cert", "key"):
        if key in tls:
            tls[key] = Path(tls[key])
    auth = dict(raw.pop("auth", {}))
    if "mechanisms" in auth:
        auth["mechanisms"] = tuple(auth["mechanisms"])
    sections = {
        "limits": (Limits, limits),
        "connections": (ConnectionLimits, connections),
        "argon2": (Argon2Params, raw.pop("argon2", {})),
        "timeouts": (Timeouts, raw.pop("timeouts", {})),
        "tls": (TlsConfig, tls),
        "auth": (AuthConfig, auth),
        "lmtp": (LmtpConfig, raw.pop("lmtp", {})),
        "sieve": (SieveConfig, raw.pop("sieve", {})),
        "namespaces": (Namespaces, raw.pop("namespaces", {})),
        "metadata": (MetadataSettings, raw.pop("metadata", {})),
    }
    if raw:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(raw))}")
    built = {name: _section(cls, data, name) for name, (cls, data) in sections.items()}
    if "data_dir" in server:
        server["data_dir"] = Path(server["data_dir"])
    for key in ("listen", "listen_tls", "listen_lmtp", "listen_managesieve"):
        if key in server:
            server[key] = tuple(server[key])
    return _section(Config, {**server, **built}, "server")


def override(config: Config, **changes: Any) -> Config:
    """The command line wins over the file: apply the options that were given."""
    given = {k: v for k, v in changes.items() if v is not None}
    return replace(config, **given)
