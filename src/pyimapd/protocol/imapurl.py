"""IMAP URLs (RFC 5092) that name one message or message part, for CATENATE (RFC 4469).

How this works: :func:`parse_url` splits an URL into its server part (absolute URLs,
``imap://user@host/...``) and its path, and reads the path with one regex that follows
the order RFC 5092 section 11 gives the parameters:

    imessagepart  = imailbox-ref iuid [isection] [ipartial]
    imailbox-ref  = enc-mailbox [uidvalidity]
    uidvalidity   = ";UIDVALIDITY=" nz-number
    iuid          = "/" iuid-only          iuid-only     = ";UID=" nz-number
    isection      = "/" isection-only      isection-only = ";SECTION=" enc-section
    ipartial      = "/" ipartial-only      ipartial-only = ";PARTIAL=" partial-range
    partial-range = number ["." nz-number]
    iurlauth      = iurlauth-rump iua-verifier   (RFC 5092 section 11, which
    iurlauth-rump = [expire] ";URLAUTH=" access   updates RFC 4467 section 9)
    iua-verifier  = ":" uauth-mechanism ":" enc-urlauth
    enc-urlauth   = 32*HEXDIG
    expire        = ";EXPIRE=" date-time      ; RFC 3339
    access        = ("submit+" enc-user) / ("user+" enc-user) / "authuser" / "anonymous"
    uauth-mechanism = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")   ; case-insensitive

The parameter names are case-insensitive (RFC 4469's own examples write ``;section=``).
A relative URL (no scheme) is resolved later by the session against its base
(``imap://user@server/`` or, when a mailbox is selected, ``imap://user@server/mailbox``,
RFC 4469 section 3), so it keeps :attr:`ImapUrl.mailbox` None when it names none or
:attr:`ImapUrl.relative_path` when its mailbox path is relative. Everything is
percent-decoded here; mailbox names are UTF-8 (RFC 5092 section 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_to_bytes

from pyimapd.protocol.arguments import CommandError, FetchSection
from pyimapd.protocol.fetch_parser import parse_section_spec
from pyimapd.protocol.grammar import MAX_NUMBER, ParseFailure, normalise_inbox


class BadUrl(ValueError):
    """An URL that is not a valid IMAP message or part URL; the text says why."""


# bchar = achar / ":" / "@" / "/"; achar = uchar / "&" / "=" / "~"; uchar = unreserved /
# pct-encoded / sub-delims-sh (the sub-delims without ";"): everything an URL path may
# hold but ";" and what needs escaping. Checked per component once the ";" are split.
_BCHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$'()*+,&=:@/]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"imap://", re.IGNORECASE)
_PATH = re.compile(
    r"(?P<mailbox>[^;]*?)"
    r"(?:;UIDVALIDITY=(?P<uidvalidity>[0-9]+))?"
    r"(?P<slash>/?);UID=(?P<uid>[0-9]+)"
    r"(?:/;SECTION=(?P<section>[^;]+?))?"
    r"(?:/;PARTIAL=(?P<offset>[0-9]+)(?:\.(?P<length>[0-9]+))?)?"
    r"(?P<rump_end>"
    r"(?:;EXPIRE=(?P<expire>[^;]+))?"
    r";URLAUTH=(?P<access>[^;:]+)"
    r")?"
    r"(?::(?P<mechanism>[A-Za-z0-9.\-]+):(?P<token>[^:;]*))?",
    re.IGNORECASE,
)
_ACCESS = re.compile(r"(?P<kind>submit|user)\+(?P<name>.+)|(?P<plain>authuser|anonymous)",
                     re.IGNORECASE)
_TOKEN = re.compile(r"[0-9A-Fa-f]{32,}")
"""``enc-urlauth = 32*HEXDIG`` (HEXDIG is case-insensitive, as all ABNF literals)."""
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})", re.IGNORECASE)
"""RFC 3339 section 5.6 ``date-time`` (its ``T`` and ``Z`` may be lower case, section
5.6's note); Python's ISO 8601 reader alone would also take forms RFC 3339 does not
(``20061020T195500Z``, week dates, a missing zone)."""
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,=%]+")


@dataclass(frozen=True, slots=True)
class ImapUrl:
    """One parsed message or part URL.

    ``user`` and ``host`` are set for an absolute URL only. ``mailbox`` is None when
    the URL names no mailbox (``;UID=20``: the selected one); ``relative_path`` is true
    for a mailbox path without the leading ``/`` (merged with the base's directory,
    RFC 3986 section 5.2.3). ``partial`` is ``(offset, length or None)``. ``rump`` is
    the URL text up to and including the access identifier, what RFC 4467's HMAC is
    computed over; ``mechanism`` and ``token`` its verifier, when given.
    """

    text: str
    user: str | None
    host: str | None
    port: int | None
    mailbox: str | None
    relative_path: bool
    uidvalidity: int | None
    uid: int
    section: FetchSection | None
    partial: tuple[int, int | None] | None
    expire: datetime | None = None
    access: str | None = None
    rump: str | None = None
    mechanism: str | None = None
    token: str | None = None

    @property
    def absolute(self) -> bool:
        return self.host is not None


def _decode(text: str, what: str) -> str:
    if _BCHARS.fullmatch(text) is None:
        raise BadUrl(f"invalid character in the {what}")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadUrl(f"the {what} is not UTF-8") from exc


def _number(digits: str, what: str, nonzero: bool = True) -> int:
    value = int(digits) if len(digits) <= 10 else MAX_NUMBER + 1
    if value > MAX_NUMBER or (nonzero and value == 0):
        raise BadUrl(f"invalid {what}")
    return value


def _server(authority: str) -> tuple[str | None, str, int | None]:
    """``iserver = [iuserinfo "@"] host [":" port]``; ``iuserinfo = enc-user [iauth]``
    (``;AUTH=`` is accepted and ignored: this server authenticated the session itself)."""
    userinfo, at, hostport = authority.rpartition("@")
    user: str | None = None
    if at:
        name = re.split(";AUTH=", userinfo, maxsplit=1, flags=re.IGNORECASE)[0]
        user = _decode(name, "user name") if name else None
    host, port = hostport, None
    if not hostport.endswith("]") and ":" in hostport:
        host, _, digits = hostport.rpartition(":")
        if not digits.isdigit() or not 0 < int(digits) < 65536:
            raise BadUrl("invalid port")
        port = int(digits)
    if _HOST.fullmatch(host) is None:
        raise BadUrl("invalid host")
    return user, _decode(host, "host").lower(), port


def parse_url(text: str) -> ImapUrl:
    """Raises :class:`BadUrl` for anything but a message or part URL."""
    user = host = None
    port = None
    path = text
    scheme = _SCHEME.match(text)
    if scheme is not None:
        authority, slash, path = text[scheme.end():].partition("/")
        if not slash:
            raise BadUrl("the URL names no message")
        user, host, port = _server(authority)
        path = "/" + path
    elif ":" in text.split("/", 1)[0].split(";", 1)[0]:
        raise BadUrl("not an IMAP URL")
    absolute_path = path.startswith("/")
    m = _PATH.fullmatch(path[1:] if absolute_path else path)
    if m is None:
        raise BadUrl("not a message or message part URL")
    raw_mailbox = m.group("mailbox")
    if raw_mailbox and not m.group("uidvalidity") and not m.group("slash"):
        raise BadUrl("missing / before ;UID")
    if not raw_mailbox and (m.group("slash") or m.group("uidvalidity") or absolute_path):
        raise BadUrl("missing mailbox name")
    if m.group("mechanism") and not m.group("access"):
        raise BadUrl("a verifier without ;URLAUTH")
    if m.group("mechanism") and _TOKEN.fullmatch(m.group("token")) is None:
        raise BadUrl("the URLAUTH token is not 32 or more hex digits")
    mailbox = normalise_inbox(_decode(raw_mailbox, "mailbox name")) if raw_mailbox else None
    if mailbox is not None and not mailbox:
        raise BadUrl("missing mailbox name")
    return ImapUrl(
        text=text,
        user=user,
        host=host,
        port=port,
        mailbox=mailbox,
        relative_path=bool(raw_mailbox) and not absolute_path,
        uidvalidity=_number(m.group("uidvalidity"), "UIDVALIDITY")
        if m.group("uidvalidity") else None,
        uid=_number(m.group("uid"), "UID"),
        section=_section(m.group("section")),
        partial=_partial(m.group("offset"), m.group("length")),
        expire=_expire(m.group("expire")),
        access=_access(m.group("access")),
        rump=text[: len(text) - len(path) + (1 if absolute_path else 0) + m.end("rump_end")]
        if m.group("access") else None,
        mechanism=m.group("mechanism").upper() if m.group("mechanism") else None,
        token=m.group("token") if m.group("mechanism") else None,
    )


def _section(raw: str | None) -> FetchSection | None:
    """``enc-section``: a percent-encoded ``section-spec`` of RFC 3501, read by the
    FETCH parser so that an URL can name every section FETCH can."""
    if raw is None:
        return None
    spec = _decode(raw, "section")
    try:
        return parse_section_spec(spec.encode("utf-8"))
    except (ParseFailure, CommandError) as exc:
        raise BadUrl(f"invalid section: {exc}") from exc


def _partial(offset: str | None, length: str | None) -> tuple[int, int | None] | None:
    if offset is None:
        return None
    return (_number(offset, "partial offset", nonzero=False),
            _number(length, "partial length") if length is not None else None)


def _expire(raw: str | None) -> datetime | None:
    """``expire = ";EXPIRE=" date-time`` of RFC 3339, whose zone is mandatory (RFC 4467
    section 3, RFC 5092 section 11)."""
    if raw is None:
        return None
    text = _decode(raw, "expiry")
    if _DATE_TIME.fullmatch(text) is None:
        raise BadUrl("invalid ;EXPIRE date-time (RFC 3339: YYYY-MM-DDThh:mm:ss and a zone)")
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadUrl("invalid ;EXPIRE date-time") from exc


def _access(raw: str | None) -> str | None:
    """``access = ("submit+" enc-user) / ("user+" enc-user) / "authuser" / "anonymous"``,
    kinds lower-cased, the user name decoded."""
    if raw is None:
        return None
    m = _ACCESS.fullmatch(raw)
    if m is None:
        raise BadUrl("invalid ;URLAUTH access identifier")
    if m.group("plain"):
        return m.group("plain").lower()
    return f"{m.group('kind').lower()}+{_decode(m.group('name'), 'access user name')}"


def merge_mailbox(base: str | None, url: ImapUrl) -> str | None:
    """The mailbox a relative URL names against the base ``imap://user@server/base``
    (RFC 3986 section 5.2.3: a relative path replaces the base's last segment), or None
    when it names none and there is no base mailbox."""
    if url.mailbox is None:
        return base
    if not url.relative_path or base is None or "/" not in base:
        return url.mailbox
    return normalise_inbox(base.rsplit("/", 1)[0] + "/" + url.mailbox)
