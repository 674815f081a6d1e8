"""Retraining a repository's adapters: mine → train → evaluate → calibrate → gate → register/promote.

Three parts, so that each can be tested on its own:

* **evaluation** (``evaluate_model``, ``evaluate_outcome``): the models (base, candidate, current
  adapter) scored on the validation and test splits with one encoder: per-query reciprocal ranks,
  the verdict's labelled pairs, genuinely new functions against their nearest neighbours;
* **calibration and the gate**, pure over those evaluations (``compare_outcome``,
  ``calibrate_outcome``, ``refit_verdict``, ``alarm_check``, ``decide``): paired bootstrap
  intervals of every MRR delta, thresholds and the verdict refitted on copies against their
  nearest non-copy neighbours (never random pairs), and the promotion gate: the interval's lower
  end must reach the margin, and the candidate may not flag more of the validation split's
  genuinely new functions as duplicates than the base model does;
* **the promoter** (``Promoter``): files every candidate in the registry (``rejected`` or
  ``candidate``) and switches the repository to a new adapter generation through
  ``embedding.generation`` (build the new collection, switch the pointer, drop the old one).

``RetrainService.run`` strings them together; a nightly task builds it with its collaborators.
``ExtraPairs`` is the seam for labelled data from outside the code (reviews' feedback): training
pairs join the training data, labelled pairs the calibration set the verdict is refitted on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.domain import RepoRef
from embedding.calibration import Thresholds, apply_labelled, calibrate_labelled
from embedding.evaluation import (
    TASKS,
    LanguageEvaluation,
    PairedBootstrap,
    compare,
    compare_tasks,
    evaluate_language,
    sized_splits,
    split_queries,
)
from embedding.generation import Generations, encoder_with_adapters
from embedding.precision import settings_precision
from embedding.registry import AdapterRecord, AdapterRegistry, AlarmCheck, GateDecision, Pointer, promotion_gate
from embedding.training.config import LoraSpec, TrainConfig
from embedding.training.mining import MinedRepository, mine_repository
from embedding.training.pairs import TrainingPair, pair_statistics
from embedding.training.trainer import TrainResult, save_trained_adapter, train_adapter
from embedding.verdict import Verdict, default_verdict, stored_verdict
from embedding.verdict_fit import (
    FitOptions,
    LabelledPair,
    NotEnoughPairsError,
    before_after,
    cutoff_for_false_alarms,
    fit_verdict,
    judge,
    unit_maxima,
)

if TYPE_CHECKING:
    from core.domain import CodeFunction
    from core.settings import Settings
    from embedding.encoder import Encoder
    from embedding.index.base import VectorIndex
    from embedding.source import GitSource

log = logging.getLogger(__name__)
SHARED = "shared"
SPLITS = ("validation", "test")


class Reindexer(Protocol):
    """Builds a collection with given adapters and drops old ones (an ``IndexService`` behind it)."""

    def reindex(self, repo: RepoRef, adapters: Mapping[str, Path], collection: str) -> None: ...

    def drop(self, collection: str) -> None: ...


@dataclass(frozen=True)
class ExtraPairs:
    """Labelled data from outside the repository's code, e.g. reviews' feedback (👍/👎, resolved).

    ``training``: pairs added to the training data of the adapters covering their language.
    ``labelled``: language → pairs added to that language's calibration set (the validation
    split's copies and neighbours the verdict is refitted on).
    ``negatives``: functions known NOT to be copies of a function of the file they are placed in
    (a 👎'd finding's changed function, at its match's path): they join the training's hard
    negative candidates, so the match's pairs are pushed away from them.
    ``score``: labelled pairs scored with the vectors of the adapter being fitted (``embed``, the
    languages), added to the calibration set like ``labelled``."""

    training: Sequence[TrainingPair] = ()
    labelled: Mapping[str, Sequence[LabelledPair]] = field(default_factory=dict)
    negatives: Sequence[CodeFunction] = ()
    score: Callable[[Callable[[Sequence[str]], Any], Sequence[str]], Sequence[LabelledPair]] | None = None

    def training_for(self, languages: Sequence[str]) -> list[TrainingPair]:
        return [p for p in self.training if p.language in languages]

    def negatives_for(self, languages: Sequence[str]) -> list[CodeFunction]:
        return [fn for fn in self.negatives if fn.language in languages]

    def labelled_for(
        self, languages: Sequence[str], embed: Callable[[Sequence[str]], Any] | None = None
    ) -> list[LabelledPair]:
        fixed = [p for lang in languages for p in self.labelled.get(lang, ())]
        return fixed + list(self.score(embed, languages)) if self.score is not None and embed is not None else fixed


@dataclass
class AdapterOutcome:
    """One adapter's run: training, metrics of base and adapter per language and split, intervals,
    thresholds, verdict, the false-alarm check and the gate's decision."""

    name: str
    languages: list[str]
    train: TrainResult | None = None
    validation: dict[str, dict[str, LanguageEvaluation]] = field(default_factory=dict)  # model → language → eval
    test: dict[str, dict[str, LanguageEvaluation]] = field(default_factory=dict)
    # split → "vs_base" | "vs_current" → paired bootstrap of the gate's figure (mean MRR over tasks)
    intervals: dict[str, dict[str, PairedBootstrap]] = field(default_factory=dict)
    # split → language → task → paired bootstrap of that task's MRR, adapter against base
    task_intervals: dict[str, dict[str, dict[str, PairedBootstrap]]] = field(default_factory=dict)
    # split → language → task → queries; and what the report should say about small splits
    split_sizes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    thresholds: Thresholds | None = None
    test_calibration: dict[str, Any] = field(default_factory=dict)
    # model → "cosine" | "combined" → thresholds calibrated on validation, applied to the test split
    calibration_table: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # false alarms on genuinely new functions: validation (the gate) and test (reported)
    alarms: dict[str, AlarmCheck] = field(default_factory=dict)
    decision: GateDecision | None = None
    record: AdapterRecord | None = None
    skipped: str | None = None
    # The verdict refitted for this adapter's vectors on the validation split's copies and their
    # nearest non-copy neighbours (None: too few pairs, the default verdict applies), how it does on
    # the test split, and the calibration set judged by the verdict in force before and by this one.
    verdict: Verdict | None = None
    verdict_test: dict[str, Any] = field(default_factory=dict)
    verdict_change: str = ""
    # The vector space the "base" model of the tables stands for: what reviews use without this
    # adapter (the shipped code adapter when it is loaded, else the bare base).
    reference: str = ""

    def mean_mrr(self, split: str, model: str) -> float | None:
        table = (self.validation if split == "validation" else self.test).get(model)
        if not table:
            return None
        values = [ev.mean_mrr for ev in table.values() if any(m.queries for m in ev.metrics.values())]
        return sum(values) / len(values) if values else None

    def metrics_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for split, table in (("validation", self.validation), ("test", self.test)):
            out[split] = {model: {lang: ev.to_dict() for lang, ev in evs.items()} for model, evs in table.items()}
            for model in table:
                value = self.mean_mrr(split, model)
                out[split][f"{model}_mean_mrr"] = round(value, 4) if value is not None else None
        return out

    def intervals_dict(self) -> dict[str, Any]:
        """split → {"vs_base", "vs_current", "by_language": {language: {task: interval}}} (JSON)."""
        out: dict[str, Any] = {}
        for split in SPLITS:
            if split not in self.intervals and split not in self.task_intervals:
                continue
            row: dict[str, Any] = {name: b.to_dict() for name, b in self.intervals.get(split, {}).items()}
            row["by_language"] = {
                lang: {task: b.to_dict() for task, b in tasks.items()}
                for lang, tasks in self.task_intervals.get(split, {}).items()
            }
            out[split] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "languages": self.languages,
            "skipped": self.skipped,
            "train": self.train.to_dict() if self.train else None,
            "metrics": self.metrics_dict(),
            "intervals": self.intervals_dict(),
            "split_sizes": self.split_sizes,
            "notes": list(self.notes),
            "reference": self.reference,
            "thresholds": self.thresholds.to_dict() if self.thresholds else None,
            "test_calibration": self.test_calibration,
            "false_alarms": {split: check.to_dict() for split, check in self.alarms.items()},
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "verdict_test": self.verdict_test,
            "verdict_change": self.verdict_change,
            "calibration_table": self.calibration_table,
            "decision": {"promote": self.decision.promote, "reason": self.decision.reason} if self.decision else None,
            "version": self.record.version if self.record else None,
        }


