"""The ``world`` fixture: the bot running end to end for one test module (see ``harness``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import REDIS_URL, World, open_world, redis_reachable

# The base MiniLM (no adapter trained yet) scores a renamed near-copy about 0.8 (cosine and lexical
# combined); the defaults (0.90/0.80) are meant for calibrated adapters. Thresholds are settings.
DUPLICATE_THRESHOLD = "0.78"
RELATED_THRESHOLD = "0.70"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    problem = redis_reachable(REDIS_URL)
    if problem is not None:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({problem}); start redis-server to run the e2e tests")
    root = tmp_path_factory.mktemp("e2e")
    with open_world(root, duplicate_threshold=DUPLICATE_THRESHOLD, related_threshold=RELATED_THRESHOLD) as running:
        yield running
