"""Retraining a repository's adapters: mine → train → evaluate → calibrate → gate → register/promote.

Pure of Celery: a nightly task builds a ``RetrainService`` with its collaborators and calls
``run``. The encoder comes from a factory (a fresh base model per run), the registry files
versions, and re-indexing goes through a ``Reindexer`` so that the switch to new adapters is
testable without a vector store: promoted adapters are indexed into a NEW collection, the
registry's pointer then names adapters and collection together in one atomic write, and only then
is the old collection dropped. Vectors of two adapter generations are never searched together.

The gate compares validation MRR (mean of text→code and code→code) of the candidate with the
base model's and with the current adapter's, all measured now on the same validation split.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.domain import RepoRef
from embedding.calibration import Thresholds, calibrate, combined_scores, precision_recall, recall_by_type
from embedding.evaluation import LanguageEvaluation, evaluate_language
from embedding.registry import AdapterRecord, AdapterRegistry, GateDecision, Pointer, promotion_gate
from embedding.training.config import LoraSpec, TrainConfig
from embedding.training.mining import MinedRepository, mine_repository
from embedding.training.pairs import pair_statistics
from embedding.training.trainer import TrainResult, save_trained_adapter, train_adapter
from embedding.verdict import Verdict, stored_verdict
from embedding.verdict_fit import FitOptions, NotEnoughPairsError, before_after, fit_verdict, judge

if TYPE_CHECKING:
    from core.settings import Settings
    from embedding.encoder import Encoder
    from embedding.index.base import VectorIndex
    from embedding.source import GitSource

log = logging.getLogger(__name__)
SHARED = "shared"


class Reindexer(Protocol):
    """Builds a collection with given adapters and drops old ones (an ``IndexService`` behind it)."""

    def reindex(self, repo: RepoRef, adapters: Mapping[str, Path], collection: str) -> None: ...

    def drop(self, collection: str) -> None: ...


@dataclass
class AdapterOutcome:
    """One adapter's run: training, metrics of base and adapter per language and split, thresholds, verdict."""

    name: str
    languages: list[str]
    train: TrainResult | None = None
    validation: dict[str, dict[str, LanguageEvaluation]] = field(default_factory=dict)  # model → language → eval
    test: dict[str, dict[str, LanguageEvaluation]] = field(default_factory=dict)
    thresholds: Thresholds | None = None
    test_calibration: dict[str, Any] = field(default_factory=dict)
    # model → "cosine" | "combined" → thresholds calibrated on validation, applied to the test split
    calibration_table: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    decision: GateDecision | None = None
    record: AdapterRecord | None = None
    skipped: str | None = None
    # The verdict refitted for this adapter's vectors on the validation split's copies and their
    # nearest non-copy neighbours (None: too few pairs, the default verdict applies), how it does on
    # the test split, and the calibration set judged by the verdict in force before and by this one.
    verdict: Verdict | None = None
    verdict_test: dict[str, Any] = field(default_factory=dict)
    verdict_change: str = ""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "languages": self.languages,
            "skipped": self.skipped,
            "train": self.train.to_dict() if self.train else None,
            "metrics": self.metrics_dict(),
            "thresholds": self.thresholds.to_dict() if self.thresholds else None,
            "test_calibration": self.test_calibration,
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


def _scores(evaluations: Sequence[LanguageEvaluation], weight: float) -> tuple[list[float], list[float]]:
    """Clone and non-clone scores of ``evaluations`` at lexical ``weight`` (0: cosines alone)."""
    positives: list[float] = []
    negatives: list[float] = []
    for ev in evaluations:
        cosines = [score for score, _ in ev.clone_scores]
        positives += combined_scores(cosines, ev.clone_lexical if weight else None, weight)
        negatives += combined_scores(ev.non_clone_scores, ev.non_clone_lexical if weight else None, weight)
    return positives, negatives