@dataclass
class RetrainReport:
    repo: str
    commit: str | None
    statistics: dict[str, Any]
    outcomes: list[AdapterOutcome]
    pointer: Pointer | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "commit": self.commit,
            "statistics": self.statistics,
            "adapters": [o.to_dict() for o in self.outcomes],
            "pointer": self.pointer.to_dict() if self.pointer else None,
            "seconds": round(self.seconds, 1),
        }


# --- evaluation ----------------------------------------------------------------------------------
def resize_splits(mined: MinedRepository, config: TrainConfig) -> MinedRepository:
    """``mined`` with validation and test splits grown to ``config.min_split_queries`` text→code
    queries per language where the repository allows (``embedding.evaluation.sized_splits``)."""
    pairs = sized_splits(
        mined.pairs,
        seed=config.seed,
        validation=config.validation_fraction,
        test=config.test_fraction,
        min_queries=config.min_split_queries,
        max_fraction=config.max_split_fraction,
    )
    return MinedRepository(
        root=mined.root, commit=mined.commit, functions=mined.functions, pairs=pairs, warnings=list(mined.warnings)
    )


def evaluate_model(
    encoder: Encoder,
    adapter: str | None,
    mined: MinedRepository,
    languages: Sequence[str],
    split: str,
    *,
    config: TrainConfig,
    pools: dict[tuple[str | None, str], Any] | None = None,
    progress: bool = False,
) -> dict[str, LanguageEvaluation]:
    """Metrics and calibration pairs of one model (``adapter`` None: the base) per language on one
    split. ``pools`` memoises pool vectors per (adapter, language) across splits."""
    from embedding.lexical import normalize

    embed = lambda texts: encoder.embed_texts(list(texts), adapter=adapter)  # noqa: E731
    pools = {} if pools is None else pools
    out: dict[str, LanguageEvaluation] = {}
    for lang in languages:
        memo: dict[str, Any] = {}

        def normal(code: str, lang: str = lang, memo: dict[str, Any] = memo) -> Any:
            if code not in memo:
                memo[code] = normalize(lang, code)
            return memo[code]

        if (adapter, lang) not in pools:
            # The pool is the long part of an evaluation (every function of the language): a bar.
            pools[(adapter, lang)] = encoder.embed_texts(
                [fn.code for fn in mined.functions if fn.language == lang], adapter=adapter, progress=progress
            )
        pairs = mined.pairs_of(lang, split)
        out[lang] = evaluate_language(
            embed,
            lang,
            pairs,
            mined.functions,
            split_paths={p.path for p in pairs},
            pool_vectors=pools[(adapter, lang)],
            normalized=normal,
            neighbours=config.calibration_neighbours,
            new_functions=True,
        )
    return out


