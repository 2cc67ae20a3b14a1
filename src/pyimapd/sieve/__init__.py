"""A Sieve interpreter (RFC 5228 and extensions) without I/O.

Three layers: :func:`parse` (text -> syntax tree, :mod:`.lexer`, :mod:`.parser`),
:func:`check` (syntax tree -> checked tree: commands, tags, argument types and
``require``, :mod:`.checker`) and :func:`evaluate` (checked tree + message + envelope
+ environment -> :class:`Result`, :mod:`.evaluate`). Everything the interpreter
needs from outside (mailboxes, duplicate and vacation records, included scripts,
the clock) comes through the :class:`Environment` protocol, so the package can be
run anywhere: in delivery, in a ManageSieve CHECKSCRIPT, in tests.
"""

from __future__ import annotations

from pyimapd.sieve.actions import (
    LOOP_HEADER,
    Action,
    Discard,
    DuplicateRecord,
    FileInto,
    Keep,
    Redirect,
    Reject,
    Result,
    Vacation,
)
from pyimapd.sieve.checker import EXTENSIONS, CheckedScript, check
from pyimapd.sieve.environment import Envelope, Environment, StaticEnvironment
from pyimapd.sieve.errors import Diagnostic, SieveError, SieveRuntimeError
from pyimapd.sieve.evaluate import evaluate
from pyimapd.sieve.message import MessageView
from pyimapd.sieve.parser import Script, parse


def compile_script(text: str, extensions: frozenset[str] = EXTENSIONS) -> CheckedScript:
    """:func:`parse` and :func:`check` in one step."""
    return check(parse(text), extensions)


__all__ = [
    "EXTENSIONS", "LOOP_HEADER", "Action", "CheckedScript", "Diagnostic", "Discard",
    "DuplicateRecord", "Envelope", "Environment", "FileInto", "Keep", "MessageView",
    "Redirect", "Reject", "Result", "Script", "SieveError", "SieveRuntimeError",
    "StaticEnvironment", "Vacation", "check", "compile_script", "evaluate", "parse",
]