def collection_for(repo: RepoRef, adapters: Mapping[str, str]) -> str:
    """A collection name per adapter set: the repository's name plus a hash of its versions."""
    key = ",".join(f"{k}={v}" for k, v in sorted(adapters.items()))
    return repo.generation_collection(hashlib.sha256(key.encode()).hexdigest()[:8])


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
    ) -> None:
        self.config = config
        self.lora = lora or LoraSpec()
        self.encoder_factory = encoder_factory
        self.registry = registry
        self.reindexer = reindexer
        self.progress = progress

    # --- the whole loop ----------------------------------------------------------------------
    def run(
        self,
        root: Path,
        repo: RepoRef,
        *,
        languages: Sequence[str] | None = None,
        commit: str = "HEAD",
        mined: MinedRepository | None = None,
    ) -> RetrainReport:
        started = time.perf_counter()
        mined = mined or mine_repository(root, self.config, languages=languages, commit=commit)
        encoder = self.encoder_factory()
        outcomes = [self._one(encoder, mined, repo, name, langs) for name, langs in self.plan(mined)]
        from embedding.training.distributed import is_main_process

        pointer = self._promote(repo, outcomes) if self.registry is not None and is_main_process() else None
        report = RetrainReport(
            repo=repo.slug,
            commit=mined.commit,
            statistics={"functions": len(mined.functions), "pairs": pair_statistics(mined.pairs)},
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

    # --- one adapter -------------------------------------------------------------------------
    def _one(
        self, encoder: Encoder, mined: MinedRepository, repo: RepoRef, name: str, languages: list[str]
    ) -> AdapterOutcome:
        from embedding.training.distributed import is_main_process, wait_for_all

        outcome = AdapterOutcome(name=name, languages=languages)
        train_pairs = [p for lang in languages for p in mined.pairs_of(lang, "train")]
        outcome.train = train_adapter(
            encoder, name, train_pairs, self.config, self.lora, functions=mined.functions, progress=self.progress
        )
        if not is_main_process():
            # Under torchrun the other processes only train; the first one evaluates and registers.
            wait_for_all()
            return outcome
        outcome = self._evaluate_and_register(encoder, mined, repo, outcome)
        wait_for_all()
        return outcome

    def _evaluate_and_register(
        self, encoder: Encoder, mined: MinedRepository, repo: RepoRef, outcome: AdapterOutcome
    ) -> AdapterOutcome:
        name, languages = outcome.name, outcome.languages
        models: dict[str, str | None] = {"base": None, "adapter": name}
        current = self.registry.current(repo, name) if self.registry is not None else None
        if current is not None:
            current_name = f"{name}-current"
            encoder.load_adapter(current_name, current.path)
            models["current"] = current_name
        pools: dict[tuple[str | None, str], Any] = {}  # the pool is embedded once per model and language
        for split in ("validation", "test"):
            table = outcome.validation if split == "validation" else outcome.test
            for model, adapter in models.items():
                table[model] = self.evaluate(encoder, adapter, mined, languages, split, pools=pools)
        self._calibrate(outcome)
        self._refit_verdict(outcome, encoder, current_name if current is not None else None)
        if self.registry is not None:
            base = outcome.mean_mrr("validation", "base") or 0.0
            candidate = outcome.mean_mrr("validation", "adapter") or 0.0
            now_current = outcome.mean_mrr("validation", "current")
            outcome.decision = promotion_gate(candidate, base, now_current, margin=self.config.promotion_margin)
            outcome.record = self._register(encoder, repo, mined, outcome)
        return outcome

    def evaluate(
        self,
        encoder: Encoder,
        adapter: str | None,
        mined: MinedRepository,
        languages: Sequence[str],
        split: str,
        *,
        pools: dict[tuple[str | None, str], Any] | None = None,
    ) -> dict[str, LanguageEvaluation]:
        """Metrics of one model (``adapter`` None: the base) per language on one split.

        ``pools`` memoises pool vectors per (adapter, language) across splits.
        """
        from embedding.lexical import normalize, similarity

        embed = lambda texts: encoder.embed_texts(list(texts), adapter=adapter)  # noqa: E731
        pools = {} if pools is None else pools
        out: dict[str, LanguageEvaluation] = {}
        for lang in languages:
            normalized: dict[str, Any] = {}

            def normal(code: str, lang: str = lang, memo: dict[str, Any] = normalized) -> Any:
                if code not in memo:
                    memo[code] = normalize(lang, code)
                return memo[code]

            def lexical(a: str, b: str) -> float:
                return similarity(normal(a), normal(b))

            if (adapter, lang) not in pools:
                # The pool is the long part of an evaluation (every function of the language): a bar.
                pools[(adapter, lang)] = encoder.embed_texts(
                    [fn.code for fn in mined.functions if fn.language == lang], adapter=adapter, progress=self.progress
                )
            pairs = mined.pairs_of(lang, split)
            paths = {p.path for p in pairs}
            out[lang] = evaluate_language(
                embed,
                lang,
                pairs,
                mined.functions,
                negative_paths=paths,
                negatives=self.config.negatives_per_positive * sum(1 for p in pairs if p.source == "synthetic"),
                seed=self.config.seed,
                pool_vectors=pools[(adapter, lang)],
                lexical=lexical,
                normalized=normal,
            )
        return out

    def _calibrate(self, outcome: AdapterOutcome) -> None:
        """Thresholds on the combined score (cosine blended with lexical similarity at
        ``config.lexical_weight``, as the review scores pairs) from the validation split's clones;
        their precision and recall on the test split. ``calibration_table`` adds the same for the
        base model and for cosine alone, for the report."""
        for model in ("base", "adapter"):
            for scoring, weight in (("cosine", 0.0), ("combined", self.config.lexical_weight)):
                fitted = self._fit(outcome.validation.get(model, {}).values(), weight)
                if fitted is None:
                    continue
                row = {
                    "thresholds": fitted.to_dict(),
                    "test": self._apply(outcome.test.get(model, {}).values(), fitted),
                }
                outcome.calibration_table.setdefault(model, {})[scoring] = row
                if model == "adapter" and scoring == "combined":
                    outcome.thresholds = fitted
                    outcome.test_calibration = row["test"]

    def _refit_verdict(self, outcome: AdapterOutcome, encoder: Encoder, current: str | None) -> None:
        """Fit the verdict for the adapter's vectors on the validation split's copies (history and
        synthetic) and their nearest non-copy neighbours, judge it on the test split, and compare it
        with the verdict reviews use today on the same calibration set (logged and reported)."""
        calibration = [p for ev in outcome.validation.get("adapter", {}).values() for p in ev.labelled]
        test = [p for ev in outcome.test.get("adapter", {}).values() for p in ev.labelled]
        try:
            outcome.verdict = fit_verdict(
                calibration,
                FitOptions(duplicate_false_alarms=self.config.verdict_false_alarms),
                source=f"adapter:{outcome.name}",
                fitted={"on": "validation split: history + synthetic copies, nearest non-copy neighbours"},
            )
        except NotEnoughPairsError as exc:
            log.info("retrain.verdict_kept adapter=%s reason=%s", outcome.name, exc)
            return
        if test:
            outcome.verdict_test = judge(outcome.verdict, test).to_dict()
        in_force = self._verdict_in_force(encoder, current)
        outcome.verdict_change = before_after(in_force, outcome.verdict, calibration)
        log.info("retrain.verdict adapter=%s\n%s", outcome.name, outcome.verdict_change)

    def _verdict_in_force(self, encoder: Encoder, current: str | None) -> Verdict:
        metadata = encoder.adapter_metadata(current) if current is not None else {}
        return stored_verdict(current, metadata, legacy_lexical_weight=self.config.lexical_weight)

    def _fit(self, evaluations: Any, weight: float) -> Thresholds | None:
        evaluations = list(evaluations)
        positives, negatives = _scores(evaluations, weight)
        if not positives:
            return None
        return calibrate(
            positives,
            negatives,
            target_precision=self.config.target_precision,
            related_precision=self.config.related_precision,
            lexical_weight=weight,
        )

    @staticmethod
    def _apply(evaluations: Any, thresholds: Thresholds) -> dict[str, Any]:
        evaluations = list(evaluations)
        positives, negatives = _scores(evaluations, thresholds.lexical_weight)
        if not positives:
            return {}
        kinds = [kind for ev in evaluations for _, kind in ev.clone_scores]
        precision, recall = precision_recall(positives, negatives, thresholds.duplicate)
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "recall_by_type": recall_by_type(zip(positives, kinds, strict=True), thresholds.duplicate),
            "positives": len(positives),
            "negatives": len(negatives),
        }

    def _register(
        self, encoder: Encoder, repo: RepoRef, mined: MinedRepository, outcome: AdapterOutcome
    ) -> AdapterRecord:
        assert self.registry is not None and outcome.decision is not None
        staged = self.registry.staging_dir(repo, outcome.name)
        metadata = {
            "language": outcome.name,
            "languages": outcome.languages,
            "commit": mined.commit,
            "data": pair_statistics(p for lang in outcome.languages for p in mined.pairs_of(lang)),
            "metrics": outcome.metrics_dict(),
            "train": outcome.train.to_dict() if outcome.train else None,
            # The verdict reviews use for this adapter's vectors (embedding.verdict.verdict_for).
            "verdict": outcome.verdict.to_dict() if outcome.verdict else None,
            "calibration": {
                "validation": outcome.thresholds.to_dict() if outcome.thresholds else None,
                "test": outcome.test_calibration,
            },
        }
        try:
            save_trained_adapter(encoder, outcome.name, staged, self.lora, self.config, metadata)
            record = self.registry.register(repo, outcome.name, staged, metadata)
        except BaseException:
            self.registry.discard_staging(staged)
            raise
        if not outcome.decision.promote:
            record = self.registry.set_status(repo, outcome.name, record.version, "rejected", outcome.decision.reason)
        else:
            record = self.registry.set_status(repo, outcome.name, record.version, "candidate", outcome.decision.reason)
        log.info(
            "retrain.gate adapter=%s version=%s promote=%s reason=%s",
            outcome.name,
            record.version,
            outcome.decision.promote,
            outcome.decision.reason,
        )
        return record

    def _promote(self, repo: RepoRef, outcomes: Sequence[AdapterOutcome]) -> Pointer | None:
        """Re-index with the promoted adapters into a new collection, switch the pointer, drop the old one.

        The old collection is the pointer's, or ``repo.collection_name`` (built with the base model
        or ``DOPPEL_ADAPTER_DIR``) before the first promotion. A failed re-index drops the half-built
        collection and leaves the pointer as it was. Without a reindexer the pointer names no
        collection: search falls back to ``repo.collection_name``, which the next index run rebuilds.
        """
        assert self.registry is not None
        winners = {o.name: o.record.version for o in outcomes if o.decision and o.decision.promote and o.record}
        if not winners:
            return None
        before = self.registry.pointer(repo)
        adapters = {**before.adapters, **winners}
        if self.reindexer is None:
            return self.registry.switch(repo, adapters, None)
        collection = collection_for(repo, adapters)
        paths = {lang: self.registry.language_dir(repo, lang) / version for lang, version in adapters.items()}
        try:
            self.reindexer.reindex(repo, paths, collection)
        except BaseException:
            log.exception("retrain.reindex_failed repo=%s collection=%s", repo.slug, collection)
            self.reindexer.drop(collection)
            raise
        pointer = self.registry.switch(repo, adapters, collection)
        old = before.collection or repo.collection_name
        if old != collection:
            self.reindexer.drop(old)
        log.info("retrain.switched repo=%s collection=%s adapters=%s", repo.slug, collection, adapters)
        return pointer


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


def encoder_with_adapters(settings: Settings, adapters: Mapping[str, Path]) -> Encoder:
    """The settings' encoder carrying exactly ``adapters`` (name → directory), not ``DOPPEL_ADAPTER_DIR``'s."""
    from embedding.encoder import Encoder

    encoder = Encoder.from_settings(settings.model_copy(update={"adapter_dir": None}))
    for name, path in sorted(adapters.items()):
        encoder.load_adapter(name, path)
    return encoder