def evaluate_outcome(
    encoder: Encoder,
    mined: MinedRepository,
    outcome: AdapterOutcome,
    *,
    config: TrainConfig,
    current: str | None = None,
    progress: bool = False,
) -> AdapterOutcome:
    """Score the reference model, the trained adapter (``outcome.name``) and, when given, the
    loaded ``current`` adapter on both held-out splits, and record the splits' sizes.

    The reference (the tables' ``"base"``) is what reviews would use without the new adapter: the
    shipped adapter the training started from when one is loaded (the language adapter serving its
    language, else the general code adapter), else the bare base, so the gate asks whether the
    repository's adapter beats what the repository already has."""
    reference = encoder.fallback_adapter(outcome.name)  # a language's shipped adapter; for "shared", the general one
    outcome.reference = encoder.version_of(reference)
    models: dict[str, str | None] = {"base": reference, "adapter": outcome.name}
    if current is not None:
        models["current"] = current
    pools: dict[tuple[str | None, str], Any] = {}  # the pool is embedded once per model and language
    for split in SPLITS:
        table = outcome.validation if split == "validation" else outcome.test
        for model, adapter in models.items():
            table[model] = evaluate_model(
                encoder, adapter, mined, outcome.languages, split, config=config, pools=pools, progress=progress
            )
        outcome.split_sizes[split] = {lang: split_queries(mined.pairs_of(lang, split)) for lang in outcome.languages}
        for lang, counts in outcome.split_sizes[split].items():
            if counts["text2code"] < config.min_split_queries:
                outcome.notes.append(
                    f"{split} split: only {counts['text2code']} text→code queries for {lang} (at least "
                    f"{config.min_split_queries} wanted; the split took up to "
                    f"{round(100 * config.max_split_fraction)}% of the files), so its intervals are wide"
                )
    return outcome


