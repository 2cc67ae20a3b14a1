"""Fixtures for the MIME tests."""

from __future__ import annotations

import pytest

from mime.mime_helpers import load_corpus


@pytest.fixture
def corpus():
    """``corpus(name) -> (normalised bytes, root part)`` for tests/mime/corpus/<name>.eml."""
    return load_corpus
