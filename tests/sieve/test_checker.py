"""The checker: the command/test/tag table and the checks beyond it, each error
with its line:column; several errors are reported together."""

from __future__ import annotations

import pytest

from pyimapd.sieve import EXTENSIONS, SieveError, check, compile_script, parse
from pyimapd.sieve.checker import COMMANDS, TESTS, decode_encoded_characters


def errors(text: str) -> list[str]:
    with pytest.raises(SieveError) as info:
        compile_script(text)
    return [str(e) for e in info.value.errors]


def test_table_extensions_are_all_requirable() -> None:
    for spec in [*COMMANDS.values(), *TESTS.values()]:
        assert spec.extension is None or spec.extension in EXTENSIONS
        for tag in spec.tags.values():
            assert tag.extension is None or tag.extension in EXTENSIONS


@pytest.mark.parametrize(("text", "expected"), [
    ("foo;", "1:1: unknown command 'foo'"),
    ("header;", "1:1: unknown command 'header' ('header' is a test)"),
    ("if keep {}", "1:4: unknown test 'keep' ('keep' is a command)"),
    ('fileinto "x";', "1:1: command 'fileinto' requires \"fileinto\" in require"),
    ('require "fileinto"; fileinto :copy "x";', "1:30: tag ':copy' requires \"copy\" in require"),
    ('require "nosuch";', "1:9: unsupported extension \"nosuch\" in require"),
    ("keep; require \"fileinto\";", "1:7: 'require' must come before any other command"),
    ("if true { require \"fileinto\"; }", "1:11: 'require' must come before any other command"),
    ("elsif true {}", "1:1: 'elsif' must follow 'if' or 'elsif'"),
    ("if true {} keep; else {}", "1:18: 'else' must follow 'if' or 'elsif'"),
    ("else {}", "1:1: 'else' must follow 'if' or 'elsif'"),
    ('if header :foo "a" "b" {}', "1:11: unknown tag ':foo' for test 'header'"),
    ('if header :is :contains "a" "b" {}',
     "1:15: tag ':contains' cannot be combined with ':is'"),
    ('if header :is :is "a" "b" {}', "1:15: tag ':is' appears more than once"),
    ('if header "a" :is "b" {}',
     "1:15: tag ':is' must come before the positional arguments of 'header'"),
    ('if header :comparator "a" "b" {}', "1:4: 'header' takes 2 positional arguments, not 1"),
    ("if header :comparator {}", "1:11: tag ':comparator' needs a string"),
    ('if header :comparator 1 "a" "b" {}', "1:23: the value of ':comparator' must be a string"),
    ('if header "a" {}', "1:4: 'header' takes 2 positional arguments, not 1"),
    ('if header "a" 1 {}', "1:15: argument 2 of 'header' must be a string list"),
    ('require "fileinto"; fileinto ["a"];', "1:30: argument 1 of 'fileinto' must be a string"),
    ("if size 1 {}", "1:4: 'size' takes 0 positional arguments, not 1"),
    ("if size {}", "1:4: 'size' needs :over or :under"),
    ("if size :over 1 :under 2 {}", "1:17: tag ':under' cannot be combined with ':over'"),
    ("keep true;", "1:6: 'keep' does not take a test"),
    ("if {}", "1:1: 'if' needs exactly one test"),
    ("if true;", "1:1: 'if' needs a block"),
    ("keep {}", "1:1: command 'keep' does not take a block"),
    ("if anyof true {}", "1:4: 'anyof' needs a parenthesised test list"),
    ("if not (true, false) {}", "1:4: 'not' needs exactly one test"),
    ('if header :comparator "i;nope" "a" "b" {}', "1:4: unknown comparator \"i;nope\""),
    ('if header :comparator "i;ascii-numeric" "a" "b" {}',
     "1:4: comparator \"i;ascii-numeric\" requires \"comparator-i;ascii-numeric\" in require"),
    ('require "comparator-i;ascii-numeric";\n'
     'if header :contains :comparator "i;ascii-numeric" "a" "b" {}',
     "2:4: comparator \"i;ascii-numeric\" supports only :is, :count and :value "
     "(RFC 4790 section 9.1)"),
    ('if header :count "gt" "a" "1" {}', "1:11: tag ':count' requires \"relational\" in require"),
    ('require "relational"; if header :value "gte" "a" "1" {}',
     "1:26: unknown relation \"gte\" for :value (RFC 5231 section 4)"),
    ('if header :regex "a" "b" {}', "1:11: tag ':regex' requires \"regex\" in require"),
    ('require "regex"; if header :regex "a" "(" {}', "1:21: invalid regular expression '('"),
    ('if address :user "to" "b" {}', "1:12: tag ':user' requires \"subaddress\" in require"),
    ('require "index"; if header :last "a" "b" {}', "1:21: ':last' needs ':index'"),
    ('require "index"; if header :index 0 "a" "b" {}', "1:21: ':index' counts from 1"),
    ('if header "a b" "x" {}', "1:4: \"a b\" is not a valid header field name"),
    ('require "envelope"; if envelope "subject" "x" {}',
     "1:24: unknown envelope part \"subject\""),
    ('redirect "not an address";', "1:1: \"not an address\" is not a valid address for redirect"),
    ('require "variables"; set "1" "x";', "1:22: \"1\" is not a valid variable name"),
    ('require "variables"; set :lower :upper "a" "x";',
     "1:33: tag ':upper' cannot be combined with ':lower'"),
    ('require "variables"; set :quoteregex "a" "x";',
     "1:26: tag ':quoteregex' requires \"regex\" in require"),
    ('require "imap4flags"; setflag "v" "\\\\Seen";',
     "1:23: the variable form of 'setflag' requires \"variables\" in require"),
    ('require "date"; if date "date" "century" "x" {}',
     "1:20: unknown date part \"century\" (RFC 5260 section 4.2)"),
    ('require "date"; if currentdate :zone "CET" "year" "2026" {}',
     "1:20: \"CET\" is not a time zone of the form +hhmm"),
    ('require "date"; if date :zone "+0100" :originalzone "date" "year" "x" {}',
     "1:39: tag ':originalzone' cannot be combined with ':zone'"),
    ('require "vacation"; vacation :seconds 10 "x";',
     "1:30: tag ':seconds' requires \"vacation-seconds\" in require"),
    ('require ["vacation", "vacation-seconds"]; vacation :days 1 :seconds 10 "x";',
     "1:60: tag ':seconds' cannot be combined with ':days'"),
    ('require "include"; include "a/b";',
     "1:20: \"a/b\" is not a valid script name (RFC 6609 3.2)"),
    ('require "include"; global "x";', "1:20: command 'global' requires \"variables\" in require"),
    ('require "include"; include :personal :global "x";',
     "1:38: tag ':global' cannot be combined with ':personal'"),
    ('require "duplicate"; if duplicate :header "a" :uniqueid "b" {}',
     "1:47: tag ':uniqueid' cannot be combined with ':header'"),
    ('require "editheader"; addheader "X:Y" "v";',
     "1:23: \"X:Y\" is not a valid header field name"),
    ('require "editheader"; addheader "X" "a\nb";',
     "1:23: the value of 'addheader' must not contain a line break"),
    ('require "editheader"; deleteheader :last "X";', "1:23: ':last' needs ':index'"),
    ('require "encoded-character"; keep :flags "${unicode:D800}";', "1:30: encoded-character"),
    ('require "body"; if body :raw :text "x" {}',
     "1:30: tag ':text' cannot be combined with ':raw'"),
    ('require "mailbox"; if mailboxexists 1 {}',
     "1:37: argument 1 of 'mailboxexists' must be a string list"),
])
def test_errors(text: str, expected: str) -> None:
    assert expected in "\n".join(errors(text))


