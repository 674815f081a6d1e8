"""core.progress: a live line on a terminal, periodic log lines elsewhere; the encoder's batch hook."""

from __future__ import annotations

import io
import logging

import pytest

from core.progress import LOG_EVERY_S, Progress
from tests.tiny_models import build_tiny_roberta


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_rewrites_one_line_with_the_count_and_ends_it() -> None:
    clock, stream = FakeClock(), TTY()
    progress = Progress("indexing acme/widgets", stream=stream, clock=clock)
    progress.advance(32)
    clock.now += 1
    progress.update(64, detail="files 3/7")
    clock.now += 1
    progress.advance(16)
    progress.close()
    text = stream.getvalue()
    frames = text.split("\r")[1:]
    assert frames[0].startswith("indexing acme/widgets: 64 functions · files 3/7 · 1s")
    assert frames[-1].rstrip() == "indexing acme/widgets: 80 functions · files 3/7 · 2s"
    assert text.endswith("\n") and text.count("\n") == 1


def test_progress_off_a_terminal_logs_every_interval_and_at_the_end(caplog: pytest.LogCaptureFixture) -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress("embedding", unit="texts", total=1000, stream=stream, clock=clock)
    with caplog.at_level(logging.INFO, logger="core.progress"):
        for _ in range(10):  # ten batches, three seconds apart
            clock.now += 3
            progress.advance(100)
        progress.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "core.progress"]
    assert stream.getvalue() == ""  # no carriage returns in a log
    assert LOG_EVERY_S == 10.0  # a line once ten seconds have passed since the last one: 12 s, 24 s, the end
    assert lines == [
        "embedding: 400/1000 texts (40%) · 12s",
        "embedding: 800/1000 texts (80%) · 24s",
        "embedding: 1000/1000 texts (100%) · 30s",
    ]


def test_closing_twice_shows_the_end_once() -> None:
    stream = TTY()
    progress = Progress("x", stream=stream, clock=FakeClock())
    progress.close()
    progress.close()
    assert stream.getvalue().count("\n") == 1


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - an Encoder, imported lazily
    from embedding.encoder import Encoder

    return Encoder(str(build_tiny_roberta(tmp_path_factory.mktemp("tiny") / "m")), batch_size=3, device="cpu")


TEXTS = [f"def f{i}(x):\n    return x + {i}\n" for i in range(8)]


def test_encoder_tells_a_progress_callable_each_batch(encoder) -> None:  # noqa: ANN001
    seen: list[int] = []
    encoder.embed_texts(TEXTS, progress=seen.append)
    assert sum(seen) == 8 and max(seen) <= 3 and len(seen) == 3


def test_encoder_progress_true_counts_texts_embedded(encoder, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    """What ``doppel eval`` shows while it embeds a pool (a log line here: pytest's stderr is no TTY)."""
    with caplog.at_level(logging.INFO, logger="core.progress"):
        encoder.embed_texts([t + "# again\n" for t in TEXTS], progress=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "core.progress"]
    assert lines and lines[-1].startswith("embedding: 8/8 texts (100%) · ")
