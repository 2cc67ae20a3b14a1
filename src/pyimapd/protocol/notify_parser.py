"""Arguments of NOTIFY (RFC 5465 section 8); :mod:`pyimapd.protocol.parser` lists it in
its command table.

The grammar's own rules are checked here, so a client that breaks them gets BAD:
message events only in a SELECTED or SELECTED-DELAYED group, and only one such group;
MessageNew and MessageExpunge together, FlagChange only with both; fetch attributes
only after MessageNew of a selected group. Whether the server supports an event that is
well formed (BADEVENT, a NO) is the handler's question, not the grammar's.
"""

from __future__ import annotations

import re

from pyimapd.protocol import commands as c
from pyimapd.protocol.fetch_parser import parse_fetch_items
from pyimapd.protocol.grammar import ParseFailure, Reader

MAX_GROUPS = 64
"""Event groups in one NOTIFY; more is refused rather than parsed (a bounded command)."""
MAX_MAILBOXES = 1000
"""Mailboxes one SUBTREE or MAILBOXES filter may name."""
_WORD = re.compile(rb"[A-Za-z-]+")
_SP_LIST = re.compile(rb" (?=\()")  # the space before MessageNew's attribute list
_KNOWN = {name.upper(): name for name in
          (*c.MESSAGE_EVENTS, *c.MAILBOX_EVENTS, *c.USER_EVENTS)}


def notify(r: Reader, tag: str, uid: bool) -> c.Command:
    """``notify = "NOTIFY" SP (notify-set / notify-none)``."""
    r.sp("SET or NONE")
    word = r.atom("SET or NONE").decode("ascii", "replace").upper()
    if word == "NONE":
        r.end("NOTIFY")
        return c.Notify(tag, None)
    if word != "SET":
        raise ParseFailure("Expected SET or NONE after NOTIFY")
    r.sp("event groups")
    status = False
    if r.peek() != 0x28:
        if r.atom("STATUS").decode("ascii", "replace").upper() != "STATUS":
            raise ParseFailure("Expected STATUS or an event group")
        status = True
        r.sp("event groups")
    groups = [_group(r)]
    while not r.at_end():
        r.sp("event group")
        groups.append(_group(r))
        if len(groups) > MAX_GROUPS:
            raise ParseFailure(f"More than {MAX_GROUPS} event groups")
    if sum(g.selected for g in groups) > 1:
        raise ParseFailure("Only one of SELECTED and SELECTED-DELAYED may be given")
    return c.Notify(tag, tuple(groups), status)


def _group(r: Reader) -> c.NotifyGroup:
    """``event-group = "(" filter-mailboxes SP events ")"``."""
    r.char(b"(", "event group")
    m = r.match(_WORD)
    name = m.group().decode("ascii").upper() if m else ""
    if name not in c.NOTIFY_FILTERS:
        raise ParseFailure("Unknown mailbox filter in NOTIFY")
    mailboxes: tuple[str, ...] = ()
    if name in ("SUBTREE", "MAILBOXES"):
        r.sp("mailboxes")
        mailboxes = parse_mailboxes(r)
    r.sp("events")
    events, fetch = _events(r, name in ("SELECTED", "SELECTED-DELAYED"))
    r.char(b")", "event group")
    return c.NotifyGroup(name, mailboxes, events, fetch)


def parse_mailboxes(r: Reader) -> tuple[str, ...]:
    """``one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"``."""
    if r.peek() != 0x28:
        return (r.mailbox(),)
    r.pos += 1
    names = [r.mailbox()]
    while r.peek() == 0x20:
        r.pos += 1
        names.append(r.mailbox())
        if len(names) > MAX_MAILBOXES:
            raise ParseFailure(f"More than {MAX_MAILBOXES} mailboxes in one filter")
    r.char(b")", "mailbox list")
    return tuple(names)


_NONE = re.compile(rb"NONE(?=\))", re.IGNORECASE)


def _events(r: Reader, selected: bool) -> tuple[tuple[str, ...], tuple[c.FetchItem, ...]]:
    """``events = ( "(" event *(SP event) ")" ) / "NONE"``, with the grammar's comments
    on which events go together. The events may also come without their parentheses,
    up to the group's ``)``, as every example in RFC 5465 writes them
    (``(subtree Lists MessageNew)``); clients copy the examples."""
    if r.match(_NONE):
        return (), ()
    listed = r.peek() == 0x28
    if listed:
        r.pos += 1
    events: list[str] = []
    fetch: tuple[c.FetchItem, ...] = ()
    while True:
        word = r.atom("event").decode("ascii", "replace")
        event = _KNOWN.get(word.upper(), word)
        if event in events:
            raise ParseFailure(f"Event {event} given twice")
        events.append(event)
        if event == "MessageNew" and r.match(_SP_LIST):
            if not selected:
                raise ParseFailure("MessageNew takes fetch attributes only for SELECTED")
            fetch = parse_fetch_items(r)
        if r.peek() != 0x20:
            break
        r.pos += 1
    if listed:
        r.char(b")", "event list")
    message = [e for e in events if e in c.MESSAGE_EVENTS]
    if selected and len(message) < len(events):
        raise ParseFailure("Only message events are allowed for SELECTED")
    if ("MessageNew" in events) != ("MessageExpunge" in events):
        raise ParseFailure("MessageNew and MessageExpunge must be given together")
    if "FlagChange" in events and "MessageNew" not in events:
        raise ParseFailure("FlagChange needs MessageNew and MessageExpunge")
    return tuple(events), fetch