def test_regex_keys_are_checked_only_where_there_are_keys() -> None:
    compile_script('require ["editheader", "regex"]; deleteheader :regex "X(";')
    assert "invalid regular expression" in "\n".join(
        errors('require ["editheader", "regex"]; deleteheader :regex "X" "(";'))


def test_several_errors_are_collected_in_order() -> None:
    found = errors('foo;\nfileinto "x";\nif size {}\n')
    assert found == [
        "1:1: unknown command 'foo'",
        "2:1: command 'fileinto' requires \"fileinto\" in require",
        "3:4: 'size' needs :over or :under",
    ]


def test_extension_subset_can_be_disabled() -> None:
    with pytest.raises(SieveError, match="unsupported extension \"vacation\""):
        check(parse('require "vacation"; vacation "x";'), EXTENSIONS - {"vacation"})


def test_variable_arguments_are_checked_at_run_time_only() -> None:
    compile_script('require ["variables", "envelope"]; set "p" "from";'
                   'if envelope "${p}" "x" {} redirect "${p}";')


def test_a_valid_script_with_every_extension() -> None:
    script = compile_script("""
require ["fileinto", "reject", "ereject", "envelope", "encoded-character",
         "comparator-i;ascii-numeric", "imap4flags", "copy", "body", "variables",
         "vacation", "vacation-seconds", "relational", "subaddress", "date", "index",
         "mailbox", "include", "duplicate", "editheader", "regex"];
if allof (address :user :is "to" "bob", envelope :detail "to" "sieve",
          header :index 1 :last :contains "received" "x",
          body :content "text" :contains "x", string :count "ge" "${a}" "1",
          hasflag :comparator "i;ascii-numeric" :value "gt" "1",
          date :originalzone "date" "year" "2026", currentdate "weekday" "1",
          mailboxexists "INBOX", duplicate :seconds 60 :last,
          header :regex "subject" "^a.*$") {
    fileinto :copy :create :flags "\\\\Seen" "Work";
    addheader :last "X-Sieve" "yes";
    deleteheader :index 1 :matches "X-Spam" "*";
    set :upperfirst :quotewildcard "x" "y";
    vacation :seconds 60 :subject "s" :from "a@b" :addresses ["c@d"] :mime :handle "h" "r";
    include :global :once :optional "common";
}
""")
    assert "regex" in script.extensions
    assert script.includes == [("common", "global")]


