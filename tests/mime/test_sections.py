"""filter_header_fields (RFC 3501 6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT)."""

from __future__ import annotations

import pytest

from mime.mime_helpers import parse_bytes
from pyimapd.mime import filter_header_fields, locate

HEADER = (
    b"Received: from a\r\n\tby b\r\n"
    b"Subject: one\r\n"
    b"X-Thing: x\r\n"
    b"subject : two\r\n"
    b"Received: from c\r\n"
    b"not a field\r\n"
    b"\r\n"
)


def test_fields_keep_order_folding_and_blank_line() -> None:
    got = filter_header_fields(HEADER, ["SUBJECT", "received"], exclude=False)
    assert got == (b"Received: from a\r\n\tby b\r\nSubject: one\r\nsubject : two\r\n"
                   b"Received: from c\r\n\r\n")


def test_fields_not() -> None:
    assert filter_header_fields(HEADER, ["Subject", "Received"], exclude=True) == (
        b"X-Thing: x\r\nnot a field\r\n\r\n")


def test_no_blank_line_when_the_message_has_none() -> None:
    """RFC 3501 6.4.5: the blank line is included "except in the case of a message
    which has no body and no blank line"."""
    assert filter_header_fields(b"Subject: a\r\nFrom: b", ["subject"], False) == b"Subject: a\r\n"
    assert filter_header_fields(b"Subject: a\r\nFrom: b", ["subject"], True) == b"From: b\r\n"


def test_no_match_is_just_the_blank_line() -> None:
    assert filter_header_fields(HEADER, ["Cc"], exclude=False) == b"\r\n"
    assert filter_header_fields(b"\r\n", ["Cc"], exclude=True) == b"\r\n"
    assert filter_header_fields(b"", ["Cc"], exclude=True) == b""  # no blank line at all


def test_header_without_final_newline() -> None:
    assert filter_header_fields(b"To: a@b", ["to"], exclude=False) == b"To: a@b\r\n"


def test_header_fields_range_comes_from_locate() -> None:
    data = b"Subject: s\r\nTo: t@example.com\r\n\r\nbody\r\n"
    root = parse_bytes(data)
    section = locate(root, (), "HEADER.FIELDS.NOT")
    assert section.header_only
    header = data[section.start : section.end]
    assert filter_header_fields(header, ["to"], exclude=True) == b"Subject: s\r\n\r\n"
    assert locate(root, (), "header.fields") == section  # case-insensitive


def test_root_offsets_without_the_tree() -> None:
    """``loads_root`` reads the root's offsets from the front of the stored tree; the
    top-level sections FETCH takes from it match the full tree's, on the whole corpus
    (nested multiparts, message/rfc822, header-only and malformed messages)."""
    from mime.mime_helpers import CORPUS, load_corpus
    from pyimapd.mime import dumps, loads, loads_root

    names = sorted(p.stem for p in CORPUS.glob("*.eml"))
    assert len(names) > 20
    for name in names:
        _, root = load_corpus(name)
        stored = dumps(root)
        shallow, full = loads_root(stored), loads(stored)
        for text in ("", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"):
            assert locate(shallow, (), text) == locate(full, (), text), (name, text)
    with pytest.raises(ValueError):  # another format version: decoded in full, refused
        loads_root(b'[0,[0,5,9,"text"]]')


def test_header_fields_match_the_field_splitter() -> None:
    """HEADER.FIELDS picks fields with one regex scan; it must keep exactly the fields
    ``split_fields`` names so, on the corpus and on random headers made of the
    characters that matter (colons, blanks, CR, LF), with names in any case."""
    import random

    from mime.mime_helpers import CORPUS
    from pyimapd.mime.headers import split_fields

    def reference(header: bytes, fields: list[str]) -> bytes:
        wanted = {f.lower().encode() for f in fields}
        out = [raw if raw.endswith(b"\n") else raw + b"\r\n"
               for name, raw in split_fields(header) if name in wanted]
        if header == b"\r\n" or header.endswith(b"\n\r\n"):
            out.append(b"\r\n")
        return b"".join(out)

    rng = random.Random(7)
    headers = [p.read_bytes()[:4000] for p in sorted(CORPUS.glob("*.eml"))]
    headers += [bytes(rng.choice(b"ab: \t\r\n") for _ in range(rng.randint(0, 40)))
                for _ in range(3000)]
    lists = [["From", "To", "Subject", "Message-ID", "References", "Content-Type"],
             ["a"], ["B", "a"], ["a b"], ["subject"], []]
    for header in headers:
        for fields in lists:
            assert filter_header_fields(header, fields, False) == reference(header, fields)
