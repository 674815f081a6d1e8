"""A file's time budget: a deadline on a monotonic clock, checked at points along the way.

Hostile input must not hold a worker: a file whose extraction runs past its budget is skipped
with a reason, like a file that is too large, instead of tying up the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import ExtractionError


class OverBudgetError(ExtractionError):
    """A file spent its budget; ``extract_source`` turns this into the file's skip reason."""


@dataclass
class Deadline:
    """``seconds`` from now on ``clock``; ``check`` raises ``OverBudgetError`` once they have passed."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.at = self.clock() + self.seconds

    def expired(self) -> bool:
        return self.clock() > self.at

    def check(self, stage: str) -> None:
        if self.expired():
            raise OverBudgetError(self.reason(stage))

    def reason(self, stage: str) -> str:
        return f"over the time budget (max_file_seconds {self.seconds:g} s) while {stage}"
