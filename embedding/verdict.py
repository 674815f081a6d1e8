"""The near-duplicate verdict: a small calibrated model over several signals of a pair of functions.

A review compares each changed function with its nearest indexed neighbours. Whether a pair is a
copy is decided from a handful of signals (``Signals``), each cheap and inspectable:

* ``cosine``: the embeddings' cosine, in the vector space of the adapter that made them;
* ``lexical``: Dice over identifier-normalised token 3-grams (``embedding.lexical``), high for
  renamed copies;
* ``containment``: the share of the smaller function's 3-grams found in the larger, high for a
  copy that gained parameters, branches or helper calls (real edits do; Dice then drops);
* ``size_ratio``: smaller over larger token count;
* ``name``: word overlap of the two function names (``parse_headers`` ~ ``parseHeaders``);
* ``signature``: overlap of the parameter names;
* ``vocabulary``: overlap of the names a copy keeps whatever it renames (members, keyword
  arguments, called functions): an edited copy still uses the same helpers and attributes;
* ``literals``: overlap of the string and number literals as written (messages, keys), which
  unrelated code rarely shares.

``Verdict`` turns the signals into one score: a logistic model (``link = "logistic"``, the
default, fitted on real edits and synthetic clones by ``benchmarks/fit_verdict.py`` and refitted
per repository by the nightly training) or, for adapters calibrated before it existed, the old
linear blend ``(1 - w)·cosine + w·lexical`` (``link = "linear"``). Two cut-offs on the score make
the three outcomes: duplicate, related, nothing; ``related < duplicate`` always holds. The model
is stored as JSON next to the vectors it was fitted for (the adapter's ``doppel.json`` →
``"verdict"``; the shipped default in ``embedding/data/verdict.json``), so a review always uses
the verdict of the vectors it compares. Everything here is pure.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.domain import FindingKind
from core.errors import ConfigError
from core.settings import Settings
from embedding.lexical import NormalizedCode, containment, dice, similarity

DEFAULT_VERDICT_PATH = Path(__file__).with_name("data") / "verdict.json"
SIGNALS = ("cosine", "lexical", "containment", "size_ratio", "name", "signature", "vocabulary", "literals")
LINKS = ("logistic", "linear")
MIN_GAP = 0.01  # related stays at least this far below duplicate

# How each strictness level moves both cut-offs: strict flags more (lower bars), lenient fewer.
# On the logistic score these are shifts of the logit (log-odds), so they act alike near 0.5
# and near 0.95; on a linear (legacy) score they are shifts of the score.
STRICTNESS_OFFSETS: dict[str, float] = {"strict": -1.0, "normal": 0.0, "lenient": 1.0}
_LEGACY_STRICTNESS = {"strict": -0.06, "normal": 0.0, "lenient": 0.09}
_REQUIRED = SIGNALS[:6]  # vocabulary and literals came later: older dumps lack them
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


# --- signals -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signals:
    """What is known about one pair of functions; every field lies in [0, 1] (cosine in [-1, 1])."""

    cosine: float
    lexical: float
    containment: float
    size_ratio: float
    name: float
    signature: float
    vocabulary: float = 1.0
    literals: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return {key: round(value, 4) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signals:
        try:
            return cls(**{key: float(data[key]) for key in SIGNALS if key in data or key in _REQUIRED})
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"signals need numbers for {', '.join(SIGNALS)}; got {_brief(data)}") from exc


def name_words(name: str) -> list[str]:
    """Lower-case words of an identifier: ``parseHTTPHeaders`` → parse, http, headers."""
    short = name.rsplit(".", 1)[-1].rsplit("::", 1)[-1]
    return [word.lower() for word in _WORD.findall(short)]


def name_similarity(a: str, b: str) -> float:
    """Dice over the words of two function names; 1.0 for the same name, 0.0 when one has none."""
    first, second = name_words(a), name_words(b)
    if first == second:
        return 1.0
    if not first or not second:
        return 0.0
    return _dice_words(first, second)


def _dice_words(first: Sequence[str], second: Sequence[str]) -> float:
    return dice(Counter((w,) for w in first), Counter((w,) for w in second))


def signals_of(
    cosine: float, first: NormalizedCode, second: NormalizedCode, first_name: str, second_name: str
) -> Signals:
    """The signals of a pair from its cosine, both normalised bodies and both qualified names."""
    sizes = sorted((len(first), len(second)))
    params = _overlap(first.params, second.params)
    return Signals(
        cosine=float(cosine),
        lexical=similarity(first, second),
        containment=containment(first, second),
        size_ratio=sizes[0] / sizes[1] if sizes[1] else 1.0,
        name=name_similarity(first_name, second_name),
        signature=params,
        vocabulary=_overlap(first.names, second.names),
        literals=_overlap(first.literals, second.literals),
    )


def _overlap(first: Sequence[str], second: Sequence[str]) -> float:
    """Dice over two multisets of words; 1.0 when both are empty (nothing to tell them apart)."""
    return 1.0 if not first and not second else _dice_words(first, second)


# --- the model -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """A score over ``Signals`` and the two cut-offs on it.

    ``weights``/``bias``: the linear part ``z = bias + Σ weights[s]·signal[s]``; the score is
    ``sigmoid(z)`` for ``link = "logistic"`` and ``z`` itself for ``"linear"``. ``duplicate``: at or
    above, a near-duplicate (an inline comment); ``related``: at or above, worth a mention.
    ``source`` says where it came from (``default``, ``adapter:python``, …) and ``fitted`` what it
    was fitted on, for reports.
    """

    weights: Mapping[str, float]
    bias: float
    duplicate: float
    related: float
    link: str = "logistic"
    source: str = "default"
    fitted: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.link not in LINKS:
            raise ConfigError(f"verdict link must be one of {', '.join(LINKS)}, got {_brief(self.link)}")
        unknown = sorted(set(self.weights) - set(SIGNALS))
        if unknown:
            raise ConfigError(f"verdict weights name unknown signals {unknown[:5]}; known: {', '.join(SIGNALS)}")
        for name, value in (("bias", self.bias), ("duplicate", self.duplicate), ("related", self.related)):
            _require_number(name, value)
        for name, value in self.weights.items():
            _require_number(f"weights.{name}", value)
        if not self.related < self.duplicate:
            raise ConfigError(
                f"verdict related cut-off ({self.related}) must lie below the duplicate cut-off ({self.duplicate})"
            )

    # --- scoring ------------------------------------------------------------------------------
    def score(self, signals: Signals) -> float:
        z = self.bias + sum(weight * getattr(signals, name) for name, weight in self.weights.items())
        if self.link == "linear":
            return z
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def classify(self, signals: Signals, *, identical: bool = False) -> FindingKind | None:
        """DUPLICATE, RELATED or ``None`` (not worth reporting) for one pair.

        ``identical``: the two bodies hash the same after dropping comments and layout; such a copy
        is a duplicate whatever the scores say."""
        if identical:
            return FindingKind.DUPLICATE
        return self.kind_of(self.score(signals))

    def kind_of(self, score: float) -> FindingKind | None:
        if score >= self.duplicate:
            return FindingKind.DUPLICATE
        if score >= self.related:
            return FindingKind.RELATED
        return None

    def best_possible(self, cosine: float) -> float:
        """The highest score a pair with this cosine could reach (every other signal at its best),
        so a search can skip pairs that could never become a duplicate."""
        best = {name: 0.0 if self.weights.get(name, 0.0) < 0 else 1.0 for name in SIGNALS}
        return self.score(Signals(**{**best, "cosine": cosine}))

    # --- cut-offs ------------------------------------------------------------------------------
    def with_cutoffs(self, duplicate: float | None = None, related: float | None = None) -> Verdict:
        """The same model with other cut-offs (``None`` keeps one); related stays below duplicate."""
        dup = self.duplicate if duplicate is None else float(duplicate)
        rel = self.related if related is None else float(related)
        return replace(self, duplicate=dup, related=min(rel, dup - MIN_GAP))

    def with_strictness(self, level: str) -> Verdict:
        """Both cut-offs moved by ``level`` (strict: lower, flags more; lenient: higher)."""
        if level not in STRICTNESS_OFFSETS:
            raise ConfigError(f"strictness must be one of {', '.join(STRICTNESS_OFFSETS)}, got {_brief(level)}")
        if level == "normal":
            return self
        if self.link == "linear":
            shift = _LEGACY_STRICTNESS[level]
            return self.with_cutoffs(self.duplicate + shift, self.related + shift)
        offset = STRICTNESS_OFFSETS[level]
        return self.with_cutoffs(_shift_probability(self.duplicate, offset), _shift_probability(self.related, offset))

    # --- storage -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "link": self.link,
            "weights": {name: round(float(w), 6) for name, w in self.weights.items()},
            "bias": round(float(self.bias), 6),
            "duplicate": round(float(self.duplicate), 4),
            "related": round(float(self.related), 4),
            "source": self.source,
            **({"fitted": dict(self.fitted)} if self.fitted else {}),
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> Verdict:
        if not isinstance(data, Mapping):
            raise ConfigError(f"a verdict must be a JSON object, got {_brief(data)}")
        weights = data.get("weights")
        if not isinstance(weights, Mapping):
            raise ConfigError(f"a verdict needs 'weights': {{signal: weight}}, got {_brief(weights)}")
        try:
            return cls(
                weights={str(k): float(v) for k, v in weights.items()},
                bias=float(data.get("bias", 0.0)),
                duplicate=float(data["duplicate"]),
                related=float(data["related"]),
                link=str(data.get("link", "logistic")),
                source=source or str(data.get("source", "default")),
                fitted=dict(data.get("fitted") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"bad verdict {_brief(data)}: {exc}") from exc

    @classmethod
    def legacy(cls, duplicate: float, related: float, lexical_weight: float, *, source: str) -> Verdict:
        """The blend ``(1 - w)·cosine + w·lexical`` that adapters calibrated before the model carry."""
        if not 0.0 <= lexical_weight <= 1.0:
            raise ConfigError(f"lexical weight must lie in [0, 1], got {lexical_weight}")
        return cls(
            weights={"cosine": 1.0 - lexical_weight, "lexical": lexical_weight},
            bias=0.0,
            duplicate=duplicate,
            related=min(related, duplicate - MIN_GAP),
            link="linear",
            source=source,
        )


def _shift_probability(p: float, offset: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(math.log(p / (1 - p)) + offset)))


def _require_number(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value) or math.isinf(value):
        raise ConfigError(f"verdict {name} must be a finite number, got {_brief(value)}")


def _brief(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- where a verdict comes from -------------------------------------------------------------------
@lru_cache(maxsize=4)
def _load_default(path: Path) -> Verdict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the default verdict {path} cannot be read: {exc}") from exc
    return Verdict.from_dict(data, source="default")


def default_verdict(path: Path | None = None) -> Verdict:
    """The verdict shipped with doppel, fitted for the default base model (all-MiniLM-L6-v2)."""
    return _load_default(path or DEFAULT_VERDICT_PATH)


def stored_verdict(
    adapter_name: str | None,
    metadata: Mapping[str, Any] | None,
    *,
    legacy_lexical_weight: float,
    default_path: Path | None = None,
) -> Verdict:
    """The verdict that belongs to an adapter's vectors (``None``: the base model's), as stored.

    The adapter's ``doppel.json`` may carry a fitted ``"verdict"`` (preferred) or, from before the
    model, calibrated ``"thresholds"`` {duplicate, related, lexical_weight} of the linear blend
    (``legacy_lexical_weight`` when it names no weight). Without either, the shipped default. A
    malformed entry is an error, not silently ignored: a mis-set verdict changes every review."""
    metadata = metadata or {}
    source = f"adapter:{adapter_name}" if adapter_name else "default"
    if metadata.get("verdict"):
        return Verdict.from_dict(metadata["verdict"], source=source)
    if not metadata.get("thresholds"):
        return default_verdict(default_path)
    calibrated = metadata["thresholds"]
    if not isinstance(calibrated, Mapping):
        raise ConfigError(
            f"adapter {adapter_name!r}: doppel.json 'thresholds' must be an object "
            f"{{'duplicate': x, 'related': y}}, got {_brief(calibrated)}"
        )
    try:
        return Verdict.legacy(
            float(calibrated["duplicate"]),
            float(calibrated["related"]),
            float(calibrated.get("lexical_weight", legacy_lexical_weight)),
            source=source,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"adapter {adapter_name!r}: bad thresholds in doppel.json: {_brief(calibrated)}") from exc


def verdict_for(
    settings: Settings, adapter_name: str | None = None, metadata: Mapping[str, Any] | None = None
) -> Verdict:
    """The verdict a review applies to an adapter's vectors: ``stored_verdict``, then the settings.

    ``settings.duplicate_threshold`` and ``related_threshold``, when set, replace the cut-offs;
    ``settings.strictness`` moves the others."""
    verdict = stored_verdict(
        adapter_name, metadata, legacy_lexical_weight=settings.lexical_weight, default_path=settings.verdict_path
    )
    # Strictness moves the verdict's own cut-offs; cut-offs given explicitly win over it.
    verdict = verdict.with_strictness(settings.strictness)
    return verdict.with_cutoffs(settings.duplicate_threshold, settings.related_threshold)
