"""Unit tests of the auth building blocks: the resumable MD5, the stored secrets, the SASL
step machines (against scramp, an independent SCRAM client), the login cache and the
failed-login throttle."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scramp import ScramClient

from pyimapd.auth import md5, stored
from pyimapd.auth.cache import LoginCache
from pyimapd.auth.sasl import (
    Challenge,
    Credentials,
    NeedSecret,
    Rejected,
    SaslError,
    Verified,
    mechanisms,
)
from pyimapd.auth.throttle import LoginThrottle

KEY = b"k" * 32


@given(st.binary(max_size=64).map(lambda b: b.ljust(64, b"\x01")), st.binary(max_size=300))
def test_resumed_md5_matches_hashlib(first: bytes, rest: bytes) -> None:
    assert md5.finish(md5.compress(md5.IV, first), 64, rest) == hashlib.md5(first + rest).digest()
    assert md5.finish(md5.IV, 0, rest) == hashlib.md5(rest).digest()


@given(st.binary(max_size=150), st.binary(max_size=200))
def test_hmac_from_states_matches_hmac(key: bytes, message: bytes) -> None:
    inner, outer = md5.hmac_states(key)
    assert md5.hmac_from_states(inner, outer, message) == hmac.digest(key, message, "md5")


def test_md5_refuses_partial_blocks() -> None:
    with pytest.raises(ValueError):
        md5.compress(md5.IV, b"short")
    with pytest.raises(ValueError):
        md5.finish(md5.IV, 10, b"")


def test_derived_secrets_hold_no_password() -> None:
    password = "correct horse battery staple"
    secrets = stored.derive(password)
    assert set(secrets) == {"CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}
    blob = repr(secrets).encode()
    for form in (password.encode(), base64.b64encode(password.encode()),
                 password.encode().hex().encode()):
        assert form not in blob


def test_saslprep() -> None:
    assert stored.saslprep("I\u00adX") == "IX"  # soft hyphen is mapped to nothing
    assert stored.saslprep("user\u00a0x") == "user x"  # non-ASCII space to space
    assert stored.saslprep("\u2168") == "IX"  # NFKC
    with pytest.raises(ValueError):
        stored.saslprep("a\x07b")
    with pytest.raises(ValueError):
        stored.saslprep("\u0627\u0031")  # RandALCat must also end the string


def _scram_login(mech: str, user: str, password: str, secret: str | None) -> object:
    client = ScramClient([mech], user, password)
    m = mechanisms("h", KEY)[mech]()
    step = m.start(client.get_client_first().encode())
    assert step == NeedSecret(user)
    step = m.secret(secret)
    assert isinstance(step, Challenge)
    client.set_server_first(step.data.decode())
    step = m.step(client.get_client_final().encode())
    if isinstance(step, Challenge):
        client.set_server_final(step.data.decode())  # checks our ServerSignature
        return m.step(b"")
    return step


@pytest.mark.parametrize("mech", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_against_scramp(mech: str) -> None:
    secrets = stored.derive("pässwörd")
    assert _scram_login(mech, "a,b=c", "pässwörd", secrets[mech]) == Verified("", "a,b=c")
    assert isinstance(_scram_login(mech, "u", "wrong", secrets[mech]), Rejected)
    assert isinstance(_scram_login(mech, "u", "pässwörd", None), Rejected)


def test_scram_unknown_user_gets_stable_fake_salt() -> None:
    def salt_for(user: str) -> bytes:
        m = mechanisms("h", KEY)["SCRAM-SHA-256"]()
        m.start(f"n,,n={user},r=abc".encode())
        step = m.secret(None)
        assert isinstance(step, Challenge)
        return step.data.split(b",s=")[1].split(b",")[0]

    assert salt_for("ghost") == salt_for("ghost") != salt_for("other")


@pytest.mark.parametrize(
    "first",
    [b"p=tls-unique,,n=u,r=x", b"x,,n=u,r=x", b"n,,m=ext,n=u,r=x", b"n,,n=u", b"n,,n=a=b,r=x",
     b"n,,n=u,r=a,b", b"\xff"],
)
def test_scram_rejects_malformed_first_message(first: bytes) -> None:
    m = mechanisms("h", KEY)["SCRAM-SHA-1"]()
    with pytest.raises(SaslError):
        m.start(first)


def test_scram_nonce_mismatch_is_rejected() -> None:
    secrets = stored.derive("pw")
    m = mechanisms("h", KEY)["SCRAM-SHA-1"]()
    m.start(b"n,,n=u,r=abc")
    m.secret(secrets["SCRAM-SHA-1"])
    c = base64.b64encode(b"n,,").decode()
    step = m.step(f"c={c},r=abcWRONG,p={base64.b64encode(b'x' * 20).decode()}".encode())
    assert isinstance(step, Rejected)


def test_cram_md5() -> None:
    secret = stored.derive("tanstaaftanstaaf")["CRAM-MD5"]
    m = mechanisms("host.example", KEY)["CRAM-MD5"]()
    challenge = m.start(None)
    assert isinstance(challenge, Challenge) and challenge.data.endswith(b"@host.example>")
    digest = hmac.new(b"tanstaaftanstaaf", challenge.data, "md5").hexdigest()
    assert m.step(f"tim {digest}".encode()) == NeedSecret("tim")
    assert m.secret(secret) == Verified("", "tim")
    m2 = mechanisms("h", KEY)["CRAM-MD5"]()
    m2.start(None)
    m2.step(b"tim " + b"0" * 32)
    assert isinstance(m2.secret(secret), Rejected)
    assert isinstance(m2.secret(None), Rejected)
    with pytest.raises(SaslError):
        mechanisms("h", KEY)["CRAM-MD5"]().start(b"initial")
    m3 = mechanisms("h", KEY)["CRAM-MD5"]()
    m3.start(None)
    with pytest.raises(SaslError):
        m3.step(b"no-digest")


def test_login_and_plain() -> None:
    m = mechanisms("h", KEY)["LOGIN"]()
    assert m.start(None) == Challenge(b"Username:")
    assert m.step(b"bob") == Challenge(b"Password:")
    assert m.step(b"pw") == Credentials("", "bob", "pw")
    m = mechanisms("h", KEY)["LOGIN"]()
    assert m.start(b"bob") == Challenge(b"Password:")
    p = mechanisms("h", KEY)["PLAIN"]()
    assert p.start(b"\x00bob\x00pw") == Credentials("", "bob", "pw")
    for bad in (b"bob\x00pw", b"\x00\x00pw", b"\x00bob\x00", b"\x00b\xffb\x00pw"):
        with pytest.raises(SaslError):
            mechanisms("h", KEY)["PLAIN"]().start(bad)


def test_login_cache_ttl_and_invalidation() -> None:
    now = [0.0]
    cache = LoginCache(ttl=300, clock=lambda: now[0])
    assert not cache.check("bob", "pw", "$h1")
    cache.remember("bob", "pw", "$h1")
    assert cache.check("bob", "pw", "$h1")
    assert not cache.check("bob", "other", "$h1")
    assert not cache.check("bob", "pw", "$h2")  # user passwd elsewhere: new hash
    assert not cache.check("bob", "pw", "$h1")  # ... and the entry is gone
    cache.remember("bob", "pw", "$h1")
    assert not cache.check("bob", "pw", None)  # user del elsewhere
    cache.remember("bob", "pw", "$h1")
    now[0] = 301.0
    assert not cache.check("bob", "pw", "$h1")  # expired


def test_login_cache_never_holds_the_password() -> None:
    cache = LoginCache()
    cache.remember("bob", "hunter2-secret", "$h")
    for slot in cache._entries:
        assert b"hunter2" not in slot
    assert "hunter2" not in repr(cache._entries)


def test_login_cache_is_bounded_and_can_be_off() -> None:
    cache = LoginCache(max_entries=3)
    for i in range(10):
        cache.remember(f"u{i}", "pw", "$h")
    assert len(cache) == 3
    off = LoginCache(ttl=0)
    off.remember("u", "pw", "$h")
    assert not off.check("u", "pw", "$h")


def test_throttle_grows_per_ip_and_per_account() -> None:
    now = [0.0]
    t = LoginThrottle(base=1.0, maximum=8.0, window=60.0, clock=lambda: now[0])
    assert [t.record_failure("1.2.3.4", "bob") for _ in range(5)] == [1, 2, 4, 8, 8]
    # the same account from another address is slowed down too
    assert t.record_failure("5.6.7.8", "BOB") == 8
    # a spray of accounts from one address is slowed down by the IP counter
    assert t.record_failure("1.2.3.4", "carol") == 8
    t.record_success("bob")
    assert t.failures("9.9.9.9", "bob") == 0
    now[0] = 1000.0
    assert t.failures("1.2.3.4", "carol") == 0


def test_throttle_is_bounded() -> None:
    t = LoginThrottle(max_keys=10)
    for i in range(100):
        t.record_failure(f"10.0.0.{i}", f"user{i}")
    assert len(t._counters) <= 10


def test_random_key_per_cache() -> None:
    assert LoginCache()._key != LoginCache()._key
    assert len(os.urandom(1)) == 1


@pytest.mark.parametrize("sodium", [True, False])
def test_password_verify_with_and_without_libsodium(
    sodium: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOGIN verifies through libsodium when PyNaCl is there and through argon2-cffi
    otherwise; both accept the right password (also non-ASCII, also a hash made with
    other costs) and refuse a wrong one, a missing user and a damaged hash."""
    import argon2

    from pyimapd.auth import passwords
    from pyimapd.config import Argon2Params

    if not sodium:
        monkeypatch.setattr(passwords, "_sodium", None)
    else:
        assert passwords._sodium is not None, "PyNaCl should be installed for the tests"
    p = passwords.Passwords(Argon2Params(time_cost=1, memory_cost=8192, parallelism=1))
    stored = p.hash("s3cret-pässword")
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert p.verify(stored, "s3cret-pässword")
    assert not p.verify(stored, "s3cret-password")
    assert not p.verify(None, "s3cret-pässword")
    other = argon2.PasswordHasher(time_cost=2, memory_cost=4096, parallelism=2).hash("x")
    assert p.verify(other, "x") and not p.verify(other, "y")
    assert not p.verify(stored[:-6] + "AAAAAA", "s3cret-pässword")
    assert not p.verify("$argon2id$garbage", "x")
    assert not p.verify("not a hash", "x")


