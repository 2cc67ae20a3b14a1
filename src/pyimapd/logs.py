"""Logging setup: plain text or one JSON object per line (``log_format = "json"``).

Sessions log through a ``LoggerAdapter`` carrying ``session`` (a random id per
connection) and ``peer``; commands carry ``command``, ``result`` and ``ms``. Both formats
show those fields, so every line of one connection can be picked out with its id. Nothing
logs a command's arguments, so passwords never reach the log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

FIELDS = ("session", "peer", "protocol", "user", "command", "result", "ms")
"""Extra attributes copied into the output when a record has them."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tags = [f"{n}={getattr(record, n)}" for n in ("session", "peer")
                if getattr(record, n, None) is not None]
        if not tags:
            return text
        head, sep, tail = text.partition("\n")  # tracebacks stay below the line
        return f"{head} [{' '.join(tags)}]{sep}{tail}"


def setup_logging(level: str, fmt: str = "text") -> None:
    """Configures the root logger once (``pyimapd`` main); ``fmt`` is text or json."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