# --- calibration and the gate (pure over evaluations) ---------------------------------------------
def compare_outcome(outcome: AdapterOutcome, config: TrainConfig) -> AdapterOutcome:
    """Paired bootstrap intervals: adapter against base (and against the current adapter) on the
    gate's figure, and adapter against base per language and task, on both splits."""
    for split in SPLITS:
        table = outcome.validation if split == "validation" else outcome.test
        if "adapter" not in table or "base" not in table:
            continue
        row = {
            "vs_base": compare(table["base"], table["adapter"], resamples=config.bootstrap_resamples, seed=config.seed)
        }
        if "current" in table:
            row["vs_current"] = compare(
                table["current"], table["adapter"], resamples=config.bootstrap_resamples, seed=config.seed
            )
        outcome.intervals[split] = row
        outcome.task_intervals[split] = {
            lang: {task: b for task, b in tasks.items()}
            for lang, tasks in compare_tasks(
                table["base"], table["adapter"], resamples=config.bootstrap_resamples, seed=config.seed
            ).items()
        }
    return outcome


def _labelled(evaluations: Mapping[str, LanguageEvaluation]) -> list[LabelledPair]:
    return [p for ev in evaluations.values() for p in ev.labelled]


def _new_functions(evaluations: Mapping[str, LanguageEvaluation]) -> list[LabelledPair]:
    return [p for ev in evaluations.values() for p in ev.new_functions]


def calibrate_outcome(
    outcome: AdapterOutcome, config: TrainConfig, extra: Sequence[LabelledPair] = ()
) -> AdapterOutcome:
    """Thresholds on the combined score (cosine blended with lexical similarity at
    ``config.lexical_weight``) from the validation split's copies against their nearest non-copy
    neighbours (plus ``extra`` labelled pairs), and their precision and recall on the test split.
    ``calibration_table`` adds the same for the base model and for cosine alone, for the report."""
    for model in ("base", "adapter"):
        for scoring, weight in (("cosine", 0.0), ("combined", config.lexical_weight)):
            pairs = _labelled(outcome.validation.get(model, {})) + list(extra if model == "adapter" else ())
            fitted = calibrate_labelled(
                pairs,
                target_precision=config.target_precision,
                related_precision=config.related_precision,
                lexical_weight=weight,
            )
            if fitted is None:
                continue
            row = {
                "thresholds": fitted.to_dict(),
                "test": apply_labelled(_labelled(outcome.test.get(model, {})), fitted),
            }
            outcome.calibration_table.setdefault(model, {})[scoring] = row
            if model == "adapter" and scoring == "combined":
                outcome.thresholds = fitted
                outcome.test_calibration = row["test"]
    return outcome


def refit_verdict(
    outcome: AdapterOutcome,
    config: TrainConfig,
    *,
    in_force: Verdict,
    base_verdict: Verdict,
    extra: Sequence[LabelledPair] = (),
) -> AdapterOutcome:
    """Fit the verdict for the adapter's vectors on the validation split's copies (history and
    synthetic, plus ``extra``) and their nearest non-copy neighbours, never looser on them than the
    base model's verdict is on the base model's neighbours; judge it on the test split, and compare
    it with ``in_force`` (the verdict reviews use today) on the same calibration set."""
    calibration = _labelled(outcome.validation.get("adapter", {})) + list(extra)
    test = _labelled(outcome.test.get("adapter", {}))
    try:
        verdict = fit_verdict(
            calibration,
            FitOptions(duplicate_false_alarms=config.verdict_false_alarms),
            source=f"adapter:{outcome.name}",
            fitted={"on": "validation split: history + synthetic copies, nearest non-copy neighbours"},
        )
    except NotEnoughPairsError as exc:
        log.info("retrain.verdict_kept adapter=%s reason=%s", outcome.name, exc)
        return outcome
    base_pairs = _labelled(outcome.validation.get("base", {}))
    if base_pairs:
        # The budget is the smaller of the configured share and what the base model flags.
        allowed = min(config.verdict_false_alarms, judge(base_verdict, base_pairs).false_alarms)
        negatives = [p for p in calibration if not p.positive and not p.identical]
        if negatives and allowed < config.verdict_false_alarms:
            tighter = cutoff_for_false_alarms(unit_maxima(verdict, negatives), allowed)
            if tighter > verdict.duplicate:
                verdict = verdict.with_cutoffs(duplicate=min(1.0, tighter), related=verdict.related)
    outcome.verdict = verdict
    if test:
        outcome.verdict_test = judge(verdict, test).to_dict()
    outcome.verdict_change = before_after(in_force, verdict, calibration)
    log.info("retrain.verdict adapter=%s\n%s", outcome.name, outcome.verdict_change)
    return outcome