async def test_logins_that_arrive_together_share_one_verification() -> None:
    """A burst of first logins of one account pays argon2id once (issue 15's slow
    start); other passwords get their own run, a failure is shared but not cached, and
    a client that goes away does not cancel the run for the others."""
    cache = LoginCache()
    runs: list[str] = []
    gate = asyncio.Event()

    def verifier(password: str):  # type: ignore[no-untyped-def]
        async def run() -> bool:
            runs.append(password)
            await gate.wait()
            return password == "right"
        return run

    right = [asyncio.create_task(cache.verify_once("demo", "right", "$h1", verifier("right")))
             for _ in range(20)]
    wrong = [asyncio.create_task(cache.verify_once("demo", "wrong", "$h1", verifier("wrong")))
             for _ in range(5)]
    await asyncio.sleep(0)
    right[0].cancel()
    gate.set()
    results = await asyncio.gather(*right[1:], *wrong)
    assert sorted(runs) == ["right", "wrong"]
    assert results == [True] * 19 + [False] * 5
    assert cache.check("demo", "right", "$h1") and not cache.check("demo", "wrong", "$h1")
    assert not cache.check("demo", "right", "$h2")  # a new password hash: verify again
    assert await cache.verify_once("demo", "wrong", "$h1", verifier("wrong")) is False
    assert runs.count("wrong") == 2
