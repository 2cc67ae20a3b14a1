from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harness import Harness


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def harness(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    h = Harness(tmp_path, request.param)
    await h.start({"demo": "demo", "other": "secret"})
    yield h
    await h.close()
