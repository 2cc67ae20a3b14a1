"""Semantic checks (RFC 5228 sections 2.6, 2.7, 3 and the extensions' syntax sections)
turning the syntax tree into a checked tree the evaluator can run without asking
again whether an argument is there or has the right type.

:data:`COMMANDS` and :data:`TESTS` are the table: one entry per command and test
with the extension that defines it, its tagged arguments and the shapes its
positional arguments may take. Checks that do not fit a table (``require`` placement,
``elsif`` placement, comparator/match-type combinations, ``set`` modifier precedence,
constant values that can be validated early) follow the table. Every problem found
is collected, so a script with three mistakes reports three diagnostics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyimapd.sieve.errors import Diagnostic, SieveError
from pyimapd.sieve.parser import Command, Number, Script, StringList, Tag, Test

STRING = "string"
STRINGLIST = "string-list"
NUMBER = "number"

EXTENSIONS = frozenset({
    "fileinto", "reject", "ereject", "envelope", "encoded-character",
    "comparator-i;octet", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric",
    "imap4flags", "copy", "body", "variables", "vacation", "vacation-seconds",
    "relational", "subaddress", "date", "index", "mailbox", "include", "duplicate",
    "editheader", "regex",
})
"""What ``require`` accepts; also the SIEVE capability a ManageSieve server lists
(RFC 5804 section 1.7)."""

COMPARATORS = {"i;octet": None, "i;ascii-casemap": None,
               "i;ascii-numeric": "comparator-i;ascii-numeric"}
"""Comparator -> the extension to require; the first two need none (RFC 5228 2.7.3)."""

RELATIONS = frozenset({"gt", "ge", "lt", "le", "eq", "ne"})
"""RFC 5231 section 4 relational operators."""

ENVELOPE_PARTS = frozenset({"from", "to", "auth"})
"""RFC 5228 section 5.4 defines ``from`` and ``to``; ``auth`` is the SASL identity
(also offered by Pigeonhole and Cyrus)."""

DATE_PARTS = frozenset({"year", "month", "day", "date", "julian", "hour", "minute",
                        "second", "time", "iso8601", "std11", "zone", "weekday"})
"""RFC 5260 section 4.2."""

PROTECTED_HEADERS = frozenset({"received", "auto-submitted"})
"""RFC 5293 section 7: a script may not add or delete these (they keep the trace
and the loop protection of RFC 3834 intact)."""

_FIELD_NAME = re.compile(r"[!-9;-~]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ZONE = re.compile(r"[+-][0-9]{4}")


@dataclass(frozen=True)
class TagSpec:
    value: str | None = None
    """The type of the argument that follows the tag, or None for a flag tag."""
    group: str | None = None
    """Tags in one group exclude each other (only one match type, ...)."""
    extension: str | None = None


@dataclass(frozen=True)
class Spec:
    extension: str | None
    tags: Mapping[str, TagSpec]
    shapes: tuple[tuple[str, ...], ...]
    """The positional argument lists allowed, e.g. ``((STRINGLIST,), (STRING, STRINGLIST))``."""
    tests: str = "none"
    """``none``, ``one`` (if/elsif/not) or ``list`` (allof/anyof)."""
    block: bool = False


COMPARATOR = {"comparator": TagSpec(STRING, "comparator")}
MATCH_TYPE = {
    "is": TagSpec(None, "match"), "contains": TagSpec(None, "match"),
    "matches": TagSpec(None, "match"), "regex": TagSpec(None, "match", "regex"),
    "count": TagSpec(STRING, "match", "relational"),
    "value": TagSpec(STRING, "match", "relational"),
}
ADDRESS_PART = {
    "all": TagSpec(None, "address-part"), "localpart": TagSpec(None, "address-part"),
    "domain": TagSpec(None, "address-part"),
    "user": TagSpec(None, "address-part", "subaddress"),
    "detail": TagSpec(None, "address-part", "subaddress"),
}
INDEX = {"index": TagSpec(NUMBER, None, "index"), "last": TagSpec(None, None, "index")}
MATCHING = {**COMPARATOR, **MATCH_TYPE}
FLAGS = {"flags": TagSpec(STRINGLIST, None, "imap4flags")}
SL, S, N = STRINGLIST, STRING, NUMBER

COMMANDS: dict[str, Spec] = {
    # RFC 5228 section 3 (control) and 4 (actions)
    "require": Spec(None, {}, ((SL,),)),
    "if": Spec(None, {}, ((),), tests="one", block=True),
    "elsif": Spec(None, {}, ((),), tests="one", block=True),
    "else": Spec(None, {}, ((),), block=True),
    "stop": Spec(None, {}, ((),)),
    "keep": Spec(None, FLAGS, ((),)),
    "discard": Spec(None, {}, ((),)),
    "fileinto": Spec("fileinto", {**FLAGS, "copy": TagSpec(None, None, "copy"),
                                  "create": TagSpec(None, None, "mailbox")}, ((S,),)),
    "redirect": Spec(None, {"copy": TagSpec(None, None, "copy")}, ((S,),)),
    # RFC 5429
    "reject": Spec("reject", {}, ((S,),)),
    "ereject": Spec("ereject", {}, ((S,),)),
    # RFC 5232 section 5
    "setflag": Spec("imap4flags", {}, ((SL,), (S, SL))),
    "addflag": Spec("imap4flags", {}, ((SL,), (S, SL))),
    "removeflag": Spec("imap4flags", {}, ((SL,), (S, SL))),
    # RFC 5229 section 4 and draft-ietf-sieve-regex section 5 (:quoteregex)
    "set": Spec("variables", {
        "lower": TagSpec(None, "p40"), "upper": TagSpec(None, "p40"),
        "lowerfirst": TagSpec(None, "p30"), "upperfirst": TagSpec(None, "p30"),
        "quotewildcard": TagSpec(None, "p20"),
        "quoteregex": TagSpec(None, "p20", "regex"),
        "length": TagSpec(None, "p10"),
    }, ((S, S),)),
    # RFC 5230 section 4 and RFC 6131
    "vacation": Spec("vacation", {
        "days": TagSpec(N, "period"),
        "seconds": TagSpec(N, "period", "vacation-seconds"),
        "subject": TagSpec(S), "from": TagSpec(S), "addresses": TagSpec(SL),
        "mime": TagSpec(None), "handle": TagSpec(S),
    }, ((S,),)),
    # RFC 6609 section 3
    "include": Spec("include", {
        "personal": TagSpec(None, "location"), "global": TagSpec(None, "location"),
        "once": TagSpec(None), "optional": TagSpec(None),
    }, ((S,),)),
    "return": Spec("include", {}, ((),)),
    "global": Spec("include", {}, ((SL,),)),
    # RFC 5293 sections 4 and 5
    "addheader": Spec("editheader", {"last": TagSpec(None)}, ((S, S),)),
    "deleteheader": Spec("editheader", {
        "index": TagSpec(N), "last": TagSpec(None), **MATCHING,
    }, ((S,), (S, SL))),
}

TESTS: dict[str, Spec] = {
    # RFC 5228 section 5
    "address": Spec(None, {**MATCHING, **ADDRESS_PART, **INDEX}, ((SL, SL),)),
    "allof": Spec(None, {}, ((),), tests="list"),
    "anyof": Spec(None, {}, ((),), tests="list"),
    "envelope": Spec("envelope", {**MATCHING, **ADDRESS_PART}, ((SL, SL),)),
    "exists": Spec(None, {}, ((SL,),)),
    "false": Spec(None, {}, ((),)),
    "true": Spec(None, {}, ((),)),
    "header": Spec(None, {**MATCHING, **INDEX}, ((SL, SL),)),
    "not": Spec(None, {}, ((),), tests="one"),
    "size": Spec(None, {"over": TagSpec(N, "size"), "under": TagSpec(N, "size")}, ((),)),
    # RFC 5173 section 5
    "body": Spec("body", {**MATCHING, "raw": TagSpec(None, "transform"),
                          "content": TagSpec(SL, "transform"),
                          "text": TagSpec(None, "transform")}, ((SL,),)),
    # RFC 5229 section 5
    "string": Spec("variables", MATCHING, ((SL, SL),)),
    # RFC 5232 section 4
    "hasflag": Spec("imap4flags", MATCHING, ((SL,), (SL, SL))),
    # RFC 5260 sections 4 and 5
    "date": Spec("date", {**MATCHING, **INDEX, "zone": TagSpec(S, "zone"),
                          "originalzone": TagSpec(None, "zone")}, ((S, S, SL),)),
    "currentdate": Spec("date", {**MATCHING, "zone": TagSpec(S, "zone")}, ((S, SL),)),
    # RFC 5490 section 3.1
    "mailboxexists": Spec("mailbox", {}, ((SL,),)),
    # RFC 7352 section 3
    "duplicate": Spec("duplicate", {
        "handle": TagSpec(S), "header": TagSpec(S, "id"), "uniqueid": TagSpec(S, "id"),
        "seconds": TagSpec(N), "last": TagSpec(None),
    }, ((),)),
}

_TYPE_NAMES = {STRING: "a string", STRINGLIST: "a string list", NUMBER: "a number"}


@dataclass
class Node:
    """A checked command or test. ``tags`` maps a tag to its value (True for a tag
    without one); ``args`` are the positional values (``str``, ``tuple[str, ...]`` or
    ``int``)."""

    name: str
    tags: dict[str, Any]
    args: list[Any]
    tests: list[Node]
    block: list[Node] | None
    line: int
    column: int


@dataclass
class CheckedScript:
    commands: list[Node]
    extensions: frozenset[str]
    """What the script required: decides variable expansion at run time."""
    includes: list[tuple[str, str]] = field(default_factory=list)
    """Constant (name, location) pairs of its ``include`` commands, for ManageSieve's
    checks."""


def decode_encoded_characters(text: str) -> str:
    """RFC 5228 section 2.4.2.4: ``${hex:...}`` and ``${unicode:...}``; anything that
    does not fit the grammar stays as written. Raises ValueError for a code point
    outside Unicode's scalar values or hex octets that are not UTF-8."""
    if "${" not in text:
        return text
    return _ENCODED.sub(_decode_one, text)