def alarm_check(
    base: Mapping[str, LanguageEvaluation],
    base_verdict: Verdict,
    candidate: Mapping[str, LanguageEvaluation],
    candidate_verdict: Verdict,
) -> AlarmCheck:
    """Genuinely new functions flagged as duplicates of their nearest non-copy neighbour, with the
    base model's vectors and verdict against the candidate's, on the same functions."""
    mine = judge(candidate_verdict, _new_functions(candidate))
    theirs = judge(base_verdict, _new_functions(base))
    functions = max(mine.negatives, theirs.negatives)
    return AlarmCheck(
        candidate=round(mine.false_alarms * mine.negatives),
        base=round(theirs.false_alarms * theirs.negatives),
        functions=functions,
    )


def candidate_verdict(outcome: AdapterOutcome, base_verdict: Verdict) -> Verdict:
    """The verdict reviews would use with the candidate: its refitted one, else the default."""
    return outcome.verdict if outcome.verdict is not None else base_verdict


def decide(outcome: AdapterOutcome, config: TrainConfig, *, base_verdict: Verdict) -> GateDecision:
    """The gate on the validation split (``registry.promotion_gate``); fills ``outcome.alarms``."""
    verdict = candidate_verdict(outcome, base_verdict)
    for split in SPLITS:
        table = outcome.validation if split == "validation" else outcome.test
        if "base" in table and "adapter" in table:
            outcome.alarms[split] = alarm_check(table["base"], base_verdict, table["adapter"], verdict)
    intervals = outcome.intervals.get("validation", {})
    vs_base = intervals.get("vs_base") or compare({}, {})
    return promotion_gate(
        vs_base, intervals.get("vs_current"), margin=config.promotion_margin, alarms=outcome.alarms.get("validation")
    )


# --- the promoter --------------------------------------------------------------------------------
class Promoter:
    """Files candidates in the registry and switches a repository to a new adapter generation."""

    def __init__(self, registry: AdapterRegistry, *, reindexer: Reindexer | None = None) -> None:
        self.registry = registry
        self.generations = Generations(registry)
        self.reindexer = reindexer

    def register(
        self,
        encoder: Encoder,
        repo: RepoRef,
        mined: MinedRepository,
        outcome: AdapterOutcome,
        *,
        lora: LoraSpec,
        config: TrainConfig,
    ) -> AdapterRecord:
        """Save the trained adapter with its metadata as the next version: ``candidate`` when the
        gate promotes it, ``rejected`` (kept, with its metrics and the gate's reason) otherwise."""
        assert outcome.decision is not None
        staged = self.registry.staging_dir(repo, outcome.name)
        metadata = {
            "language": outcome.name,
            "languages": outcome.languages,
            "commit": mined.commit,
            "data": pair_statistics(p for lang in outcome.languages for p in mined.pairs_of(lang)),
            "metrics": outcome.metrics_dict(),
            "intervals": outcome.intervals_dict(),
            "false_alarms": {split: check.to_dict() for split, check in outcome.alarms.items()},
            "compared_with": outcome.reference,
            "train": outcome.train.to_dict() if outcome.train else None,
            # The verdict reviews use for this adapter's vectors (embedding.verdict.verdict_for).
            "verdict": outcome.verdict.to_dict() if outcome.verdict else None,
            "calibration": {
                "validation": outcome.thresholds.to_dict() if outcome.thresholds else None,
                "test": outcome.test_calibration,
            },
        }
        try:
            save_trained_adapter(encoder, outcome.name, staged, lora, config, metadata)
            record = self.registry.register(repo, outcome.name, staged, metadata)
        except BaseException:
            self.registry.discard_staging(staged)
            raise
        status = "candidate" if outcome.decision.promote else "rejected"
        record = self.registry.set_status(repo, outcome.name, record.version, status, outcome.decision.reason)
        log.info(
            "retrain.gate adapter=%s version=%s promote=%s reason=%s",
            outcome.name,
            record.version,
            outcome.decision.promote,
            outcome.decision.reason,
        )
        return record

    def promote(self, repo: RepoRef, outcomes: Sequence[AdapterOutcome]) -> Pointer | None:
        """Switch ``repo`` to the generation with every promoted outcome's version (the others'
        current versions kept): re-indexed into a new collection first when there is a reindexer."""
        winners = {o.name: o.record.version for o in outcomes if o.decision and o.decision.promote and o.record}
        if self.reindexer is None:
            return self.generations.switch(repo, winners)
        reindexer = self.reindexer
        return self.generations.switch(
            repo,
            winners,
            build=lambda paths, collection: reindexer.reindex(repo, paths, collection),
            drop=reindexer.drop,
            precision=getattr(reindexer, "precision", "fp32"),  # the precision its encoder embeds with
        )


