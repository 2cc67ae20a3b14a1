"""A small pure-Python MD5 (RFC 1321) that can resume from a saved state.

Why it exists: the CRAM-MD5 secret we store is not the password but the two MD5 states
HMAC-MD5 (RFC 2104) reaches after hashing ``key XOR ipad`` and ``key XOR opad`` (one
64-octet block each), as Dovecot's CRAM-MD5 password scheme does. Verifying a response
means continuing both hashes from those states, which :mod:`hashlib` cannot do. This
module is used only for that; everything else uses hashlib. Tests compare it with hashlib.
"""

from __future__ import annotations

import hashlib
import math
import struct

State = tuple[int, int, int, int]

IV: State = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
"""RFC 1321 section 3.3: the initial words A, B, C, D."""

BLOCK = 64
_MASK = 0xFFFFFFFF
# RFC 1321 section 3.4: T[i] = floor(4294967296 * abs(sin(i))), i = 1..64.
_T = [int(abs(math.sin(i + 1)) * 2**32) & _MASK for i in range(64)]
_SHIFTS = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


def compress(state: State, block: bytes) -> State:
    """One application of the four rounds of RFC 1321 section 3.4 to a 64-octet block."""
    if len(block) != BLOCK:
        raise ValueError("MD5 compresses 64-octet blocks")
    x = struct.unpack("<16I", block)
    a, b, c, d = state
    for i in range(64):
        if i < 16:
            f, g = (b & c) | (~b & d), i
        elif i < 32:
            f, g = (d & b) | (~d & c), (5 * i + 1) % 16
        elif i < 48:
            f, g = b ^ c ^ d, (3 * i + 5) % 16
        else:
            f, g = c ^ (b | (~d & _MASK)), (7 * i) % 16
        f = (f + a + _T[i] + x[g]) & _MASK
        a, d, c = d, c, b
        b = (b + _rotl(f, _SHIFTS[i])) & _MASK
    return (
        (state[0] + a) & _MASK,
        (state[1] + b) & _MASK,
        (state[2] + c) & _MASK,
        (state[3] + d) & _MASK,
    )


def finish(state: State, done: int, data: bytes) -> bytes:
    """The digest of a message whose first ``done`` octets (a multiple of 64) were
    already absorbed into ``state``, followed by ``data`` (padding: section 3.1-3.2)."""
    if done % BLOCK:
        raise ValueError("a resumed MD5 state covers whole blocks")
    total = done + len(data)
    tail = data + b"\x80" + b"\x00" * ((55 - len(data)) % BLOCK) + struct.pack("<Q", 8 * total)
    for i in range(0, len(tail), BLOCK):
        state = compress(state, tail[i : i + BLOCK])
    return struct.pack("<4I", *state)


def pack_state(state: State) -> bytes:
    return struct.pack("<4I", *state)


def unpack_state(raw: bytes) -> State:
    a, b, c, d = struct.unpack("<4I", raw)
    return (a, b, c, d)


def hmac_states(key: bytes) -> tuple[State, State]:
    """The inner and outer MD5 states of HMAC-MD5 with ``key`` (RFC 2104 section 2)."""
    if len(key) > BLOCK:
        key = hashlib.md5(key, usedforsecurity=False).digest()
    key = key.ljust(BLOCK, b"\x00")
    inner = compress(IV, bytes(k ^ 0x36 for k in key))
    outer = compress(IV, bytes(k ^ 0x5C for k in key))
    return inner, outer


def hmac_from_states(inner: State, outer: State, message: bytes) -> bytes:
    """HMAC-MD5(key, message) given :func:`hmac_states` of the key."""
    return finish(outer, BLOCK, finish(inner, BLOCK, message))
