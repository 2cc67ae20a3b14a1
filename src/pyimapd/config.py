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


def _section(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(sorted(unknown))}")
    try:
        return cls(**data)
    except TypeError as exc:
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
    sections = {
        "limits": (Limits, raw.pop("limits", {})),
        "argon2": (Argon2Params, raw.pop("argon2", {})),
        "timeouts": (Timeouts, raw.pop("timeouts", {})),
    }
    if raw:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(raw))}")
    built = {name: _section(cls, data, name) for name, (cls, data) in sections.items()}
    if "data_dir" in server:
        server["data_dir"] = Path(server["data_dir"])
    if "listen" in server:
        server["listen"] = tuple(server["listen"])
    return _section(Config, {**server, **built}, "server")


def override(config: Config, **changes: Any) -> Config:
    """The command line wins over the file: apply the options that were given."""
    given = {k: v for k, v in changes.items() if v is not None}
    return replace(config, **given)
