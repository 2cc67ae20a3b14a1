"""Untrusted input never crashes the interpreter: any script text compiles or raises
SieveError, and any message bytes run to a Result."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyimapd.sieve import Envelope, SieveError, StaticEnvironment, compile_script, evaluate

ALPHABET = st.sampled_from(list('ifelsekeep:requirefileinto"[](){},;#*/\\\n\r\t .$0123456789K'
                                "text: header address :is :matches :contains "))

BROAD = compile_script("""
require ["fileinto", "envelope", "body", "variables", "relational", "subaddress",
         "date", "index", "editheader", "regex", "imap4flags", "vacation",
         "comparator-i;ascii-numeric", "duplicate"];
if header :matches "subject" "*" { set "s" "${1}"; }
if address :all :contains ["from", "to", "cc"] "@" { addflag "$a"; }
if address :detail "to" "x" { fileinto "d"; }
if header :regex "subject" "^(.*)$" { set "r" "${1}"; }
if body :text :contains "x" { fileinto "b"; }
if body :raw :contains "x" { fileinto "r"; }
if date "date" "date" "2026-01-01" { fileinto "dt"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "3" { discard; }
if duplicate { fileinto "dup"; }
deleteheader :index 1 "x";
addheader "X-Seen" "${s}";
vacation :subject "${s}" "away";
""")


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=200))
def test_any_script_text_compiles_or_raises_sieve_error(text: str) -> None:
    try:
        compile_script(text)
    except SieveError as exc:
        assert exc.line >= 1 and exc.column >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_message_bytes_give_a_result(raw: bytes) -> None:
    result = evaluate(BROAD, raw, Envelope("a@example.net", "b+x@example.org"),
                      StaticEnvironment(addresses=["b@example.org"]))
    assert result.actions


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    b"Subject: =?utf-8?q?=E2=82?=\r\n", b"From: <@>\r\n", b"To: a:;\r\n",
    b"Date: 99 Foo 99999 99:99:99 +9999\r\n", b"Content-Type: multipart/mixed; boundary=\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Received: x; garbage\r\n",
    b"Content-Type: text/plain; charset=x-nonsense\r\n", b" continued\r\n", b"\r\n",
    b"--\r\n", b"=ZZ\r\n", b"\xff\xfe\r\n"]), max_size=12))
def test_hostile_header_lines_give_a_result(lines: list[bytes]) -> None:
    result = evaluate(BROAD, b"".join(lines), Envelope("", "b@example.org"),
                      StaticEnvironment())
    assert result.actions
