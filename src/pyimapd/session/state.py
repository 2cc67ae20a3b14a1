"""The four connection states of RFC 3501 section 3, and the handler result type."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pyimapd.protocol.responses import ResponseCode


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


@dataclass(frozen=True, slots=True)
class Result:
    """The tagged response a handler ends with: ``status`` is OK, NO or BAD."""

    status: str
    text: str
    code: ResponseCode | None = None


def ok(text: str, code: ResponseCode | None = None) -> Result:
    return Result("OK", text, code)


def no(text: str, code: ResponseCode | None = None) -> Result:
    return Result("NO", text, code)


def bad(text: str, code: ResponseCode | None = None) -> Result:
    return Result("BAD", text, code)


class CommandFailed(Exception):
    """Raised inside a handler to end the command with a given result (NO or BAD)."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.text)
        self.result = result


class ConnectionClosed(Exception):
    """The client went away, or the session decided to end the connection."""