# --- the loop ------------------------------------------------------------------------------------
class RetrainService:
    """Runs the learning loop for one repository (see the module docstring)."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        encoder_factory: Callable[[], Encoder],
        lora: LoraSpec | None = None,
        registry: AdapterRegistry | None = None,
        reindexer: Reindexer | None = None,
        progress: bool = False,
        base_verdict: Verdict | None = None,
    ) -> None:
        self.config = config
        self.lora = lora or LoraSpec()
        self.encoder_factory = encoder_factory
        self.promoter = Promoter(registry, reindexer=reindexer) if registry is not None else None
        self.progress = progress
        self.base_verdict = base_verdict or default_verdict()

    @property
    def registry(self) -> AdapterRegistry | None:
        return self.promoter.registry if self.promoter is not None else None

    def run(
        self,
        root: Path,
        repo: RepoRef,
        *,
        languages: Sequence[str] | None = None,
        commit: str = "HEAD",
        mined: MinedRepository | None = None,
        extra: ExtraPairs | None = None,
    ) -> RetrainReport:
        from embedding.training.distributed import is_main_process

        started = time.perf_counter()
        mined = resize_splits(
            mined or mine_repository(root, self.config, languages=languages, commit=commit), self.config
        )
        extra = extra or ExtraPairs()
        encoder = self.encoder_factory()
        outcomes = [self._one(encoder, mined, repo, name, langs, extra) for name, langs in self.plan(mined)]
        pointer = None
        if self.promoter is not None and is_main_process():
            pointer = self.promoter.promote(repo, outcomes)
        report = RetrainReport(
            repo=repo.slug,
            commit=mined.commit,
            statistics={
                "functions": len(mined.functions),
                "pairs": pair_statistics(mined.pairs),
                "mining": mined.statistics,
            },
            outcomes=outcomes,
            pointer=pointer,
            seconds=time.perf_counter() - started,
        )
        log.info("retrain.done repo=%s adapters=%d seconds=%.0f", repo.slug, len(outcomes), report.seconds)
        return report

    def plan(self, mined: MinedRepository) -> list[tuple[str, list[str]]]:
        """Adapters to train: each language with enough training pairs, plus the shared one over all."""
        counts = {lang: len(mined.pairs_of(lang, "train")) for lang in mined.languages()}
        plan = [(lang, [lang]) for lang, n in sorted(counts.items()) if n >= self.config.min_pairs_per_language]
        total = sum(counts.values())
        if (
            self.config.train_shared
            and total >= self.config.min_pairs_per_language
            and len([c for c in counts.values() if c]) > 1
        ):
            plan.append((SHARED, sorted(lang for lang, n in counts.items() if n)))
        for lang, n in sorted(counts.items()):
            if n < self.config.min_pairs_per_language:
                log.info("retrain.language_too_small language=%s train_pairs=%d", lang, n)
        return plan

    def _one(
        self,
        encoder: Encoder,
        mined: MinedRepository,
        repo: RepoRef,
        name: str,
        languages: list[str],
        extra: ExtraPairs,
    ) -> AdapterOutcome:
        from embedding.training.distributed import is_main_process, wait_for_all

        outcome = AdapterOutcome(name=name, languages=languages)
        train_pairs = [p for lang in languages for p in mined.pairs_of(lang, "train")] + extra.training_for(languages)
        functions = [*mined.functions, *extra.negatives_for(languages)]
        outcome.train = train_adapter(
            encoder, name, train_pairs, self.config, self.lora, functions=functions, progress=self.progress
        )
        if not is_main_process():
            # Under torchrun the other processes only train; the first one evaluates and registers.
            wait_for_all()
            return outcome
        current = self._load_current(encoder, repo, name)
        evaluate_outcome(encoder, mined, outcome, config=self.config, current=current, progress=self.progress)
        labelled = extra.labelled_for(languages, lambda texts: encoder.embed_texts(list(texts), adapter=name))
        compare_outcome(outcome, self.config)
        calibrate_outcome(outcome, self.config, labelled)
        reference = self._reference_verdict(encoder, name)
        in_force = self._verdict_in_force(encoder, current, reference)
        refit_verdict(outcome, self.config, in_force=in_force, base_verdict=reference, extra=labelled)
        outcome.decision = decide(outcome, self.config, base_verdict=reference)
        if self.promoter is not None:
            outcome.record = self.promoter.register(encoder, repo, mined, outcome, lora=self.lora, config=self.config)
        wait_for_all()
        return outcome

    def _load_current(self, encoder: Encoder, repo: RepoRef, name: str) -> str | None:
        """Load the repository's current adapter of this name (to compare with), if any."""
        generation = self.promoter.generations.current(repo) if self.promoter is not None else None
        if generation is None or name not in generation.paths:
            return None
        current = f"{name}-current"
        encoder.load_adapter(current, generation.paths[name])
        return current

    def _reference_verdict(self, encoder: Encoder, name: str) -> Verdict:
        """The verdict of adapter ``name``'s reference model (``evaluate_outcome``): the shipped
        adapter's own when one is loaded, else the base model's."""
        reference = encoder.fallback_adapter(name)
        if reference is None:
            return self.base_verdict
        return stored_verdict(
            reference, encoder.adapter_metadata(reference), legacy_lexical_weight=self.config.lexical_weight
        )

    def _verdict_in_force(self, encoder: Encoder, current: str | None, reference: Verdict) -> Verdict:
        if current is None:
            return reference
        return stored_verdict(
            current, encoder.adapter_metadata(current), legacy_lexical_weight=self.config.lexical_weight
        )


