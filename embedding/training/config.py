"""Training settings: the LoRA shape (``LoraSpec``) and the run (``TrainConfig``).

Both are dataclasses in the style of peft's configs: every field carries help text in its
metadata, ``__post_init__`` raises a ``ValueError`` that names the bad field, and both round-trip
to JSON (``training_config.json``) next to the adapter weights so that a stored adapter says how
it was made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

TRAINING_CONFIG_NAME = "training_config.json"
_RETIRED_FIELDS = ("negatives_per_positive",)  # random non-clone pairs per clone: calibration uses neighbours now


def _help(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


@dataclass(frozen=True)
class LoraSpec:
    """Shape of a LoRA adapter. Defaults are the LoRACode paper's (rank 64, alpha 128, dropout 0.1)."""

    r: int = _help("LoRA rank: the inner dimension of the low-rank update.", default=64)
    alpha: int = _help("LoRA scaling numerator: the update is scaled by alpha / r.", default=128)
    dropout: float = _help("Dropout on the LoRA input during training, in [0, 1).", default=0.1)
    target_modules: tuple[str, ...] | None = _help(
        "Module names to adapt; None picks the model family's attention query/value projections.",
        default=None,
    )

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"LoraSpec.r must be a positive integer, got {self.r!r}")
        if not isinstance(self.alpha, int | float) or self.alpha <= 0:
            raise ValueError(f"LoraSpec.alpha must be positive, got {self.alpha!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoraSpec.dropout must lie in [0, 1), got {self.dropout!r}")
        if self.target_modules is not None:
            if isinstance(self.target_modules, str) or not all(isinstance(m, str) and m for m in self.target_modules):
                raise ValueError(
                    f"LoraSpec.target_modules must be a sequence of module names, got {self.target_modules!r}"
                )
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
            if not self.target_modules:
                raise ValueError("LoraSpec.target_modules must not be empty (use None for the family default)")

    def resolved_targets(self, model: Any) -> tuple[str, ...]:
        """The modules to adapt in ``model``: the explicit list, else the family's query/value projections."""
        if self.target_modules is not None:
            return self.target_modules
        from embedding.adapters import lora_target_modules

        return tuple(lora_target_modules(model))

    def to_peft(self, model: Any) -> Any:
        """The ``peft.LoraConfig`` for ``model``: what ``Encoder.create_adapter`` adds (the only place
        a LoRA shape is turned into peft's config). No task type: the encoder wraps the bare base
        model and pools its hidden states itself."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.resolved_targets(model)),
            bias="none",
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules) if self.target_modules is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoraSpec:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class TrainConfig:
    """One training run: data mining, optimisation, promotion and calibration settings."""

    # --- data ---------------------------------------------------------------------------------
    min_pairs_per_language: int = _help(
        "Training pairs a language needs for its own adapter; fewer and it only feeds the shared one.", default=2000
    )
    max_pairs_per_language: int = _help("Cap on mined pairs per language (a random, seeded subset).", default=50_000)
    validation_fraction: float = _help("Share of files held out for validation (the promotion gate).", default=0.1)
    test_fraction: float = _help("Share of files held out for the test report and calibration.", default=0.1)
    min_code_chars: int = _help("Pairs whose code is shorter than this are dropped.", default=60)
    max_code_chars: int = _help("Pairs whose code is longer than this are dropped.", default=6000)
    min_query_chars: int = _help("Text queries (doc text, identifier words) shorter than this are dropped.", default=12)
    identifier_pairs: bool = _help(
        "Also mine (name and signature words → body) pairs, tagged 'identifiers'. Off by default: on the "
        "stdlib they halved the text→code gain (benchmarks/results/training.md).",
        default=False,
    )
    synthetic_per_function: int = _help("Synthetic clone pairs made per function (code→code).", default=1)
    synthetic_ratio: float | None = _help(
        "Cap on code→code training pairs per language, as a multiple of its text→code ones (None or negative: no cap). "
        "Every function gives a clone pair but only documented ones a doc-text pair; 1 balances the two tasks.",
        default=1.0,
    )
    history_commits: int = _help("Commits of git history scanned for changed functions (0: none).", default=200)
    max_history_pairs: int = _help("Cap on (old, new) function pairs taken from history per language.", default=5000)
    # --- optimisation -------------------------------------------------------------------------
    temperature: float = _help("Softmax temperature of the InfoNCE loss (paper's code: 0.2).", default=0.05)
    symmetric: bool = _help("Add the code→query direction to the loss.", default=True)
    hard_negatives: bool = _help("Add one hard negative per pair (hard_negative_mining) to its batch.", default=True)
    hard_negative_mining: str = _help(
        "Where hard negatives come from: 'same_file' (a function of the pair's file), 'neighbours' (one of the "
        "pair's nearest training-file functions under the model as training starts, true copies excluded by body "
        "hash and lexical similarity) or 'both' (either, at random). Neighbours by default: on 40 stdlib modules "
        "they gave the first batches a mean loss of 0.536 (same file 0.479) and 65% of pairs a gradient (62%), "
        "for one embedding pass over the training files (benchmarks/bench_hard_negatives.py).",
        default="neighbours",
    )
    hard_negative_neighbours: int = _help("Nearest neighbours kept per function for 'neighbours' mining.", default=8)
    hard_negative_pool: int | None = _help(
        "Most functions embedded for 'neighbours' mining: the pairs' own functions first, then a seeded sample "
        "of their files' other functions (None: all of them).",
        default=None,
    )
    drop_margin: float | None = _help(
        "Leave out of the loss the pairs whose positive beats every negative by this much cosine, in both "
        "directions (the model already separates them), averaging over the rest; None keeps every pair.",
        default=0.3,
    )
    batch_size: int = _help(
        "Pairs per micro-batch (in-batch negatives = batch_size - 1, times world size).", default=32
    )
    group_by_length: bool = _help(
        "Batch pairs of one kind and similar length together, so batches pad to little more than their own "
        "texts (faster; negatives are then of similar length).",
        default=True,
    )
    base_dropout: bool = _help(
        "Keep the frozen base model's own dropout (hidden states, attention) on while training; off, only the "
        "LoRA dropout regularises, which is faster (a third of a CPU step draws dropout masks) and lets "
        "attention use fused kernels.",
        default=False,
    )
    gradient_accumulation: int = _help("Micro-batches per optimiser step.", default=1)
    gradient_checkpointing: bool = _help(
        "Recompute the frozen base model's activations in the backward pass instead of keeping them: one CPU step "
        "of 64 texts of 256 tokens peaked at 3.1 GB RSS instead of 7.9 GB (benchmarks/results/train_memory.md).",
        default=True,
    )
    gradient_cache_chunk: int | None = _help(
        "Texts embedded with gradient at once (gradient caching): a batch is embedded without gradient, the "
        "loss's gradient with respect to each embedding is kept, then each chunk is embedded again and "
        "back-propagated. The gradients are the whole batch's, memory follows the chunk; None: the whole batch. "
        "A CPU step of 32 pairs and 32 hard negatives at 256 tokens peaked at 1.6 GB RSS instead of 4.2 GB, "
        "taking 1.14x as long (benchmarks/bench_train_step_memory.py).",
        default=16,
    )
    learning_rate: float = _help("AdamW peak learning rate.", default=1e-3)
    weight_decay: float = _help("AdamW weight decay.", default=0.01)
    warmup_ratio: float = _help("Share of steps with a linear learning-rate warm-up; then linear decay.", default=0.1)
    epochs: int = _help("Passes over the training pairs.", default=2)
    max_steps: int | None = _help("Stop after this many optimiser steps (None: epochs decide).", default=None)
    max_length: int = _help("Token limit per text during training and evaluation.", default=256)
    eval_batch_size: int = _help("Texts per forward pass when embedding for evaluation.", default=64)
    seed: int = _help("Seed for mining, splitting, batching and initialisation.", default=0)
    device: str = _help("'auto' (CUDA when present), 'cpu' or 'cuda[:N]'.", default="auto")
    bf16: bool = _help("Use bfloat16 autocast on CUDA (ignored on CPU).", default=True)
    # --- promotion and calibration ------------------------------------------------------------
    promotion_margin: float = _help(
        "The lower end of the 95% interval of the validation MRR gain (mean of text→code and code→code) over the "
        "reference (the shipped code adapter when loaded, else the base model) and over the current adapter must "
        "reach this.",
        default=0.01,
    )
    target_precision: float = _help(
        "Precision at which the 'duplicate' threshold of the combined score is calibrated.", default=0.95
    )
    related_precision: float = _help("Precision at which the lower 'related' threshold is calibrated.", default=0.7)
    calibration_neighbours: int = _help(
        "Nearest non-copy neighbours per copy (and per held-out function) that calibration and the false-alarm "
        "check weigh: the candidates a review compares against.",
        default=2,
    )
    bootstrap_resamples: int = _help(
        "Resamples of the paired bootstrap behind every MRR delta's 95% interval.", default=2000
    )
    min_split_queries: int = _help(
        "Text→code queries the validation and the test split should each hold per language; their share of "
        "files grows (up to max_split_fraction) until they do.",
        default=300,
    )
    max_split_fraction: float = _help(
        "Largest share of a language's files the validation or the test split may grow to.", default=0.25
    )
    lexical_weight: float = _help(
        "Weight of lexical similarity in the combined score the thresholds are calibrated on (the review's "
        "DOPPEL_LEXICAL_WEIGHT; 0: cosine alone).",
        default=0.9,
    )
    verdict_false_alarms: float = _help(
        "Share of the validation split's nearest non-copy neighbours the refitted verdict may flag as duplicates.",
        default=0.01,
    )
    train_shared: bool = _help("Also train one shared adapter over all languages as the fallback.", default=True)

    def __post_init__(self) -> None:
        positive_ints = (
            "min_pairs_per_language",
            "max_pairs_per_language",
            "min_code_chars",
            "max_code_chars",
            "batch_size",
            "gradient_accumulation",
            "epochs",
            "max_length",
            "eval_batch_size",
            "calibration_neighbours",
            "bootstrap_resamples",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        for name in (
            "synthetic_per_function",
            "history_commits",
            "max_history_pairs",
            "min_query_chars",
            "min_split_queries",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be a non-negative integer, got {value!r}")
        if self.max_code_chars < self.min_code_chars:
            raise ValueError(
                f"TrainConfig.max_code_chars ({self.max_code_chars}) must not be below min_code_chars ({self.min_code_chars})"
            )
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"TrainConfig.{name} must lie in [0, 1), got {value!r}")
        if not 0.0 < self.max_split_fraction < 0.5:
            raise ValueError(f"TrainConfig.max_split_fraction must lie in (0, 0.5), got {self.max_split_fraction!r}")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("TrainConfig.validation_fraction + test_fraction must leave files for training (< 1)")
        if not self.temperature > 0:
            raise ValueError(f"TrainConfig.temperature must be positive, got {self.temperature!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"TrainConfig.learning_rate must be positive, got {self.learning_rate!r}")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must not be negative, got {self.weight_decay!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"TrainConfig.warmup_ratio must lie in [0, 1), got {self.warmup_ratio!r}")
        if self.synthetic_ratio is not None and not isinstance(self.synthetic_ratio, int | float):
            raise ValueError(f"TrainConfig.synthetic_ratio must be a number or None, got {self.synthetic_ratio!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"TrainConfig.max_steps must be a positive integer or None, got {self.max_steps!r}")
        if self.promotion_margin < 0:
            raise ValueError(f"TrainConfig.promotion_margin must not be negative, got {self.promotion_margin!r}")
        for name in ("target_precision", "related_precision"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"TrainConfig.{name} must lie in (0, 1], got {value!r}")
        if self.related_precision > self.target_precision:
            raise ValueError(
                f"TrainConfig.related_precision ({self.related_precision}) must not exceed "
                f"target_precision ({self.target_precision})"
            )
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError(f"TrainConfig.lexical_weight must lie in [0, 1], got {self.lexical_weight!r}")
        if not 0.0 < self.verdict_false_alarms < 0.5:
            raise ValueError(
                f"TrainConfig.verdict_false_alarms must lie in (0, 0.5), got {self.verdict_false_alarms!r}"
            )
        if self.hard_negative_mining not in ("same_file", "neighbours", "both"):
            raise ValueError(
                "TrainConfig.hard_negative_mining must be 'same_file', 'neighbours' or 'both', "
                f"got {self.hard_negative_mining!r}"
            )
        if not isinstance(self.hard_negative_neighbours, int) or self.hard_negative_neighbours < 1:
            raise ValueError(
                f"TrainConfig.hard_negative_neighbours must be a positive integer, got {self.hard_negative_neighbours!r}"
            )
        if self.hard_negative_pool is not None and (
            not isinstance(self.hard_negative_pool, int) or self.hard_negative_pool < 2
        ):
            raise ValueError(
                f"TrainConfig.hard_negative_pool must be an integer of at least 2 or None, got {self.hard_negative_pool!r}"
            )
        if self.gradient_cache_chunk is not None and (
            not isinstance(self.gradient_cache_chunk, int) or self.gradient_cache_chunk < 1
        ):
            raise ValueError(
                f"TrainConfig.gradient_cache_chunk must be a positive integer or None, got {self.gradient_cache_chunk!r}"
            )
        if self.drop_margin is not None and not (isinstance(self.drop_margin, int | float) and self.drop_margin > 0):
            raise ValueError(f"TrainConfig.drop_margin must be a positive number or None, got {self.drop_margin!r}")
        if self.device != "auto" and self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"TrainConfig.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> TrainConfig:
        """The run the settings describe: each ``DOPPEL_TRAIN_*`` setting that is set (``SETTINGS``
        maps them to fields; unset, the field's own default applies: one source), plus the
        model's length, device and lexical weight; ``overrides`` that are not ``None`` win
        (command-line flags)."""
        values: dict[str, Any] = {
            "max_length": settings.max_length,
            "device": settings.device,
            "lexical_weight": settings.lexical_weight,
        }
        values.update(
            {name: getattr(settings, key) for key, name in SETTINGS.items() if getattr(settings, key) is not None}
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "target_precision" in values:
            default_related = field_default(cls, "related_precision")
            values.setdefault("related_precision", min(default_related, values["target_precision"]))
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        # Stored configs from before calibration used nearest neighbours carry this; it is gone.
        data = {k: v for k, v in data.items() if k not in _RETIRED_FIELDS}
        return cls(**_known(cls, data))

    def replace(self, **changes: Any) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def field_help(cls: type) -> dict[str, str]:
    """Help text per field of a config dataclass (for ``--help`` and the README table)."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def field_default(cls: type, name: str) -> Any:
    """The default of one field of a config dataclass (``--help`` and ``Settings`` show it)."""
    for f in fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(f"{cls.__name__} has no field {name!r}")


# ``Settings`` field → ``TrainConfig`` field it sets when given (DOPPEL_TRAIN_*); unset, the
# ``TrainConfig`` default applies, so every default has one source.
SETTINGS: dict[str, str] = {
    "train_temperature": "temperature",
    "train_batch_size": "batch_size",
    "train_max_steps": "max_steps",
    "train_min_pairs_per_language": "min_pairs_per_language",
    "train_promotion_margin": "promotion_margin",
    "train_target_precision": "target_precision",
}


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
    return dict(data)


def save_training_config(directory: Path, lora: LoraSpec, config: TrainConfig) -> Path:
    """Write both configs as ``training_config.json`` beside the adapter weights."""
    path = directory / TRAINING_CONFIG_NAME
    payload = {"lora": lora.to_dict(), "train": config.to_dict()}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_training_config(directory: Path) -> tuple[LoraSpec, TrainConfig]:
    """Read back what ``save_training_config`` wrote."""
    payload = json.loads((directory / TRAINING_CONFIG_NAME).read_text(encoding="utf-8"))
    return LoraSpec.from_dict(payload["lora"]), TrainConfig.from_dict(payload["train"])
