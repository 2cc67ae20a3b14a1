"""RFC 5322 address lists as RFC 3501 ENVELOPE address structures."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyimapd.mime.address import parse_address_list


def test_obsolete_phrase_and_nested_comments() -> None:
    assert parse_address_list("John Q. Public (the (real) one) <jqp@example.com>") == [
        ("John Q. Public", None, "jqp", "example.com")]


def test_name_from_comment_only_without_display_name() -> None:
    assert parse_address_list("a@b.example (Alpha), Bee <b@b.example> (ignored)") == [
        ("Alpha", None, "a", "b.example"), ("Bee", None, "b", "b.example")]


def test_domain_literal_and_quoted_comma() -> None:
    assert parse_address_list('"Doe, J" <j@[192.0.2.1]>') == [("Doe, J", None, "j", "[192.0.2.1]")]


def test_unterminated_group_gets_an_end_marker() -> None:
    assert parse_address_list("team: a@x.example") == [
        (None, None, "team", None), (None, None, "a", "x.example"), (None, None, None, None)]


def test_empty_and_garbage() -> None:
    assert parse_address_list(None) is None
    assert parse_address_list("") is None
    assert parse_address_list(" , ,") is None
    assert parse_address_list('"unterminated <x@y') == [
        (None, None, "unterminated <x@y", "MISSING_DOMAIN")]  # a local part, no domain
    assert parse_address_list("Name <x@y") == [("Name", None, "x", "y")]


@given(st.text(alphabet=st.sampled_from(list('ab@.,;:<>()"\\[] \té=?')), max_size=60))
def test_never_raises(value: str) -> None:
    for name, adl, mailbox, host in parse_address_list(value) or []:
        assert all(v is None or isinstance(v, str) for v in (name, adl, mailbox, host))
