"""Errors with their position: a ManageSieve client shows ``line:column: message`` to
the user who wrote the script (RFC 5804 section 1.3 leaves the text free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a script; ``line`` and ``column`` count from 1."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


class SieveError(Exception):
    """A script that does not compile. ``line``, ``column`` and ``message`` are the
    first problem's; ``errors`` holds every problem found (the checker goes on past
    the first one so that a user can fix several at once)."""

    def __init__(self, errors: list[Diagnostic]) -> None:
        if not errors:
            raise ValueError("SieveError needs at least one diagnostic")
        self.errors = list(errors)
        first = self.errors[0]
        self.line = first.line
        self.column = first.column
        self.message = first.message
        super().__init__("\n".join(str(e) for e in self.errors))


class SieveRuntimeError(Exception):
    """A failure while running a script (RFC 5228 section 2.10.6): the evaluator
    catches it, drops the collected actions and performs the implicit keep."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"{line}:{column}: {message}" if line else message)
