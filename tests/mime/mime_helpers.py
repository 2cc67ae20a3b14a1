"""Helpers shared by the MIME tests (a plain module: importing conftest is fragile)."""

from __future__ import annotations

import io
from pathlib import Path

from pyimapd.mime import CRLFNormalizer, Part, parse_message

CORPUS = Path(__file__).parent / "corpus"


def normalise(raw: bytes, chunk: int = 7) -> bytes:
    """Run ``raw`` through CRLFNormalizer in small chunks (exercises chunk edges)."""
    norm = CRLFNormalizer()
    out = [norm.feed(raw[i : i + chunk]) for i in range(0, len(raw), chunk)]
    return b"".join(out) + norm.flush()


def parse_bytes(data: bytes) -> Part:
    return parse_message(io.BytesIO(data), len(data))


def load_corpus(name: str) -> tuple[bytes, Part]:
    """(normalised bytes, root part) of tests/mime/corpus/<name>.eml."""
    data = normalise((CORPUS / f"{name}.eml").read_bytes())
    return data, parse_bytes(data)
