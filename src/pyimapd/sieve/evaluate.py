"""Running a checked script over one message (RFC 5228 section 2.10 and the
extensions' action sections).

A run is a tree walk over :class:`~.checker.Node`; every command and test costs one
step of :data:`~.limits.MAX_STEPS`. Actions are collected in :class:`Run`, which
applies the merging and compatibility rules as they arrive, so the result is always
consistent. A runtime error (:class:`SieveRuntimeError`, also raised by every limit)
ends the run: the collected actions are dropped and the implicit keep stands
(RFC 5228 section 2.10.6).
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

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
from pyimapd.sieve.checker import PROTECTED_HEADERS, CheckedScript, Node, check
from pyimapd.sieve.environment import Envelope, Environment
from pyimapd.sieve.errors import SieveError, SieveRuntimeError
from pyimapd.sieve.limits import (
    DEFAULT_DUPLICATE_SECONDS,
    DEFAULT_VACATION_DAYS,
    MAX_ACTIONS,
    MAX_DUPLICATE_SECONDS,
    MAX_INCLUDE_DEPTH,
    MAX_REDIRECTS,
    MAX_STEPS,
    MAX_VACATION_SECONDS,
    MAX_VARIABLE_LENGTH,
    MAX_VARIABLES,
    MIN_VACATION_SECONDS,
)
from pyimapd.sieve.match import Matcher, quote_regex, quote_wildcard
from pyimapd.sieve.message import Field, MessageView, encode_field, parse_addresses
from pyimapd.sieve.parser import parse

SUBADDRESS_SEPARATOR = "+"
"""RFC 5233 section 4: the separator between user and detail."""

_VARIABLE_REF = re.compile(
    r"\$\{(?:([0-9]+)|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))\}")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_LIST_HEADERS = ("list-id", "list-help", "list-unsubscribe", "list-subscribe",
                 "list-post", "list-owner", "list-archive")
"""RFC 2369/2919 list fields: their presence marks list mail (RFC 5230 section 4.5)."""
_ADDRESSED_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
_SYSTEM_SENDERS = ("mailer-daemon", "listserv", "majordomo")


def valid_address(text: str) -> bool:
    """An RFC 5322 mailbox with a domain, as redirect needs (RFC 5228 section 4.2)."""
    if not text or "\n" in text or "\r" in text:
        return False
    found = parse_addresses(text)
    return len(found) == 1 and bool(found[0].localpart) and bool(found[0].domain)


class _Stop(Exception):
    """``stop`` (RFC 5228 section 3.3): ends every script of the run."""


class _Return(Exception):
    """``return`` (RFC 6609 section 3.3): ends the current script only."""


@dataclass
class _Frame:
    """One script's state: its requires, its local variables and the names it
    declared ``global`` (RFC 6609 section 3.4)."""

    script: CheckedScript
    variables: dict[str, str] = field(default_factory=dict)
    global_names: set[str] = field(default_factory=set)
    match: list[str] = field(default_factory=list)

    @property
    def expands(self) -> bool:
        return "variables" in self.script.extensions


class Run:
    def __init__(self, message: MessageView, envelope: Envelope, env: Environment) -> None:
        self.message = message.copy()
        self.edited = False
        self.envelope = envelope
        self.env = env
        self.matcher = Matcher()
        self.steps = 0
        self.actions: list[Action] = []
        self.cancel_keep = False
        self.redirects = 0
        self.globals: dict[str, str] = {}
        self.variable_count = 0
        self.flags: list[str] = []
        self.once: set[tuple[str, str]] = set()
        self.stack: list[tuple[str, str]] = []
        self.compiled: dict[tuple[str, str], CheckedScript] = {}
        self.duplicates: dict[tuple[str, str], DuplicateRecord] = {}
        self.warnings: list[str] = []
        self._now: datetime | None = None

    # -- running ------------------------------------------------------------------

    def run(self, script: CheckedScript) -> Result:
        errors: list[str] = []
        try:
            self._script(script)
        except _Stop:
            pass
        except SieveRuntimeError as exc:
            errors.append(str(exc))
        if errors:
            return Result([Keep(None, implicit=True)], errors, warnings=self.warnings)
        actions = list(self.actions)
        if not self.cancel_keep and not any(isinstance(a, Keep) for a in actions):
            flags = tuple(self.flags) if "imap4flags" in script.extensions else None
            keep = Keep(flags, implicit=True)
            # A "fileinto :copy "INBOX"" is the same delivery (RFC 5228 2.10.3).
            for a in [a for a in actions if _target(a) == "INBOX"]:
                actions.remove(a)
                merged = _merge(keep, a)
                assert isinstance(merged, Keep)
                keep = merged
            actions.append(keep)
        return Result(actions, [], self.message.header_block() if self.edited else None,
                      list(self.duplicates.values()), self.warnings)

    def _script(self, script: CheckedScript) -> None:
        frame = _Frame(script)
        try:
            self._block(frame, script.commands)
        except _Return:
            pass

    def _step(self, node: Node) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SieveRuntimeError(f"more than {MAX_STEPS} steps", node.line, node.column)

    def _block(self, frame: _Frame, nodes: list[Node]) -> None:
        done = True
        for node in nodes:
            self._step(node)
            name = node.name
            if name == "if" or (name == "elsif" and not done):
                done = self._test(frame, node.tests[0])
                if done:
                    assert node.block is not None
                    self._block(frame, node.block)
            elif name == "elsif":
                continue
            elif name == "else":
                if not done:
                    assert node.block is not None
                    self._block(frame, node.block)
                done = True
            else:
                try:
                    getattr(self, f"_do_{name}")(frame, node)
                except SieveRuntimeError as exc:
                    if not exc.line:
                        raise SieveRuntimeError(exc.message, node.line, node.column) from None
                    raise

    # -- variables (RFC 5229) -----------------------------------------------------

    def expand(self, frame: _Frame, text: str) -> str:
        """RFC 5229 section 3: one pass, unknown variables become ""; text that is no
        valid reference (``${doh!}``) stays as written."""
        if not frame.expands or "${" not in text:
            return text

        def value(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                n = int(m.group(1))
                return frame.match[n] if n < len(frame.match) else ""
            return self._get(frame, m.group(2))

        out = _VARIABLE_REF.sub(value, text)
        if len(out) > MAX_VARIABLE_LENGTH * 4:
            raise SieveRuntimeError("expanded string is too long")
        return out

    def expand_all(self, frame: _Frame, values: tuple[str, ...]) -> list[str]:
        return [self.expand(frame, v) for v in values]

    def _scope(self, frame: _Frame, name: str) -> tuple[dict[str, str], str]:
        name = name.lower()
        if name.startswith("global."):
            return self.globals, name[7:]
        if name in frame.global_names:
            return self.globals, name
        return frame.variables, name

    def _get(self, frame: _Frame, name: str) -> str:
        scope, key = self._scope(frame, name)
        if "." in key:
            return ""  # an unsupported namespace expands to nothing
        return scope.get(key, "")

    def set_variable(self, frame: _Frame, name: str, value: str) -> None:
        if len(value) > MAX_VARIABLE_LENGTH:
            raise SieveRuntimeError(f"value of variable '{name}' is longer than "
                                    f"{MAX_VARIABLE_LENGTH} characters")
        scope, key = self._scope(frame, name)
        if key not in scope:
            self.variable_count += 1
            if self.variable_count > MAX_VARIABLES:
                raise SieveRuntimeError(f"more than {MAX_VARIABLES} variables")
        scope[key] = value

    # -- actions --------------------------------------------------------------------

    def _add(self, action: Action) -> None:
        """Merge duplicates (RFC 5228 2.10.3) and refuse incompatible actions (RFC 5429
        section 2.1, RFC 5230 section 4.7). Reject goes with nothing that delivers or
        answers the message (keep, fileinto, redirect, vacation); like Pigeonhole, only
        discard may accompany it."""
        rejected = any(isinstance(a, Reject) for a in self.actions)
        if isinstance(action, Reject):
            if rejected:
                raise SieveRuntimeError("more than one reject")
            for a in self.actions:
                if isinstance(a, Keep | FileInto | Redirect | Vacation):
                    raise SieveRuntimeError(f"reject cannot be combined with "
                                            f"{type(a).__name__.lower()} (RFC 5429 2.1)")
        elif rejected and isinstance(action, Keep | FileInto | Redirect | Vacation):
            raise SieveRuntimeError(f"{type(action).__name__.lower()} cannot be combined "
                                    "with reject (RFC 5429 2.1)")
        for i, a in enumerate(self.actions):
            merged = _merge(a, action)
            if merged is not None:
                self.actions[i] = merged
                return
        if isinstance(action, Vacation) and any(isinstance(a, Vacation) for a in self.actions):
            raise SieveRuntimeError("more than one vacation action")
        self.actions.append(action)
        if len(self.actions) > MAX_ACTIONS:
            raise SieveRuntimeError(f"more than {MAX_ACTIONS} actions")

    def _flags_for(self, frame: _Frame, node: Node) -> tuple[str, ...] | None:
        """RFC 5232 section 3: ``:flags`` or, without it, the internal variable."""
        if "flags" in node.tags:
            return tuple(_flag_list(self.expand_all(frame, node.tags["flags"]), self.warnings))
        if "imap4flags" in frame.script.extensions:
            return tuple(self.flags)
        return None

    def _do_require(self, frame: _Frame, node: Node) -> None:
        pass

    def _do_stop(self, frame: _Frame, node: Node) -> None:
        raise _Stop

    def _do_keep(self, frame: _Frame, node: Node) -> None:
        self._add(Keep(self._flags_for(frame, node)))
        self.cancel_keep = True

    def _do_discard(self, frame: _Frame, node: Node) -> None:
        self._add(Discard())
        self.cancel_keep = True

    def _do_fileinto(self, frame: _Frame, node: Node) -> None:
        mailbox = self.expand(frame, node.args[0])
        if not mailbox:
            raise SieveRuntimeError("fileinto needs a mailbox name")
        copy = "copy" in node.tags
        self._add(FileInto(mailbox, self._flags_for(frame, node), copy, "create" in node.tags))
        if not copy:
            self.cancel_keep = True

    def _do_redirect(self, frame: _Frame, node: Node) -> None:
        address = self.expand(frame, node.args[0])
        if not valid_address(address):
            raise SieveRuntimeError(f"\"{address}\" is not a valid address for redirect")
        address = parse_addresses(address)[0].address
        copy = "copy" in node.tags
        me = self.envelope.to.lower()
        if any(v.strip().lower() == me for v in self.message.raw_values(LOOP_HEADER)):
            self.warnings.append(f"redirect to {address} skipped: the message was already "
                                 f"redirected by {self.envelope.to} ({LOOP_HEADER})")
            return
        if any(isinstance(a, Redirect) and a.address.lower() == address.lower()
               for a in self.actions):
            if not copy:
                self.cancel_keep = True
            return
        self.redirects += 1
        if self.redirects > MAX_REDIRECTS:
            raise SieveRuntimeError(f"more than {MAX_REDIRECTS} redirects")
        self._add(Redirect(address, copy, (LOOP_HEADER, self.envelope.to)))
        if not copy:
            self.cancel_keep = True

    def _do_reject(self, frame: _Frame, node: Node, extended: bool = False) -> None:
        self._add(Reject(self.expand(frame, node.args[0]), extended))
        self.cancel_keep = True

    def _do_ereject(self, frame: _Frame, node: Node) -> None:
        self._do_reject(frame, node, extended=True)

    # -- imap4flags (RFC 5232 section 5) ---------------------------------------------

    def _flag_target(self, frame: _Frame, node: Node) -> tuple[str | None, list[str]]:
        flags = _flag_list(self.expand_all(frame, node.args[-1]), self.warnings)
        variable = node.args[0] if len(node.args) == 2 else None
        return variable, flags

    def _current_flags(self, frame: _Frame, variable: str | None) -> list[str]:
        if variable is None:
            return list(self.flags)
        return _flag_list([self._get(frame, variable)])

    def _store_flags(self, frame: _Frame, variable: str | None, flags: list[str]) -> None:
        if variable is None:
            self.flags = flags
        else:
            self.set_variable(frame, variable, " ".join(flags))

    def _do_setflag(self, frame: _Frame, node: Node) -> None:
        variable, flags = self._flag_target(frame, node)
        self._store_flags(frame, variable, flags)

    def _do_addflag(self, frame: _Frame, node: Node) -> None:
        variable, flags = self._flag_target(frame, node)
        self._store_flags(frame, variable,
                          _flag_list(self._current_flags(frame, variable) + flags))

    def _do_removeflag(self, frame: _Frame, node: Node) -> None:
        variable, flags = self._flag_target(frame, node)
        drop = {f.lower() for f in flags}
        self._store_flags(frame, variable, [f for f in self._current_flags(frame, variable)
                                            if f.lower() not in drop])

    # -- variables ----------------------------------------------------------------------

    def _do_set(self, frame: _Frame, node: Node) -> None:
        value = self.expand(frame, node.args[1])
        tags = node.tags
        # RFC 5229 section 4.1: modifiers apply in order of precedence, highest first.
        if "lower" in tags:
            value = value.lower()
        if "upper" in tags:
            value = value.upper()
        if "lowerfirst" in tags:
            value = value[:1].lower() + value[1:]
        if "upperfirst" in tags:
            value = value[:1].upper() + value[1:]
        if "quotewildcard" in tags:
            value = quote_wildcard(value)
        if "quoteregex" in tags:
            value = quote_regex(value)
        if "length" in tags:
            value = str(len(value))
        self.set_variable(frame, node.args[0], value)

    # -- include (RFC 6609) -------------------------------------------------------------

    def _do_global(self, frame: _Frame, node: Node) -> None:
        frame.global_names.update(n.lower() for n in node.args[0])

    def _do_return(self, frame: _Frame, node: Node) -> None:
        raise _Return

    def _do_include(self, frame: _Frame, node: Node) -> None:
        name = self.expand(frame, node.args[0])
        location = "global" if "global" in node.tags else "personal"
        key = (location, name)
        if "once" in node.tags and key in self.once:
            return
        if key in self.stack:
            raise SieveRuntimeError(f"include loop: {location} script \"{name}\" includes "
                                    "itself")
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            raise SieveRuntimeError(f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
        script = self.compiled.get(key)
        if script is None:
            text = self.env.include(name, location)
            if text is None:
                if "optional" in node.tags:
                    return
                raise SieveRuntimeError(f"{location} script \"{name}\" does not exist")
            try:
                script = check(parse(text))
            except SieveError as exc:
                raise SieveRuntimeError(f"included {location} script \"{name}\": "
                                        f"{exc.errors[0]}") from None
            self.compiled[key] = script
        self.once.add(key)
        self.stack.append(key)
        try:
            self._script(script)
        finally:
            self.stack.pop()

    # -- editheader (RFC 5293) ------------------------------------------------------------

    def _edit_name(self, frame: _Frame, node: Node) -> str | None:
        name = self.expand(frame, node.args[0])
        if not _FIELD_NAME.fullmatch(name):
            raise SieveRuntimeError(f"\"{name}\" is not a valid header field name")
        if name.lower() in PROTECTED_HEADERS:
            self.warnings.append(f"{node.name} of protected field {name} ignored "
                                 "(RFC 5293 section 7)")
            return None
        return name

    def _do_addheader(self, frame: _Frame, node: Node) -> None:
        name = self._edit_name(frame, node)
        if name is None:
            return
        value = self.expand(frame, node.args[1])
        if "\r" in value or "\n" in value:
            raise SieveRuntimeError("the value of addheader must not contain a line break")
        new = Field(name.lower(), encode_field(name, value))
        if "last" in node.tags:
            self.message.fields.append(new)
        else:
            self.message.fields.insert(0, new)
        self.edited = True

    def _do_deleteheader(self, frame: _Frame, node: Node) -> None:
        name = self._edit_name(frame, node)
        if name is None:
            return
        lname = name.lower()
        positions = [i for i, f in enumerate(self.message.fields) if f.name == lname]
        if "index" in node.tags:
            n = node.tags["index"]
            if n > len(positions):
                return
            positions = [positions[-n] if "last" in node.tags else positions[n - 1]]
        if len(node.args) == 2:
            keys = self.expand_all(frame, node.args[1])
            match_type, relation, comparator = _match_args(node)
            positions = [i for i in positions if self.matcher.match(
                match_type, relation, comparator, [self.message.fields[i].value], keys)[0]]
        if positions:
            drop = set(positions)
            self.message.fields = [f for i, f in enumerate(self.message.fields)
                                   if i not in drop]
            self.edited = True

    # -- vacation (RFC 5230, RFC 6131) ----------------------------------------------------

    def _do_vacation(self, frame: _Frame, node: Node) -> None:
        tags = node.tags
        reason = self.expand(frame, node.args[0])
        if any(isinstance(a, Vacation) for a in self.actions):
            raise SieveRuntimeError("more than one vacation action")
        if any(isinstance(a, Reject) for a in self.actions):
            raise SieveRuntimeError("vacation cannot be combined with reject (RFC 5429 2.1)")
        subject_tag = self.expand(frame, tags["subject"]) if "subject" in tags else None
        from_tag = self.expand(frame, tags["from"]) if "from" in tags else None
        mime = "mime" in tags
        if "handle" in tags:
            handle = self.expand(frame, tags["handle"])
        else:
            # RFC 5230 section 4.2: derived from the arguments that shape the reply.
            basis = "\0".join([reason, subject_tag or "", from_tag or "", str(mime)])
            handle = hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        if "seconds" in tags:
            seconds = tags["seconds"]
        else:
            days = tags.get("days", DEFAULT_VACATION_DAYS)
            seconds = max(days, 1) * 86400
        seconds = min(max(seconds, MIN_VACATION_SECONDS), MAX_VACATION_SECONDS)
        mine = [a for a in self.env.user_addresses() if a]
        extra = self.expand_all(frame, tags.get("addresses", ()))
        refusal = self._vacation_refusal(mine, extra)
        if refusal:
            self.warnings.append(f"vacation not sent: {refusal}")
            return
        sender = self.envelope.from_
        if self.env.vacation_sent_recently(handle, sender, seconds):
            self.warnings.append(f"vacation not sent: already replied to {sender}")
            return
        original = self.message.values("subject")
        subject = subject_tag if subject_tag is not None else (
            "Auto: " + original[0] if original and original[0] else "Automated reply")
        reply_from = from_tag or (mine[0] if mine else _strip_detail(self.envelope.to))
        message_id = (self.message.raw_values("message-id") or [""])[0].strip() or None
        references = (self.message.raw_values("references") or [""])[0].strip()
        if message_id:
            references = f"{references} {message_id}".strip()
        self._add(Vacation(sender, reply_from, subject, reason, mime, handle, seconds,
                           message_id, references or None))

    def _vacation_refusal(self, mine: list[str], extra: list[str]) -> str | None:
        """RFC 5230 sections 4.5 and 4.6 (and RFC 3834 section 2): the reasons not to
        reply that the message itself shows."""
        sender = self.envelope.from_
        if not sender:
            return "the envelope sender is empty"
        local = sender.rsplit("@", 1)[0].lower()
        if (local.startswith("owner-") or local.endswith("-request")
                or local in _SYSTEM_SENDERS):
            return f"{sender} is a list or system address"
        ours = {_strip_detail(a).lower() for a in [*mine, *extra, self.envelope.to]}
        if _strip_detail(sender).lower() in ours:
            return "the sender is the user"
        auto = self.message.values("auto-submitted")
        if auto and any(v.split(";")[0].strip().lower() != "no" for v in auto):
            return "the message is Auto-Submitted"
        if any(v.strip().lower() in ("bulk", "list", "junk")
               for v in self.message.values("precedence")):
            return "the message has Precedence bulk, list or junk"
        for name in _LIST_HEADERS:
            if self.message.has(name):
                return f"the message has a {name} field"
        addressed: set[str] = set()
        for name in _ADDRESSED_HEADERS:
            for value in self.message.raw_values(name):
                addressed.update(_strip_detail(m.address).lower()
                                 for m in parse_addresses(value))
        if not addressed & ours:
            return "none of the user's addresses is in To, Cc or Bcc"
        return None

    # -- tests ------------------------------------------------------------------------

    def _test(self, frame: _Frame, node: Node) -> bool:
        self._step(node)
        try:
            return bool(getattr(self, f"_test_{node.name}")(frame, node))
        except SieveRuntimeError as exc:
            if not exc.line:
                raise SieveRuntimeError(exc.message, node.line, node.column) from None
            raise

    def _match(self, frame: _Frame, node: Node, values: list[str]) -> bool:
        keys = self.expand_all(frame, node.args[-1])
        match_type, relation, comparator = _match_args(node)
        ok, groups = self.matcher.match(match_type, relation, comparator, values, keys)
        if ok and groups is not None and frame.expands:
            frame.match = groups
        return ok

    def _test_true(self, frame: _Frame, node: Node) -> bool:
        return True

    def _test_false(self, frame: _Frame, node: Node) -> bool:
        return False

    def _test_not(self, frame: _Frame, node: Node) -> bool:
        return not self._test(frame, node.tests[0])

    def _test_allof(self, frame: _Frame, node: Node) -> bool:
        return all(self._test(frame, t) for t in node.tests)

    def _test_anyof(self, frame: _Frame, node: Node) -> bool:
        return any(self._test(frame, t) for t in node.tests)

    def _test_size(self, frame: _Frame, node: Node) -> bool:
        if "over" in node.tags:
            return self.message.size > int(node.tags["over"])
        return self.message.size < int(node.tags["under"])

    def _test_exists(self, frame: _Frame, node: Node) -> bool:
        return all(self.message.has(n) for n in self.expand_all(frame, node.args[0]))

    def _indexed(self, node: Node, values: list[str]) -> list[str]:
        """RFC 5260 section 6: ``:index`` picks one field occurrence (from the end
        with ``:last``)."""
        if "index" not in node.tags:
            return values
        n = node.tags["index"]
        if n > len(values):
            return []
        return [values[-n] if "last" in node.tags else values[n - 1]]

    def _test_header(self, frame: _Frame, node: Node) -> bool:
        values: list[str] = []
        for name in self.expand_all(frame, node.args[0]):
            values.extend(self._indexed(node, self.message.values(name)))
        return self._match(frame, node, values)

    def _test_address(self, frame: _Frame, node: Node) -> bool:
        values: list[str] = []
        for name in self.expand_all(frame, node.args[0]):
            for raw in self._indexed(node, self.message.raw_values(name)):
                for mailbox in parse_addresses(raw):
                    part = _address_part(node, mailbox.localpart, mailbox.domain)
                    if part is not None:
                        values.append(part)
        return self._match(frame, node, values)

    def _test_envelope(self, frame: _Frame, node: Node) -> bool:
        values: list[str] = []
        for part in self.expand_all(frame, node.args[0]):
            part = part.lower()
            if part == "from":
                address: str | None = self.envelope.from_
            elif part == "to":
                address = self.envelope.to
            elif part == "auth":
                address = self.envelope.auth
            else:
                raise SieveRuntimeError(f"unknown envelope part \"{part}\"")
            if address is None:
                continue
            if address == "":
                # RFC 5228 section 5.4: the null reverse-path is "" for every part.
                values.append("")
                continue
            local, _, domain = address.rpartition("@") if "@" in address else (
                address, "", "")
            value = _address_part(node, local, domain)
            if value is not None:
                values.append(value)
        return self._match(frame, node, values)

    def _test_string(self, frame: _Frame, node: Node) -> bool:
        values = self.expand_all(frame, node.args[0])
        if "count" in node.tags:
            values = [v for v in values if v]  # RFC 5229 section 5
        return self._match(frame, node, values)

    def _test_body(self, frame: _Frame, node: Node) -> bool:
        if "raw" in node.tags:
            values = [self.message.raw_body()]
        elif "content" in node.tags:
            values = self.message.body_texts(tuple(self.expand_all(frame,
                                                                   node.tags["content"])))
        else:
            values = self.message.body_texts(None)
        return self._match(frame, node, values)

    def _test_hasflag(self, frame: _Frame, node: Node) -> bool:
        if len(node.args) == 2:
            flags: list[str] = []
            for variable in node.args[0]:
                flags.extend(_flag_list([self._get(frame, variable)]))
        else:
            flags = list(self.flags)
        return self._match(frame, node, flags)

    def _test_mailboxexists(self, frame: _Frame, node: Node) -> bool:
        return all(self.env.mailbox_exists(n) for n in self.expand_all(frame, node.args[0]))

    def _test_duplicate(self, frame: _Frame, node: Node) -> bool:
        tags = node.tags
        if "uniqueid" in tags:
            value: str | None = self.expand(frame, tags["uniqueid"])
        else:
            header = self.expand(frame, tags.get("header", "Message-ID"))
            found = self.message.values(header)
            value = found[0] if found else None
        if not value:
            return False  # RFC 7352 section 3.1: no id, no duplicate
        handle = self.expand(frame, tags.get("handle", ""))
        seconds = min(tags.get("seconds", DEFAULT_DUPLICATE_SECONDS), MAX_DUPLICATE_SECONDS)
        key = (handle, value)
        seen = key in self.duplicates or self.env.duplicate_seen(handle, value)
        self.duplicates[key] = DuplicateRecord(handle, value, seconds, "last" in tags)
        return seen

    # -- date (RFC 5260) ----------------------------------------------------------------

    def now(self) -> datetime:
        if self._now is None:
            self._now = self.env.now()
            if self._now.tzinfo is None:
                self._now = self._now.replace(tzinfo=UTC)
        return self._now

    def _zone(self, frame: _Frame, node: Node) -> timezone | None:
        if "zone" not in node.tags:
            return None
        text = self.expand(frame, node.tags["zone"])
        m = re.fullmatch(r"([+-])([0-9]{2})([0-9]{2})", text)
        if not m or int(m.group(3)) > 59:
            raise SieveRuntimeError(f"\"{text}\" is not a time zone of the form +hhmm")
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        if minutes >= 24 * 60:
            raise SieveRuntimeError(f"\"{text}\" is not a time zone")
        return timezone(timedelta(minutes=-minutes if m.group(1) == "-" else minutes))

    def _test_date(self, frame: _Frame, node: Node) -> bool:
        header = self.expand(frame, node.args[0])
        part = self.expand(frame, node.args[1]).lower()
        zone = self._zone(frame, node)
        values = []
        for value in self._indexed(node, self.message.values(header)):
            if header.lower() == "received":
                value = value.rsplit(";", 1)[-1]
            when = _parse_date(value)
            if when is None:
                continue
            if "originalzone" not in node.tags:
                when = when.astimezone(zone or self.now().tzinfo)
            values.append(date_part(when, part))
        return self._match(frame, node, values)

    def _test_currentdate(self, frame: _Frame, node: Node) -> bool:
        part = self.expand(frame, node.args[0]).lower()
        zone = self._zone(frame, node)
        now = self.now()
        if zone is not None:
            now = now.astimezone(zone)
        return self._match(frame, node, [date_part(now, part)])


def _merge(old: Action, new: Action) -> Action | None:
    """RFC 5228 section 2.10.3: one delivery per mailbox and per redirect address; a
    keep and a fileinto "INBOX" are the same mailbox. Flags of merged deliveries are
    united (RFC 5232 leaves this open)."""
    if isinstance(old, Discard) and isinstance(new, Discard):
        return old
    target_old = _target(old)
    if target_old is None or target_old != _target(new):
        return None
    assert isinstance(old, Keep | FileInto) and isinstance(new, Keep | FileInto)
    flags = _union(old.flags, new.flags)
    if isinstance(old, Keep):
        return Keep(flags, old.implicit)
    if isinstance(new, Keep):
        return Keep(flags)
    return FileInto(old.mailbox, flags, old.copy and new.copy, old.create or new.create)


def _target(action: Action) -> str | None:
    if isinstance(action, Keep):
        return "INBOX"
    if isinstance(action, FileInto):
        return "INBOX" if action.mailbox.upper() == "INBOX" else action.mailbox
    return None


def _union(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if a is None:
        return b
    if b is None:
        return a
    return tuple(_flag_list([*a, *b]))


_SYSTEM_FLAGS = {f.lower(): f for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
                                         "\\Draft")}
_ATOM_SPECIALS = set('(){ %*"\\]')


def _flag_list(values: list[str], warnings: list[str] | None = None) -> list[str]:
    """RFC 5232 section 2: each string is a space-separated list of flags; flags
    compare case-insensitively and appear once. With ``warnings``, flags that IMAP
    cannot store (RFC 3501 ``flag``: a system flag other than \\Recent, or an atom)
    are dropped with a warning, as RFC 5232 section 3 lets implementations do."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        for flag in value.split():
            if warnings is not None:
                if flag.startswith("\\"):
                    if flag.lower() not in _SYSTEM_FLAGS:
                        warnings.append(f"invalid IMAP flag {flag} ignored")
                        continue
                    flag = _SYSTEM_FLAGS[flag.lower()]
                elif any(c in _ATOM_SPECIALS or ord(c) < 0x21 or ord(c) > 0x7E for c in flag):
                    warnings.append(f"invalid IMAP flag {flag} ignored")
                    continue
            if flag.lower() not in seen:
                seen.add(flag.lower())
                out.append(flag)
    return out


