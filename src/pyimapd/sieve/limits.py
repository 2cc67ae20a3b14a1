"""The bounds on what one script may cost (RFC 5228 section 2.10.6, RFC 5229 section 3,
RFC 6609 section 3.2). A script is untrusted user input run on every delivery: each
bound is named here so that the checker, the evaluator and the docs agree on it.

Exceeding a bound while a script runs is a runtime error, which RFC 5228 section
2.10.6 turns into an implicit keep; exceeding one while compiling (script size,
nesting) is a compile error.
"""

from __future__ import annotations

MAX_SCRIPT_SIZE = 1024 * 1024
"""Characters in one script (top-level or included). Keeps parsing cheap and
bounded; Pigeonhole's default ``sieve_max_script_size`` is the same 1 MiB."""

MAX_NESTING = 32
"""Depth of nested blocks and tests (``if`` inside ``if``, ``not`` inside
``anyof``...). The parser and evaluator recurse, so this bounds the Python stack."""

MAX_ACTIONS = 32
"""Actions one run may collect (after merging duplicates, RFC 5228 section 2.10.3)."""

MAX_REDIRECTS = 4
"""``redirect`` actions per run: RFC 5228 section 4.2 asks implementations to limit
redirects so a script cannot turn the server into a mail amplifier."""

MAX_VARIABLES = 256
"""Distinct variables (local and global together) one run may create. RFC 5229
section 3 requires at least 128."""

MAX_VARIABLE_LENGTH = 4096
"""Characters in one variable's value. RFC 5229 section 3 requires at least 4000."""

MAX_INCLUDE_DEPTH = 10
"""Nesting of ``include`` (RFC 6609 section 3.2 lets implementations bound it)."""

MAX_STEPS = 50_000
"""Commands and tests one run may evaluate, counting every included script. Sieve
has no loops, but includes and long string lists multiply work; this is the total
budget."""

MAX_REGEX_LENGTH = 1024
"""Characters in one ``:regex`` key after variable expansion. RE2 compiles in time
and memory proportional to the pattern, so bounding the pattern bounds both."""

MAX_REGEX_EVALUATIONS = 1000
"""Regex matches (one value against one key) per run. RE2 matches in linear time,
so this together with the header and body sizes bounds the regex cost of a run."""

MAX_REGEX_MEMORY = 8 * 1024 * 1024
"""Bytes RE2 may use for one compiled pattern (RE2's ``max_mem``)."""

MAX_BODY_SCAN = 1024 * 1024
"""Characters of one body part the ``body`` test looks at (RFC 5173 section 5
allows implementations to limit the text they search)."""

DEFAULT_VACATION_DAYS = 7
"""RFC 5230 section 4.1: the default of ``:days`` is 7."""

MIN_VACATION_SECONDS = 1
"""The shortest period between two replies to one sender. RFC 6131 section 2 lets
``:seconds 0`` mean "always reply"; we raise it to 1 second to stop mail loops
between two vacation responders that share no safety checks."""

MAX_VACATION_SECONDS = 90 * 86400
"""The longest period; larger ``:days``/``:seconds`` values are lowered to this
(RFC 5230 section 4.1 allows an upper bound)."""

DEFAULT_DUPLICATE_SECONDS = 7 * 86400
"""RFC 7352 section 3.3 leaves the default expiry of a ``duplicate`` id to the
implementation; a week covers retried and list-duplicated deliveries."""

MAX_DUPLICATE_SECONDS = 90 * 86400
"""``:seconds`` of ``duplicate`` above this is lowered to it (RFC 7352 section 3.3)."""