class IndexReindexer:
    """``Reindexer`` over ``IndexService``: indexes ``source`` at ``commit`` into a new collection
    with an encoder that carries exactly the given adapters, on a shared ``VectorIndex``."""

    def __init__(
        self,
        settings: Settings,
        index: VectorIndex,
        source: GitSource,
        commit: str,
        *,
        encoder_factory: Callable[[Mapping[str, Path]], Encoder] | None = None,
    ) -> None:
        self.settings = settings
        self.precision = settings_precision(settings.inference_precision, settings.device)  # names the collection
        self.index = index
        self.source = source
        self.commit = commit
        self.encoder_factory = encoder_factory or (lambda adapters: encoder_with_adapters(settings, adapters))

    def reindex(self, repo: RepoRef, adapters: Mapping[str, Path], collection: str) -> None:
        from workers.services.indexing import IndexService

        encoder = self.encoder_factory(adapters)
        stats = IndexService(self.settings, encoder, self.index, progress=False).index_commit(
            self.source, repo, self.commit, collection=collection
        )
        log.info("retrain.reindexed repo=%s collection=%s functions=%d", repo.slug, collection, stats.functions)

    def drop(self, collection: str) -> None:
        if self.index.collection_exists(collection):
            self.index.drop_collection(collection)


__all__ = [
    "SHARED",
    "TASKS",
    "AdapterOutcome",
    "ExtraPairs",
    "IndexReindexer",
    "Promoter",
    "Reindexer",
    "RetrainReport",
    "RetrainService",
    "alarm_check",
    "calibrate_outcome",
    "compare_outcome",
    "decide",
    "evaluate_model",
    "evaluate_outcome",
    "refit_verdict",
    "resize_splits",
]