def _match_args(node: Node) -> tuple[str, str | None, str]:
    tags = node.tags
    comparator = tags.get("comparator", "i;ascii-casemap")
    for name in ("is", "contains", "matches", "regex"):
        if name in tags:
            return name, None, comparator
    for name in ("count", "value"):
        if name in tags:
            return name, tags[name], comparator
    return "is", None, comparator


def _strip_detail(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split(SUBADDRESS_SEPARATOR, 1)[0]}@{domain}"


def _address_part(node: Node, local: str, domain: str) -> str | None:
    """RFC 5228 section 2.7.4 and RFC 5233 section 4; None when the part does not
    exist (``:detail`` of an address without separator)."""
    tags = node.tags
    if "localpart" in tags:
        return local
    if "domain" in tags:
        return domain
    if "user" in tags:
        return local.split(SUBADDRESS_SEPARATOR, 1)[0]
    if "detail" in tags:
        if SUBADDRESS_SEPARATOR not in local:
            return None
        return local.split(SUBADDRESS_SEPARATOR, 1)[1]
    return f"{local}@{domain}" if domain else local


def _parse_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


_MJD_EPOCH = datetime(1858, 11, 17).date()


def date_part(when: datetime, part: str) -> str:
    """RFC 5260 section 4.2 date-part values."""
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    if part == "year":
        return f"{when.year:04d}"
    if part == "month":
        return f"{when.month:02d}"
    if part == "day":
        return f"{when.day:02d}"
    if part == "date":
        return f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
    if part == "julian":
        return str((when.date() - _MJD_EPOCH).days)
    if part == "hour":
        return f"{when.hour:02d}"
    if part == "minute":
        return f"{when.minute:02d}"
    if part == "second":
        return f"{when.second:02d}"
    if part == "time":
        return f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    if part == "iso8601":
        return when.isoformat(timespec="seconds")
    if part == "std11":
        return email.utils.format_datetime(when)
    if part == "zone":
        return zone
    if part == "weekday":
        return str((when.weekday() + 1) % 7)
    raise SieveRuntimeError(f"unknown date part \"{part}\"")


def evaluate(script: CheckedScript, message: MessageView | bytes, envelope: Envelope,
             env: Environment) -> Result:
    """Run ``script`` over ``message`` (raw bytes or a view) and return what to do."""
    view = message if isinstance(message, MessageView) else MessageView(message)
    return Run(view, envelope, env).run(script)
