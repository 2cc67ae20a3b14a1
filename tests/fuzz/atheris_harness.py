"""Coverage-guided fuzzing (atheris / libFuzzer) of the protocol and MIME parsers.

Run as a script: ``python atheris_harness.py protocol|mime CORPUS_DIR -max_total_time=N
-print_final_stats=1``. Any exception other than the parsers' own error values is a
crash: libFuzzer stops and writes the input to ``crash-*``. tests/fuzz/test_atheris.py
runs both targets for a bounded time in CI and reports executions and corpus size.

protocol: the input is split at a point chosen by its first byte and fed to a
``ServerConnection`` in two pieces with small limits, draining every event and
withdrawing APPENDs and discarding buffers now and then, as the session does.
mime: the input is parsed as a message and every consumer of the part tree runs,
SEARCH's decoding and THREAD's base subject included.

Each input has a time bound (``-timeout``, test_atheris.py): at 4 KiB an algorithm
that is quadratic in its input takes seconds, so slowness is found as a crash is.
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports():
    from pyimapd.mime import bodystructure_value, dumps, envelope_value, loads, parse_message
    from pyimapd.mime.search import search_fields
    from pyimapd.protocol.commands import AppendStart
    from pyimapd.protocol.connection import ServerConnection
    from pyimapd.protocol.events import NeedData
    from pyimapd.protocol.limits import Limits
    from pyimapd.search.subject import base_subject

LIMITS = Limits(max_line=512, max_literal=256, max_append=1024, max_literals=8,
                max_raw_line=256, max_command=2048)


def fuzz_protocol(data: bytes) -> None:
    if not data:
        return
    cut = data[0] % max(1, len(data))
    body = data[1:]
    conn = ServerConnection(LIMITS)
    for piece in (body[:cut], body[cut:]):
        if piece:
            conn.receive_data(piece)
        for _ in range(10_000):
            event = conn.next_event()
            if isinstance(event, NeedData):
                break
            if isinstance(event, AppendStart) and data[0] & 1:
                conn.reject_append()
        conn.data_to_send()
    if data[0] & 2 and not conn.eof:
        conn.discard_buffered()
    conn.receive_data(b"")
    conn.next_event()


def fuzz_mime(data: bytes) -> None:
    root = parse_message(io.BytesIO(data), len(data))
    if loads(dumps(root)) != root:
        raise AssertionError("part tree does not survive a round trip")
    envelope_value(root)
    bodystructure_value(root, True)
    bodystructure_value(root, False)
    search_fields(io.BytesIO(data), root)
    base_subject(root.envelope.subject if root.envelope else None)


TARGETS = {"protocol": fuzz_protocol, "mime": fuzz_mime}


def main() -> None:
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
