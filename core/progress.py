"""Progress of a long step, shown where the user is: a live line on a terminal, log lines elsewhere.

Indexing, evaluation and the embedding of large pools run for minutes. On a terminal the user
gets one line rewritten in place (``\\r``), at most a few times a second; anywhere else (the
Action's log, a CI job, a Celery worker) a carriage return would pile up into one huge line, so
the same figures come as an INFO log line on the ``core.progress`` logger every ``log_every``
seconds, and once more at the end. The figures are counts the caller supplies (functions
embedded, files read), never a guess at a percentage of work that is not yet known.

Pure of torch and of any I/O but the stream it is given: the clock is injectable for tests.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

logger = logging.getLogger(__name__)

TERMINAL_REFRESH_S = 0.2  # at most five redraws a second: cheap, and still looks live
LOG_EVERY_S = 10.0  # one log line every ten seconds: an Action's log stays readable


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{secs}s"


class Progress:
    """Counts work done on one step and shows it.

    ``what``: what is being done (``"indexing acme/widgets"``); ``unit``: what ``done`` counts
    (plural, ``"functions"``); ``total``: the count at which the step ends, when known.
    ``terminal``: draw a live line on ``stream`` (default: ``stream`` is a TTY); otherwise log.
    """

    def __init__(
        self,
        what: str,
        *,
        unit: str = "functions",
        total: int | None = None,
        terminal: bool | None = None,
        stream: TextIO | None = None,
        log_every: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.unit = unit
        self.total = total
        self.done = 0
        self.detail = ""
        self._stream = stream if stream is not None else sys.stderr
        self._terminal = self._stream.isatty() if terminal is None else terminal
        self._log_every = log_every
        self._clock = clock
        self._started = clock()
        self._last_shown = self._started
        self._width = 0  # length of the last terminal line, so a shorter one overwrites it all
        self._closed = False

    # --- counting -------------------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        """``n`` more units done (e.g. one forward batch of ``n`` functions)."""
        self.done += n
        self._maybe_show()

    def update(self, done: int | None = None, *, detail: str | None = None) -> None:
        """Set the authoritative count and/or the detail text (e.g. ``"files 36/69"``)."""
        if done is not None:
            self.done = done
        if detail is not None:
            self.detail = detail
        self._maybe_show()

    # --- showing --------------------------------------------------------------------------------
    def line(self) -> str:
        """The progress as one line of text (what the terminal and the log show)."""
        count = f"{self.done}/{self.total} {self.unit}" if self.total else f"{self.done} {self.unit}"
        if self.total:
            count += f" ({100 * self.done // max(1, self.total)}%)"
        parts = [f"{self.what}: {count}"]
        if self.detail:
            parts.append(self.detail)
        parts.append(_clock_text(self._clock() - self._started))
        return " · ".join(parts)

    def _maybe_show(self) -> None:
        if self._closed:
            return
        now = self._clock()
        every = TERMINAL_REFRESH_S if self._terminal else self._log_every
        if now - self._last_shown >= every:
            self._last_shown = now
            self._show()

    def _show(self) -> None:
        text = self.line()
        if self._terminal:
            pad = max(0, self._width - len(text))
            self._stream.write("\r" + text + " " * pad)
            self._stream.flush()
            self._width = len(text)
        else:
            logger.info("%s", text)

    def close(self) -> None:
        """Show the final figures once (the terminal line is kept, ended by a newline)."""
        if self._closed:
            return
        self._show()
        if self._terminal:
            self._stream.write("\n")
            self._stream.flush()
        self._closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
