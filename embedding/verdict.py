"""The near-duplicate verdict: one score from cosine and lexical similarity, two thresholds.

A cosine between sentence embeddings alone separates renamed-and-edited copies poorly from
unrelated functions that merely share a vocabulary, so the verdict blends it with the lexical
similarity of identifier-normalised tokens (``embedding.lexical``). Everything here is pure.

Thresholds come from the adapter in use when its ``doppel.json`` carries calibrated ones (they
were measured in its own vector space), else from settings; see ``thresholds_from``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.domain import FindingKind
from core.errors import ConfigError
from core.settings import Settings

# How each strictness level moves both thresholds of the combined score: strict flags more (lower
# bars), lenient fewer. Measured on the clone benchmark at the default weight 0.9
# (benchmarks/results/clone_recall.md): strict flags ~4% of hard negatives with renamed+edited
# recall 0.92; lenient ~1.5% with recall 0.68; normal ~2.3% with recall 0.86.
STRICTNESS_OFFSETS: dict[str, float] = {"strict": -0.06, "normal": 0.0, "lenient": 0.09}


def apply_strictness(level: str, duplicate: float, related: float) -> tuple[float, float]:
    """``(duplicate, related)`` moved by ``level``'s offset, clamped to [-1, 1], related ≤ duplicate."""
    if level not in STRICTNESS_OFFSETS:
        raise ConfigError(f"strictness must be one of {', '.join(STRICTNESS_OFFSETS)}, got {level!r}")
    offset = STRICTNESS_OFFSETS[level]
    dup, rel = (max(-1.0, min(1.0, round(v + offset, 4))) for v in (duplicate, related))
    return dup, min(rel, dup)


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs on the combined score, and the weight of the lexical part in it.

    ``duplicate``: at or above, a near-duplicate (inline comment). ``related``: at or above, worth
    a mention. ``lexical_weight``: 0 is cosine alone, 1 lexical alone. ``source`` says where the
    values came from ("settings" or "adapter:<name>"), for reports.
    """

    duplicate: float
    related: float
    lexical_weight: float
    source: str = "settings"

    def __post_init__(self) -> None:
        for name in ("duplicate", "related", "lexical_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or math.isnan(value):
                raise ConfigError(f"Thresholds.{name} must be a number, got {value!r}")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ConfigError(f"Thresholds.lexical_weight must lie in [0, 1], got {self.lexical_weight}")
        if self.related > self.duplicate:
            raise ConfigError(
                f"Thresholds.related ({self.related}) must not exceed Thresholds.duplicate ({self.duplicate})"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            duplicate=settings.duplicate_threshold,
            related=settings.related_threshold,
            lexical_weight=settings.lexical_weight,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "duplicate": self.duplicate,
            "related": self.related,
            "lexical_weight": self.lexical_weight,
            "source": self.source,
        }


def thresholds_from(
    settings: Settings, adapter_name: str | None = None, metadata: Mapping[str, Any] | None = None
) -> Thresholds:
    """Thresholds for an adapter: its calibrated ``metadata["thresholds"]`` when present, else settings.

    ``metadata`` is the adapter's ``doppel.json`` (or ``None`` for the base model). A partial
    entry falls back to settings field by field; a malformed one is an error, not silently ignored,
    because a mis-set threshold changes every review.
    """
    base = Thresholds.from_settings(settings)
    calibrated = (metadata or {}).get("thresholds")
    if not calibrated:
        return base
    if not isinstance(calibrated, Mapping):
        raise ConfigError(
            f"adapter {adapter_name!r}: doppel.json 'thresholds' must be an object "
            f"{{'duplicate': x, 'related': y}}, got {calibrated!r}"
        )
    try:
        return Thresholds(
            duplicate=float(calibrated.get("duplicate", base.duplicate)),
            related=float(calibrated.get("related", base.related)),
            lexical_weight=float(calibrated.get("lexical_weight", base.lexical_weight)),
            source=f"adapter:{adapter_name}",
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"adapter {adapter_name!r}: bad thresholds in doppel.json: {calibrated!r}") from exc


def combined_score(cosine: float, lexical: float, weight: float) -> float:
    """``(1 - weight) * cosine + weight * lexical``: the score the thresholds apply to."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"lexical weight must lie in [0, 1], got {weight}")
    return (1.0 - weight) * cosine + weight * lexical


def classify(cosine: float, lexical: float, thresholds: Thresholds, *, identical: bool = False) -> FindingKind | None:
    """DUPLICATE, RELATED or ``None`` (not worth reporting) for one pair of functions.

    ``identical``: the two bodies hash the same after dropping comments and layout; such a copy
    is a duplicate whatever the scores say (a short function can embed far from its copy's
    docstring-laden text).
    """
    if identical:
        return FindingKind.DUPLICATE
    score = combined_score(cosine, lexical, thresholds.lexical_weight)
    if score >= thresholds.duplicate:
        return FindingKind.DUPLICATE
    if score >= thresholds.related:
        return FindingKind.RELATED
    return None