@pytest.mark.parametrize(("text", "decoded"), [
    ("${hex:24 24}", "$$"),
    ("${HEX: 40}", "@"),
    ("${unicode:40}", "@"),
    ("${Unicode:1F600 20}", "\U0001F600 "),
    ("${hex:}", ""),
    ("${hex:4}", "${hex:4}"),  # odd number of digits: not an encoding, stays
    ("${hex:xx}", "${hex:xx}"),
    ("${other:41}", "${other:41}"),
    ("a${hex:40}b${unicode:0041}c", "a@bAc"),
])
def test_encoded_character(text: str, decoded: str) -> None:
    # RFC 5228 section 2.4.2.4
    assert decode_encoded_characters(text) == decoded


def test_encoded_character_needs_require() -> None:
    plain = compile_script('require "fileinto"; fileinto "${hex:41}";')
    assert plain.commands[0].args == ["${hex:41}"]
    decoded = compile_script('require ["fileinto", "encoded-character"]; fileinto "${hex:41}";')
    assert decoded.commands[0].args == ["A"]


def test_rfc5228_encoded_character_examples() -> None:
    # RFC 5228 2.4.2.4: both strings are "$$".
    script = compile_script('require ["encoded-character", "variables"];'
                            'set "a" "${hex: 24 24}"; set "b" "${unicode:24 24}";')
    assert [c.args[1] for c in script.commands] == ["$$", "$$"]