_BLANK = r"(?:[ \t]|\r\n)"
_ENCODED = re.compile(
    r"\$\{(?P<kind>(?i:hex|unicode)):"
    rf"(?P<body>{_BLANK}*(?:[0-9A-Fa-f]+(?:{_BLANK}+[0-9A-Fa-f]+)*)?{_BLANK}*)\}}")


def _decode_one(m: re.Match[str]) -> str:
    items = m.group("body").split()
    if m.group("kind").lower() == "hex":
        if any(len(item) % 2 for item in items):
            return m.group()
        data = bytes.fromhex("".join(items))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{m.group()} is not UTF-8") from None
    out = []
    for item in items:
        cp = int(item, 16)
        if len(item) > 8 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            raise ValueError(f"{m.group()} holds a value that is not a Unicode scalar value")
        out.append(chr(cp))
    return "".join(out)


class Checker:
    def __init__(self, extensions: frozenset[str] = EXTENSIONS) -> None:
        self.available = extensions
        self.required: set[str] = set()
        self.errors: list[Diagnostic] = []
        self.includes: list[tuple[str, str]] = []

    def error(self, where: Command | Test | Tag | Number | StringList | Node,
              message: str) -> None:
        self.errors.append(Diagnostic(where.line, where.column, message))

    def check(self, script: Script) -> CheckedScript:
        commands = self._block(script.commands, top=True)
        if self.errors:
            raise SieveError(sorted(self.errors, key=lambda d: (d.line, d.column)))
        return CheckedScript(commands, frozenset(self.required), self.includes)

    def _block(self, commands: list[Command], top: bool = False) -> list[Node]:
        out: list[Node] = []
        seen_other = False
        previous = ""
        for command in commands:
            name = command.name
            if name == "require":
                if not top or seen_other:
                    self.error(command, "'require' must come before any other command")
                self._require(command)
                previous = name
                continue
            seen_other = True
            if name in ("elsif", "else") and previous not in ("if", "elsif"):
                self.error(command, f"'{name}' must follow 'if' or 'elsif'")
            node = self._node(command, COMMANDS, "command")
            if node is not None:
                out.append(node)
            previous = name
        return out

    def _require(self, command: Command) -> None:
        if (len(command.arguments) != 1 or not isinstance(command.arguments[0], StringList)
                or command.tests or command.block is not None):
            self.error(command, "'require' takes one string list")
            return
        arg = command.arguments[0]
        for value in arg.values:
            name = value.lower()
            if name not in self.available:
                self.error(arg, f"unsupported extension \"{value}\" in require")
            else:
                self.required.add(name)

    def _needs(self, where: Command | Test | Tag | Node, extension: str | None, what: str) -> None:
        if extension and extension not in self.required:
            self.error(where, f"{what} requires \"{extension}\" in require")

    def _node(self, item: Command | Test, table: Mapping[str, Spec], kind: str) -> Node | None:
        spec = table.get(item.name)
        if spec is None:
            other = TESTS if kind == "command" else COMMANDS
            hint = f" ('{item.name}' is a {'test' if kind == 'command' else 'command'})" \
                if item.name in other else ""
            self.error(item, f"unknown {kind} '{item.name}'{hint}")
            return None
        self._needs(item, spec.extension, f"{kind} '{item.name}'")
        tags: dict[str, Any] = {}
        groups: dict[str, str] = {}
        args: list[Any] = []
        arguments = item.arguments
        i = 0
        while i < len(arguments):
            arg = arguments[i]
            i += 1
            if not isinstance(arg, Tag):
                args.append(arg)
                continue
            if args:
                self.error(arg, f"tag ':{arg.name}' must come before the positional "
                                f"arguments of '{item.name}'")
            tag = spec.tags.get(arg.name)
            if tag is None:
                self.error(arg, f"unknown tag ':{arg.name}' for {kind} '{item.name}'")
                continue
            self._needs(arg, tag.extension, f"tag ':{arg.name}'")
            if arg.name in tags:
                self.error(arg, f"tag ':{arg.name}' appears more than once")
            if tag.group:
                if tag.group in groups and groups[tag.group] != arg.name:
                    self.error(arg, f"tag ':{arg.name}' cannot be combined with "
                                    f"':{groups[tag.group]}'")
                groups[tag.group] = arg.name
            value: Any = True
            if tag.value is not None:
                if i >= len(arguments) or isinstance(arguments[i], Tag):
                    self.error(arg, f"tag ':{arg.name}' needs {_TYPE_NAMES[tag.value]}")
                    continue
                value = self._convert(arguments[i], tag.value, f"the value of ':{arg.name}'")
                i += 1
            tags[arg.name] = value
        positional = self._shape(item, spec, args)
        if positional is None:
            return None
        tests = self._tests(item, spec)
        block = None
        if spec.block:
            if not isinstance(item, Command) or item.block is None:
                self.error(item, f"'{item.name}' needs a block")
                return None
            block = self._block(item.block)
        elif isinstance(item, Command) and item.block is not None:
            self.error(item, f"command '{item.name}' does not take a block")
        node = Node(item.name, tags, positional, tests, block, item.line, item.column)
        self._decode(node)
        self._special(node, kind)
        return node

    def _convert(self, arg: Any, kind: str, what: str) -> Any:
        if kind == NUMBER:
            if isinstance(arg, Number):
                return arg.value
        elif isinstance(arg, StringList):
            if kind == STRINGLIST:
                return arg.values
            if not arg.is_list:
                return arg.values[0]
        self.error(arg, f"{what} must be {_TYPE_NAMES[kind]}")
        return "" if kind == STRING else (() if kind == STRINGLIST else 0)

    def _shape(self, item: Command | Test, spec: Spec, args: list[Any]) -> list[Any] | None:
        for shape in spec.shapes:
            if len(shape) == len(args) and all(
                    self._fits(a, k) for a, k in zip(args, shape, strict=True)):
                return [self._convert(a, k, "") for a, k in zip(args, shape, strict=True)]
        counts = sorted({len(s) for s in spec.shapes})
        if len(args) not in counts:
            want = " or ".join(str(c) for c in counts)
            self.error(item, f"'{item.name}' takes {want} positional argument"
                             f"{'s' if counts[-1] != 1 else ''}, not {len(args)}")
            return None
        shape = next(s for s in spec.shapes if len(s) == len(args))
        for n, (a, k) in enumerate(zip(args, shape, strict=True), 1):
            if not self._fits(a, k):
                self.error(a, f"argument {n} of '{item.name}' must be {_TYPE_NAMES[k]}")
        return None

    @staticmethod
    def _fits(arg: Any, kind: str) -> bool:
        if kind == NUMBER:
            return isinstance(arg, Number)
        if kind == STRINGLIST:
            return isinstance(arg, StringList)
        return isinstance(arg, StringList) and not arg.is_list

    def _tests(self, item: Command | Test, spec: Spec) -> list[Node]:
        if spec.tests == "none":
            if item.tests:
                self.error(item.tests[0], f"'{item.name}' does not take a test")
            return []
        if spec.tests == "one" and len(item.tests) != 1:
            self.error(item, f"'{item.name}' needs exactly one test")
            return []
        if spec.tests == "list" and not item.has_test_list:
            self.error(item, f"'{item.name}' needs a parenthesised test list")
            return []
        out = []
        for test in item.tests:
            node = self._node(test, TESTS, "test")
            if node is not None:
                out.append(node)
        return out

    def _decode(self, node: Node) -> None:
        """Applies ``encoded-character`` to every string of the node."""
        if "encoded-character" not in self.required:
            return

        def one(value: Any) -> Any:
            try:
                if isinstance(value, str):
                    return decode_encoded_characters(value)
                if isinstance(value, tuple):
                    return tuple(decode_encoded_characters(v) for v in value)
            except ValueError as exc:
                self.error(node, f"encoded-character: {exc}")
            return value

        node.args = [one(a) for a in node.args]
        node.tags = {k: one(v) for k, v in node.tags.items()}

    def constant(self, value: str) -> bool:
        """True when ``value`` cannot change at run time (no variable reference)."""
        return "variables" not in self.required or "${" not in value

    def _special(self, node: Node, kind: str) -> None:
        tags = node.tags
        name = node.name
        if "comparator" in tags:
            comparator = str(tags["comparator"]).lower()
            if comparator not in COMPARATORS:
                self.error(node, f"unknown comparator \"{tags['comparator']}\"")
            else:
                ext = COMPARATORS[comparator]
                if ext:
                    self._needs(node, ext, f"comparator \"{comparator}\"")
                if comparator == "i;ascii-numeric" and (
                        {"contains", "matches", "regex"} & tags.keys()):
                    self.error(node, "comparator \"i;ascii-numeric\" supports only :is, "
                                     ":count and :value (RFC 4790 section 9.1)")
            tags["comparator"] = comparator
        for relational in ("count", "value"):
            if relational in tags:
                relation = str(tags[relational]).lower()
                if relation not in RELATIONS:
                    self.error(node, f"unknown relation \"{tags[relational]}\" for "
                                     f":{relational} (RFC 5231 section 4)")
                tags[relational] = relation
        if "last" in tags and "index" not in tags and name != "addheader" \
                and name != "duplicate":
            self.error(node, "':last' needs ':index'")
        if "index" in tags and tags["index"] < 1:
            self.error(node, "':index' counts from 1")
        if "regex" in tags:
            self._regexes(node)
        check = getattr(self, f"_check_{name}", None)
        if check is not None:
            check(node)

    def _regexes(self, node: Node) -> None:
        from pyimapd.sieve.match import RegexError, compile_regex

        keys = node.args[-1] if node.args and isinstance(node.args[-1], tuple) else ()
        casefold = node.tags.get("comparator", "i;ascii-casemap") == "i;ascii-casemap"
        for key in keys:
            if self.constant(key):
                try:
                    compile_regex(key, casefold)
                except RegexError as exc:
                    self.error(node, str(exc))

    def _header_names(self, node: Node, names: Any) -> None:
        for header in (names,) if isinstance(names, str) else names:
            if self.constant(header) and not _FIELD_NAME.fullmatch(header):
                self.error(node, f"\"{header}\" is not a valid header field name")

    def _check_header(self, node: Node) -> None:
        self._header_names(node, node.args[0])

    _check_address = _check_header
    _check_exists = _check_header

    def _check_date(self, node: Node) -> None:
        self._header_names(node, node.args[0])
        self._date_part(node, node.args[1])
        self._zone(node)

    def _check_currentdate(self, node: Node) -> None:
        self._date_part(node, node.args[0])
        self._zone(node)

    def _date_part(self, node: Node, part: str) -> None:
        if self.constant(part) and part.lower() not in DATE_PARTS:
            self.error(node, f"unknown date part \"{part}\" (RFC 5260 section 4.2)")

    def _zone(self, node: Node) -> None:
        zone = node.tags.get("zone")
        if isinstance(zone, str) and self.constant(zone) and not _ZONE.fullmatch(zone):
            self.error(node, f"\"{zone}\" is not a time zone of the form +hhmm")

    def _check_envelope(self, node: Node) -> None:
        for part in node.args[0]:
            if self.constant(part) and part.lower() not in ENVELOPE_PARTS:
                self.error(node, f"unknown envelope part \"{part}\"")

    def _check_size(self, node: Node) -> None:
        if "over" not in node.tags and "under" not in node.tags:
            self.error(node, "'size' needs :over or :under")

    def _check_redirect(self, node: Node) -> None:
        from pyimapd.sieve.evaluate import valid_address

        address = node.args[0]
        if self.constant(address) and not valid_address(address):
            self.error(node, f"\"{address}\" is not a valid address for redirect")

    def _check_set(self, node: Node) -> None:
        variable = node.args[0]
        if not _variable_name(variable):
            self.error(node, f"\"{variable}\" is not a valid variable name")

    def _flag_variable(self, node: Node, names: Any) -> None:
        if len(node.args) == 2:
            self._needs(node, "variables",
                        f"the variable form of '{node.name}'")
            for variable in (names,) if isinstance(names, str) else names:
                if not _variable_name(variable):
                    self.error(node, f"\"{variable}\" is not a valid variable name")

    def _check_setflag(self, node: Node) -> None:
        self._flag_variable(node, node.args[0])

    _check_addflag = _check_setflag
    _check_removeflag = _check_setflag
    _check_hasflag = _check_setflag

    def _check_global(self, node: Node) -> None:
        self._needs(node, "variables", "command 'global'")
        for variable in node.args[0]:
            if not _IDENTIFIER.fullmatch(variable):
                self.error(node, f"\"{variable}\" is not a valid variable name")

    def _check_include(self, node: Node) -> None:
        name = node.args[0]
        location = "global" if "global" in node.tags else "personal"
        if self.constant(name):
            if not name or "/" in name:
                self.error(node, f"\"{name}\" is not a valid script name (RFC 6609 3.2)")
            else:
                self.includes.append((name, location))

    def _edit_name(self, node: Node) -> None:
        header = node.args[0]
        if self.constant(header) and not _FIELD_NAME.fullmatch(header):
            self.error(node, f"\"{header}\" is not a valid header field name")

    def _check_addheader(self, node: Node) -> None:
        self._edit_name(node)
        value = node.args[1]
        if self.constant(value) and ("\r" in value or "\n" in value):
            self.error(node, "the value of 'addheader' must not contain a line break")

    def _check_deleteheader(self, node: Node) -> None:
        self._edit_name(node)


_VARIABLE_NAME = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _variable_name(name: str) -> bool:
    """RFC 5229 section 3 (and RFC 6609's ``global.`` namespace): ``set`` may not
    assign a match variable, only a (namespaced) identifier."""
    if not _VARIABLE_NAME.fullmatch(name):
        return False
    parts = name.split(".")
    return len(parts) == 1 or (len(parts) == 2 and parts[0].lower() == "global")


def check(script: Script, extensions: frozenset[str] = EXTENSIONS) -> CheckedScript:
    """Check a parsed script; raises :class:`SieveError` listing every problem.
    ``extensions`` limits what ``require`` accepts (a server may disable some)."""
    return Checker(extensions).check(script)
