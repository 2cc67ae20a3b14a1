"""GENURLAUTH, RESETKEY and URLFETCH (RFC 4467 section 7) with the INTERNAL mechanism.

How this works: GENURLAUTH checks each rump URL the way section 7 asks (absolute, this
server, the session's own user and an existing mailbox of theirs, an access identifier
and no verifier yet; a ``user+``/``submit+`` userid that does not exist gets a token
that never verifies, as section 7 allows), fetches the mailbox access key from the
store (making it on first use, ``MailStore.urlauth_key``) and appends ``:internal:``
and the token of the rump (:mod:`pyimapd.auth.urlauth`). RESETKEY drops keys in the
store, which invalidates every URL made with them. URLFETCH verifies each URL
(``UrlSource.authorized``) and streams the octets it names as one ``* URLFETCH url
literal`` response, read 64 KiB at a time with back-pressure; an URL that does not
verify, for whatever reason, is answered ``* URLFETCH url NIL`` (section 7: a NO is
only for a server failure), so it reveals nothing of the mailbox it names.

``URLMECH`` (section 8) tells which mechanisms a mailbox's keys serve, after SELECT,
EXAMINE (handlers/mailbox.py) and RESETKEY. Section 8 asks for a configuration that
sends it only where the session is protected from snooping; pyimapd sends it only over
TLS. Section 7 says that other sessions of the user with the mailbox selected "will
receive" an untagged ``OK [URLMECH ...]`` after a RESETKEY; that is not done: the
change feed only wakes a session to poll its mailbox and carries no event kind, and a
key reset is not a mailbox change a poll would report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyimapd.auth import urlauth
from pyimapd.protocol import commands as c
from pyimapd.protocol.imapurl import BadUrl, parse_url
from pyimapd.protocol.responses import (
    CRLF,
    Atom,
    ResponseCode,
    untagged,
    untagged_status,
    urlfetch_prefix,
)
from pyimapd.session.handlers.urls import Located, UrlSource, names_this_server
from pyimapd.session.state import CommandFailed, Result, bad, ok
from pyimapd.storage import names
from pyimapd.storage.interface import NoSuchMailbox, StorageError

if TYPE_CHECKING:
    from pyimapd.session.session import Session

URLMECH = ResponseCode("URLMECH", urlauth.MECHANISM)
_WIRE_MECHANISM = urlauth.MECHANISM.lower()
"""Written after the rump as RFC 4467's examples write it (``:internal:``); mechanism
names are case-insensitive."""


def _mechanism(name: str) -> None:
    if name != urlauth.MECHANISM:
        raise CommandFailed(bad(f"Unknown URLAUTH mechanism {name}"))


async def genurlauth(session: Session, command: c.GenUrlAuth) -> Result:
    store = session.require_store()
    out: list[str] = []
    for rump, mechanism in command.pairs:
        _mechanism(mechanism)
        try:
            url = parse_url(rump)
        except BadUrl as exc:
            return bad(f"Invalid URL: {exc}")
        if url.user != session.user or not names_this_server(session, url):
            return bad("The URL must be imap://you@this-server/...")
        if url.access is None or url.mechanism is not None or url.mailbox is None:
            return bad("The URL must end with ;URLAUTH=access and no mechanism or token")
        try:
            key = await store.urlauth_key(names.normalize(url.mailbox), create=True)
        except NoSuchMailbox:
            return bad(f"No mailbox {url.mailbox}")  # section 7: BAD when a check fails
        assert key is not None
        if await _names_a_userid(session, url.access):
            made = urlauth.token(key, rump)
        else:
            made = urlauth.decoy(rump)
        out.append(f"{rump}:{_WIRE_MECHANISM}:{made}")
    session.write(untagged(Atom("GENURLAUTH"), *out))
    return ok("GENURLAUTH completed")


async def _names_a_userid(session: Session, access: str) -> bool:
    """Section 7 check (3): a ``submit+`` or ``user+`` access identifier must name a
    valid userid. When it does not, section 7 allows a tagged OK with a token that
    never verifies instead of BAD, so that GENURLAUTH tells nothing of which userids
    exist; that token also keeps the URL dead should the userid be created later."""
    _, plus, user = access.partition("+")
    if not plus:
        return True  # anonymous, authuser
    return await session.ctx.backend.users.get_user(user) is not None


async def resetkey(session: Session, command: c.ResetKey) -> Result:
    for mechanism in command.mechanisms:
        _mechanism(mechanism)
    store = session.require_store()
    if command.mailbox is None:
        await store.reset_urlauth_keys(None)
        return ok("All keys removed")
    await store.reset_urlauth_keys(names.normalize(command.mailbox))
    if session.io.secure:
        session.write(untagged_status("OK", "Mechanisms", URLMECH))
    return ok("Key reset")


async def urlfetch(session: Session, command: c.UrlFetch) -> Result:
    source = UrlSource(session)
    try:
        for text in command.urls:
            located = await _locate(source, text)
            if located is None:
                session.write(urlfetch_prefix(text, None))
                continue
            await _stream(session, source, text, located)
    finally:
        await source.close()
    return ok("URLFETCH completed")


async def _locate(source: UrlSource, text: str) -> Located | None:
    try:
        url = parse_url(text)
    except BadUrl:
        return None
    store = await source.authorized(url)
    if store is None:
        return None
    try:
        return await source.locate(url, text, store)
    except CommandFailed:
        return None


async def _stream(session: Session, source: UrlSource, text: str, located: Located) -> None:
    """The literal is begun only once its first chunk is read, so a message expunged
    since it was located still gets NIL (as FETCH does for a vanished body)."""
    chunks = aiter(source.read(located))
    try:
        first = await anext(chunks, b"")
    except StorageError:
        session.write(urlfetch_prefix(text, None))
        return
    session.write(urlfetch_prefix(text, located.size) + first)
    async for chunk in chunks:
        session.write(chunk)
        await session.io.drain()
    session.write(CRLF)
