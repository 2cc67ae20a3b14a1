"""Each extension with the examples of its RFC (adapted to the fixture messages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from pyimapd.sieve import (
    Discard,
    FileInto,
    Keep,
    Reject,
    Result,
    StaticEnvironment,
    Vacation,
)
from pyimapd.sieve.message import MessageView

Runner = Callable[..., Result]
EnvFactory = Callable[[], StaticEnvironment]
IMPLICIT = Keep(None, implicit=True)


def mailboxes(result: Result) -> list[str]:
    return [a.mailbox for a in result.actions if isinstance(a, FileInto)]


# -- RFC 5429 reject / ereject ----------------------------------------------------------

def test_reject_and_ereject(run: Runner) -> None:
    assert run('require "reject"; reject "go away";').actions == [Reject("go away")]
    assert run('require "ereject"; ereject "no";').actions == [Reject("no", extended=True)]


@pytest.mark.parametrize("other", ['keep;', 'fileinto "Work";', 'redirect "c@example.com";',
                                   'vacation "away";', 'reject "again";'])
def test_reject_is_incompatible_with_delivering_actions(run: Runner, other: str) -> None:
    # RFC 5429 section 2.1
    for script in (f'reject "no"; {other}', f'{other} reject "no";'):
        result = run(f'require ["reject", "fileinto", "vacation"]; {script}',
                     recipient="bob@example.org")
        assert result.actions == [IMPLICIT], script
        assert result.errors


def test_reject_with_discard_is_allowed(run: Runner) -> None:
    result = run('require "reject"; reject "no"; discard;')
    assert result.actions == [Reject("no"), Discard()]


# -- RFC 5232 imap4flags -----------------------------------------------------------------

def test_imap4flags_internal_variable_and_implicit_keep(run: Runner) -> None:
    script = ('require ["imap4flags", "fileinto"];'
              'setflag "\\\\Seen"; addflag ["\\\\Flagged", "$Work \\\\seen"];'
              'fileinto "Work"; removeflag "\\\\Flagged"; keep;')
    result = run(script)
    assert result.actions == [FileInto("Work", ("\\Seen", "\\Flagged", "$Work")),
                              Keep(("\\Seen", "$Work"))]
    result = run('require "imap4flags"; addflag "$x";')
    assert result.actions == [Keep(("$x",), implicit=True)]


def test_imap4flags_flags_tag_overrides_the_variable(run: Runner) -> None:
    result = run('require "imap4flags"; addflag "$a"; keep :flags ["$b", "$c"];')
    assert result.actions == [Keep(("$b", "$c"))]


def test_imap4flags_hasflag_and_variables(run: Runner) -> None:
    # RFC 5232 section 4 example
    script = """require ["imap4flags", "variables", "relational",
                         "comparator-i;ascii-numeric", "fileinto"];
    set "MyVar" "NonJunk Junk gray";
    if hasflag :contains "MyVar" "Junk" { fileinto "a"; }
    if hasflag :contains "MyVar" "ju" { fileinto "b"; }
    if hasflag :is "MyVar" "gray junk" { fileinto "c"; }
    if hasflag :count "ge" :comparator "i;ascii-numeric" "MyVar" "2" { fileinto "d"; }
    addflag "MyFlags" "\\\\Deleted";
    if hasflag "MyFlags" "\\\\deleted" { fileinto "e"; }
    if hasflag :count "eq" :comparator "i;ascii-numeric" ["MyVar", "MyFlags"] "4"
        { fileinto "f"; }
    addflag "\\\\Answered";
    if hasflag "\\\\answered" { fileinto "g"; }
    """
    # "gray junk" :is needs one flag equal to the whole key: no.
    assert mailboxes(run(script)) == ["a", "b", "d", "e", "f", "g"]


def test_imap4flags_invalid_flags_are_dropped(run: Runner) -> None:
    result = run('require "imap4flags"; addflag ["\\\\Recent", "\\\\nosuch", "bad(flag",'
                 '"$ok", "\\\\seen"];')
    assert result.actions == [Keep(("$ok", "\\Seen"), implicit=True)]
    assert len(result.warnings) == 3


def test_merged_fileinto_unites_flags(run: Runner) -> None:
    result = run('require ["imap4flags", "fileinto"]; fileinto :flags "$a" "Work";'
                 'fileinto :flags "$b" "Work";')
    assert result.actions == [FileInto("Work", ("$a", "$b"))]


# -- RFC 5173 body -------------------------------------------------------------------------

@pytest.mark.parametrize(("test", "expected"), [
    ('body :contains "budget is approved"', True),
    ('body :text :contains "budget"', True),
    ('body :raw :contains "Alice"', True),
    ('body :contains "nothing like this"', False),
    ('body :matches "*approved*"', True),
])
def test_body_plain(run: Runner, test: str, expected: bool) -> None:
    assert (run(f'require "body"; if {test} {{ discard; }}', "plain.eml").actions
            == [Discard()]) is expected


@pytest.mark.parametrize(("test", "expected"), [
    # quoted-printable ISO-8859-1 text/plain, decoded
    ('body :text :contains "café est prêt"', True),
    # base64 UTF-8 text/html, decoded, found by :content "text/html" and by :text
    ('body :content "text/html" :contains "grün"', True),
    ('body :content "text/plain" :contains "grün"', False),
    ('body :content "text" :contains "grün"', True),
    # the base64 PDF: only :content "application" or "" decodes it
    ('body :content "application/pdf" :contains "secret-token"', True),
    ('body :content "" :contains "secret-token"', True),
    ('body :text :contains "secret-token"', False),
    # :raw sees the encoded form, not the decoded text
    ('body :raw :contains "secret-token"', False),
    ('body :raw :contains "preamble"', True),
    ('body :raw :contains "caf=E9"', True),
])
def test_body_mime(run: Runner, test: str, expected: bool) -> None:
    assert (run(f'require "body"; if {test} {{ discard; }}', "mime.eml").actions
            == [Discard()]) is expected


# -- RFC 5229 variables --------------------------------------------------------------------

def test_variables_rfc_expansion_table(run: Runner) -> None:
    # RFC 5229 section 3
    script = """require ["variables", "fileinto"];
    set "dollar" "$"; set "company" "ACME";
    fileinto "&%${}!"; fileinto "${doh!}"; fileinto "${dollar}{company}";
    fileinto "${company}"; fileinto "${BAD${Company}"; fileinto "${President, ${Company} Inc.}";
    fileinto "${unknown}x";"""
    assert mailboxes(run(script)) == ["&%${}!", "${doh!}", "${company}", "ACME", "${BADACME",
                                      "${President, ACME Inc.}", "x"]


def test_variables_without_require_are_not_expanded(run: Runner) -> None:
    assert mailboxes(run('require "fileinto"; fileinto "${x}";')) == ["${x}"]


@pytest.mark.parametrize(("modifiers", "value", "expected"), [
    # RFC 5229 section 4.1 examples
    (":upper", "Juliet", "JULIET"),
    (":lower", "Juliet", "juliet"),
    (":upperfirst", "juliet", "Juliet"),
    (":lowerfirst", "JULIET", "jULIET"),
    (":upperfirst :lower", "JuLiEt", "Juliet"),  # :lower (40) first, then :upperfirst (30)
    (":lowerfirst :upper", "juliet", "jULIET"),
    (":quotewildcard", "Rock*", "Rock\\*"),
    (":quotewildcard", "a?b\\\\c", "a\\?b\\\\c"),  # Sieve source a?b\\c
    (":length", "juliet", "6"),
    (":length :upper", "", "0"),
    (":length :quotewildcard", "*?", "4"),  # quote first (20), then length (10)
])
def test_set_modifiers(run: Runner, modifiers: str, value: str, expected: str) -> None:
    script = (f'require ["variables", "fileinto"]; set {modifiers} "v" "{value}";'
              'fileinto "[${v}]";')
    assert mailboxes(run(script)) == [f"[{expected}]"]


def test_match_variables_rfc_examples(run: Runner) -> None:
    # RFC 5229 section 3.2
    script = """require ["fileinto", "variables"];
    if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.${2}"; stop; }
    if header :matches "Subject" "[*] *" { fileinto "INBOX.lists.${1}/${2}"; stop; }
    if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] {
        fileinto "INBOX.business.${2}[${0}][${1}]"; stop;
    }"""
    list_id = b"List-ID: Announcements <announce@lists.example.com>\r\n\r\nx\r\n"
    assert mailboxes(run(script, list_id)) == ["INBOX.lists.announce"]
    subject = b"Subject: [acme-users] [fwd] version 1.0 is out\r\n\r\nx\r\n"
    assert mailboxes(run(script, subject)) == ["INBOX.lists.acme-users/[fwd] version 1.0 is out"]
    coyote = b"To: coyote@ACME.Example.COM\r\n\r\nx\r\n"
    assert mailboxes(run(script, coyote)) == [
        "INBOX.business.ACME.Example[coyote@ACME.Example.COM][]"]


def test_match_variables_keep_their_value_after_a_failed_match(run: Runner) -> None:
    script = """require ["fileinto", "variables"];
    if header :matches "subject" "*" {}
    if header :matches "subject" "nothing*" {}
    fileinto "${1}";"""
    assert mailboxes(run(script)) == ["hello"]


def test_string_test(run: Runner) -> None:
    script = """require ["variables", "fileinto", "relational"];
    set "a" "x"; set "e" "";
    if string :is "${a}" "x" { fileinto "1"; }
    if string :count "eq" ["${a}", "${e}", "y"] "2" { fileinto "2"; }
    if string :is "${e}" "" { fileinto "3"; }"""
    assert mailboxes(run(script)) == ["1", "2", "3"]


def test_variable_names_are_case_insensitive(run: Runner) -> None:
    assert mailboxes(run('require ["variables", "fileinto"]; set "Name" "v";'
                         'fileinto "${NAME}";')) == ["v"]


# -- RFC 5231 relational, RFC 4790 i;ascii-numeric -----------------------------------

@pytest.mark.parametrize(("test", "expected"), [
    # RFC 5231 section 7 examples (on a message with 3 To/Cc recipients)
    ('address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]', True),
    ('anyof ( address :count "ge" :comparator "i;ascii-numeric" ["to"] ["3"],'
     ' address :count "ge" :comparator "i;ascii-numeric" ["cc"] ["3"] )', False),
    ('header :count "ge" :comparator "i;ascii-numeric" ["received"] ["3"]', False),
    ('header :count "ge" :comparator "i;ascii-numeric" "received" "1"', True),
    ('header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10"', True),
    ('header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "12"', False),
    ('header :value "lt" :comparator "i;ascii-numeric" "x-spam-score" "8"', True),
    ('header :value "eq" :comparator "i;ascii-numeric" "x-spam-score" "012"', True),
    ('header :value "ne" :comparator "i;ascii-numeric" "x-spam-score" "7"', True),
    ('header :value "le" :comparator "i;ascii-numeric" "x-spam-score" "6"', False),
    # strings are compared as strings without i;ascii-numeric: "7" > "10"
    ('header :value "gt" "x-spam-score" "10"', True),
    ('header :value "lt" "subject" "N"', True),  # "meeting..." < "N" casemapped
    ('header :count "eq" :comparator "i;ascii-numeric" "x-missing" "0"', True),
    # RFC 4790 9.1: a non-numeric string is positive infinity
    ('header :value "gt" :comparator "i;ascii-numeric" "subject" "99999"', True),
    ('header :is :comparator "i;ascii-numeric" "x-spam-score" "7abc"', True),
])
def test_relational(run: Runner, test: str, expected: bool) -> None:
    script = (f'require ["relational", "comparator-i;ascii-numeric"];'
              f'if {test} {{ discard; }}')
    assert (run(script, "plain.eml").actions == [Discard()]) is expected


# -- RFC 5233 subaddress ---------------------------------------------------------------------

def test_subaddress(run: Runner) -> None:
    script = """require ["envelope", "subaddress", "fileinto", "variables"];
    if envelope :user "to" "bob" { fileinto "u"; }
    if envelope :detail :matches "to" "*" { fileinto "d-${1}"; }
    if address :detail "to" "sieve" { fileinto "h"; }
    if address :user "from" "rene" { fileinto "f"; }
    if address :detail "cc" "" { fileinto "no-detail-no-match"; }"""
    result = run(script, "mime.eml", recipient="bob+lists@example.org")
    assert mailboxes(result) == ["u", "d-lists", "h", "f"]
    empty_detail = run('require ["envelope", "subaddress"];'
                       'if envelope :detail "to" "" { discard; }', recipient="bob+@example.org")
    assert empty_detail.actions == [Discard()]
    no_detail = run('require ["envelope", "subaddress"];'
                    'if envelope :detail "to" "" { discard; }', recipient="bob@example.org")
    assert no_detail.actions == [IMPLICIT]


# -- RFC 5260 date and index -----------------------------------------------------------------

@pytest.mark.parametrize(("test", "expected"), [
    ('date :originalzone "date" "date" "2026-12-01"', True),
    ('date :originalzone "date" "hour" "11"', True),
    ('date :originalzone "date" "zone" "+0100"', True),
    ('date :zone "+0000" "date" "hour" "10"', True),
    ('date :zone "-0500" "date" "time" "05:15:00"', True),
    ('date "date" "iso8601" "2026-12-01T10:15:00+00:00"', True),  # env clock is UTC
    ('date "date" "weekday" "2"', True),  # a Tuesday
    ('date "date" "julian" "61375"', True),
    ('date "date" "year" "2026"', True),
    ('date "date" "month" "12"', True),
    ('date "date" "day" "01"', True),
    ('date "date" "minute" "15"', True),
    ('date "date" "second" "00"', True),
    ('date "date" "std11" "Tue, 01 Dec 2026 10:15:00 +0000"', True),
    ('date :value "ge" "date" "date" "2026-11-30"', True),
    ('date :value "lt" "date" "date" "2026-11-30"', False),
    ('date "received" "date" "2026-12-01"', True),
    ('date "x-missing" "year" "2026"', False),
    ('date "subject" "year" "2026"', False),  # not a date: no value
])
def test_date(run: Runner, test: str, expected: bool) -> None:
    script = f'require ["date", "relational"]; if {test} {{ discard; }}'
    assert (run(script, "plain.eml").actions == [Discard()]) is expected


def test_currentdate(run: Runner) -> None:
    # The env clock: Mon 2026-12-07 11:50:44 UTC.
    script = """require ["date", "relational", "fileinto"];
    if currentdate "date" "2026-12-07" { fileinto "a"; }
    if currentdate :zone "+1300" "date" "2026-12-08" { fileinto "b"; }
    if currentdate "weekday" "1" { fileinto "c"; }
    if currentdate :value "ge" "hour" "11" { fileinto "d"; }
    if currentdate :zone "-0130" "time" "10:20:44" { fileinto "e"; }"""
    assert mailboxes(run(script)) == ["a", "b", "c", "d", "e"]


def test_rfc5260_vacation_window_example(run: Runner) -> None:
    # RFC 5260 section 7: a vacation in a date window
    script = """require ["date", "relational", "vacation"];
    if allof(currentdate :value "ge" "date" "2026-12-01",
             currentdate :value "le" "date" "2026-12-31")
    { vacation :days 7 "I'm away during December."; }"""
    result = run(script, "plain.eml")
    assert [type(a) for a in result.actions] == [Vacation, Keep]


def test_index(run: Runner) -> None:
    script = """require ["index", "date", "fileinto", "relational",
                         "comparator-i;ascii-numeric"];
    if header :index 1 :is "x-spam-score" "7" { fileinto "first"; }
    if header :index 1 :last :is "x-spam-score" "12" { fileinto "last"; }
    if header :index 2 :is "x-spam-score" "12" { fileinto "second"; }
    if header :index 3 "x-spam-score" "12" { fileinto "none"; }
    if address :index 2 :is "to" "carol@example.com" { fileinto "addr-none"; }
    if date :index 1 "received" "year" "2026" { fileinto "date"; }"""
    assert mailboxes(run(script, "plain.eml")) == ["first", "last", "second", "date"]


# -- RFC 5490 mailbox ------------------------------------------------------------------------

def test_mailboxexists_and_create(run: Runner) -> None:
    script = """require ["mailbox", "fileinto"];
    if mailboxexists "Work" { fileinto "w"; }
    if mailboxexists ["Work", "Nope"] { fileinto "x"; }
    fileinto :create "New";"""
    result = run(script)
    assert result.actions == [FileInto("w"), FileInto("New", create=True)]


# -- RFC 6609 include ------------------------------------------------------------------------

def test_include_global_variables_and_return(run: Runner, make_env: EnvFactory) -> None:
    env = make_env()
    env.scripts[("personal", "spam")] = """require ["variables", "include", "fileinto"];
        global "test_mailbox";
        if header :contains "subject" "hello" { set "test_mailbox" "Spam"; return; }
        fileinto "never";"""
    env.scripts[("global", "common")] = 'require "fileinto"; fileinto "Common";'
    script = """require ["variables", "include", "fileinto"];
    global "test_mailbox";
    include "spam";
    include :global "common";
    include :global :once "common";
    fileinto "${test_mailbox}";
    fileinto "${global.test_mailbox}";"""
    assert mailboxes(run(script, env=env)) == ["Common", "Spam"]


def test_include_locals_stay_local(run: Runner, make_env: EnvFactory) -> None:
    env = make_env()
    env.scripts[("personal", "child")] = ('require ["variables", "fileinto"];'
                                          'fileinto "[${x}]"; set "x" "child";')
    result = run('require ["variables", "include", "fileinto"]; set "x" "parent";'
                 'include "child"; fileinto "${x}";', env=env)
    assert mailboxes(result) == ["[]", "parent"]


def test_include_errors(run: Runner, make_env: EnvFactory) -> None:
    env = make_env()
    env.scripts[("personal", "loop")] = 'require "include"; include "loop";'
    env.scripts[("personal", "bad")] = "foo;"
    for name, message in [("loop", "include loop"), ("missing", "does not exist"),
                          ("bad", "unknown command 'foo'")]:
        result = run(f'require "include"; include "{name}";', env=env)
        assert result.actions == [IMPLICIT]
        assert message in result.errors[0]
    assert run('require "include"; include :optional "missing"; discard;',
               env=env).actions == [Discard()]


def test_stop_in_an_included_script_stops_everything(run: Runner, make_env: EnvFactory) -> None:
    env = make_env()
    env.scripts[("personal", "s")] = "stop;"
    assert run('require "include"; include "s"; discard;', env=env).actions == [IMPLICIT]


# -- RFC 7352 duplicate ------------------------------------------------------------------

def test_duplicate(run: Runner, make_env: EnvFactory) -> None:
    env = make_env()
    script = 'require "duplicate"; if duplicate { discard; }'
    first = run(script, env=env)
    assert first.actions == [IMPLICIT]
    [record] = first.duplicates
    assert (record.handle, record.value, record.last) == ("", "<m1@example.net>", False)
    env.seen_duplicates.add(("", "<m1@example.net>"))
    assert run(script, env=env).actions == [Discard()]


def test_duplicate_options(run: Runner, make_env: EnvFactory) -> None:
    env = make_env()
    script = """require ["duplicate", "variables", "fileinto"];
    if duplicate :handle "h" :header "subject" :seconds 60 :last { fileinto "a"; }
    if duplicate :uniqueid "${x}" { fileinto "empty-id-is-no-duplicate"; }
    if duplicate :handle "h" :header "subject" { fileinto "second-time-in-one-run"; }
    if duplicate :header "x-missing" { fileinto "absent"; }"""
    result = run(script, env=env)
    assert mailboxes(result) == ["second-time-in-one-run"]
    assert [(d.handle, d.value, d.seconds, d.last) for d in result.duplicates] == [
        ("h", "hello", 604800, False)]


def test_duplicates_are_not_committed_after_an_error(run: Runner) -> None:
    result = run('require ["duplicate", "variables"]; if duplicate {} set "a" "b c";'
                 'redirect "${a}";')
    assert result.errors and result.duplicates == []


# -- RFC 5293 editheader -----------------------------------------------------------------

def test_editheader_changes_are_seen_by_later_tests(run: Runner) -> None:
    script = """require ["editheader", "fileinto", "index"];
    addheader "X-Sieve" "first";
    addheader :last "X-Sieve" "last";
    if header :index 1 :is "x-sieve" "first" { fileinto "a"; }
    deleteheader :index 1 "x-sieve";
    if header :is "x-sieve" "first" { fileinto "never"; }
    if header :is "x-sieve" "last" { fileinto "b"; }
    deleteheader "subject";
    if not exists "subject" { fileinto "c"; }"""
    result = run(script)
    assert mailboxes(result) == ["a", "b", "c"]
    assert result.header is not None
    edited = MessageView(result.header + b"Hi Bob\r\n")
    assert edited.values("x-sieve") == ["last"]
    assert not edited.has("subject")
    assert result.header.endswith(b"X-Sieve: last\r\n\r\n")
    assert result.header.startswith(b"From: Alice <alice@example.net>\r\n")


def test_editheader_deleteheader_with_patterns_and_last(run: Runner) -> None:
    script = """require ["editheader", "index"];
    deleteheader :index 1 :last "x-spam-score";
    deleteheader :contains "to" "carol";"""
    result = run(script, "plain.eml")
    assert result.header is not None
    edited = MessageView(result.header)
    assert edited.values("x-spam-score") == ["7"]
    assert not edited.has("to")
    assert edited.has("cc")


def test_editheader_protects_received_and_auto_submitted(run: Runner) -> None:
    result = run('require "editheader"; deleteheader "Received"; addheader "Auto-Submitted" "no";',
                 "plain.eml")
    assert result.header is None
    assert len(result.warnings) == 2


def test_editheader_encodes_non_ascii_values(run: Runner) -> None:
    result = run('require "editheader"; addheader "X-Note" "Grüße";')
    assert result.header is not None
    assert result.header.startswith(b"X-Note: =?utf-8?")
    assert MessageView(result.header).values("x-note") == ["Grüße"]


def test_editheader_unchanged_message_has_no_header(run: Runner) -> None:
    assert run('require "editheader"; deleteheader "x-missing";').header is None


# -- draft-ietf-sieve-regex -------------------------------------------------------------------

def test_regex_with_match_variables(run: Runner) -> None:
    script = r"""require ["fileinto", "regex", "variables"];
    if header :regex "List-ID" "<(.*)@" { fileinto "lists.${1}"; stop; }
    if header :regex "Subject" "^\\[(.*)\\] (.*)$" { fileinto "s:${1}"; stop; }"""
    subject = b"Subject: [acme-users] [fwd] version 1.0 is out\r\n\r\nx\r\n"
    # regex is greedy: ${1} holds "acme-users] [fwd" (the draft's example)
    assert mailboxes(run(script, subject)) == ["s:acme-users] [fwd"]
    listed = b"List-ID: <announce@lists.example.com>\r\n\r\nx\r\n"
    assert mailboxes(run(script, listed)) == ["lists.announce"]


def test_regex_casemap_and_octet(run: Runner) -> None:
    script = """require ["regex"]; if header :regex "subject" "^HEL+O$" { discard; }"""
    assert run(script).actions == [Discard()]
    script = ('require ["regex"]; if header :regex :comparator "i;octet" "subject" "^HEL+O$"'
              '{ discard; }')
    assert run(script).actions == [IMPLICIT]


def test_quoteregex(run: Runner) -> None:
    script = r"""require ["regex", "variables", "fileinto"];
    set :quoteregex "q" "a.b*c";
    fileinto "${q}";
    if string :regex "xa.b*cx" "${q}" { fileinto "yes"; }
    if string :regex "xaZbbbcx" "${q}" { fileinto "no"; }"""
    assert mailboxes(run(script)) == [r"a\.b\*c", "yes"]


def test_runtime_invalid_regex_is_an_error(run: Runner) -> None:
    result = run('require ["regex", "variables"]; set "p" "(";'
                 'if string :regex "x" "${p}" { discard; }')
    assert result.actions == [IMPLICIT]
    assert "invalid regular expression" in result.errors[0]


def test_static_environment_records() -> None:
    env = StaticEnvironment(clock=datetime(2026, 1, 1, tzinfo=UTC))
    assert env.now().year == 2026
    assert env.mailbox_exists("INBOX") and not env.mailbox_exists("x")
