"""Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3).

Printable US-ASCII except ``&`` stands for itself; ``&`` is ``&-``; every other character
is UTF-16BE, encoded in modified BASE64 (``,`` instead of ``/``, no padding) between ``&``
and ``-``. The decoder is strict, as section 5.1.3 asks of servers: it refuses bad BASE64,
encoded printable ASCII, superfluous shifts (``-&`` right after a BASE64 run), a missing
``-``, leftover non-zero bits and unpaired surrogates.

Many clients send mailbox names as raw UTF-8 instead (RFC 6855 makes that official). The
parser decodes the octets as UTF-8 first; a name that then holds non-ASCII characters is
taken as already decoded, and its ``&`` are plain ampersands.
"""

from __future__ import annotations

import base64
import binascii
import re

_B64_RUN = re.compile(r"&([A-Za-z0-9+,]*)-")
_DIRECT = re.compile(r"[\x20-\x25\x27-\x7e]+")
_CTL = re.compile(r"[\x00-\x1f\x7f]")


def _b64_encode(raw: bytes) -> str:
    """Modified BASE64 of RFC 3501 section 5.1.3: "," for "/", and no "=" padding."""
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode_mailbox_name(name: str) -> str:
    """Encode ``name`` to modified UTF-7, the form mailbox names take on the wire."""
    out: list[str] = []
    pos = 0
    while pos < len(name):
        direct = _DIRECT.match(name, pos)
        if direct:
            out.append(direct.group())
            pos = direct.end()
        elif name[pos] == "&":
            out.append("&-")
            pos += 1
        else:
            end = pos
            while end < len(name) and not ("\x20" <= name[end] <= "\x7e"):
                end += 1
            out.append("&" + _b64_encode(name[pos:end].encode("utf-16-be")) + "-")
            pos = end
    return "".join(out)


def _b64_decode(run: str) -> str:
    """One BASE64 run (between ``&`` and ``-``) to text, refusing non-canonical forms."""
    bits = 6 * len(run)
    units, leftover = divmod(bits, 16)
    if units == 0 or leftover >= 6:
        raise ValueError("modified BASE64 run has a superfluous character")
    std = run.replace(",", "/")
    padded = std + "=" * (-len(std) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid modified BASE64") from exc
    if _b64_encode(raw[: 2 * units]) != run:
        raise ValueError("modified BASE64 run has non-zero padding bits")
    try:
        text = raw[: 2 * units].decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError("unpaired surrogate in mailbox name") from exc
    if any("\x20" <= ch <= "\x7e" for ch in text):
        raise ValueError("printable ASCII must not be BASE64-encoded")
    return text


def decode_mailbox_name(raw: str) -> str:
    """Decode a mailbox name received on the wire (already decoded from UTF-8).

    Raises ValueError for anything RFC 3501 section 5.1.3 does not allow.
    """
    if _CTL.search(raw):
        raise ValueError("control character in mailbox name")
    if not raw.isascii():
        return raw
    out: list[str] = []
    pos = 0
    after_run = False
    while pos < len(raw):
        amp = raw.find("&", pos)
        if amp < 0:
            out.append(raw[pos:])
            break
        if amp > pos:
            out.append(raw[pos:amp])
            after_run = False
        if raw.startswith("&-", amp):
            out.append("&")
            pos = amp + 2
            after_run = False
            continue
        if after_run:
            raise ValueError("null shift in mailbox name")
        match = _B64_RUN.match(raw, amp)
        if match is None:
            raise ValueError("unterminated or invalid modified BASE64 in mailbox name")
        out.append(_b64_decode(match.group(1)))
        pos = match.end()
        after_run = True
    return "".join(out)
