"""``doppel train`` and ``doppel eval``: repository-adaptive LoRA adapters from the terminal.

``train`` mines pairs from a repository (a git checkout, or a plain directory), trains one
adapter per language with enough pairs plus a shared one, scores base and adapter on held-out
files, calibrates thresholds and files the adapters in the registry under the data directory,
promoting those that pass the gate. ``eval`` scores the base model and given adapters on the same
held-out split. Both print a base-vs-adapter table and write a Markdown report with a PNG.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from embedding.training.config import TrainConfig


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class _Flag:
    """A command-line option that sets one field of ``TrainConfig`` (``cls`` "train") or
    ``LoraSpec`` ("lora"); its help is the field's own help text and default (one source)."""

    flag: str
    field: str
    cls: str = "train"
    type: Callable[[str], Any] | None = None  # None: a boolean --x/--no-x
    setting: str | None = None  # the DOPPEL_ setting used when the flag is not given
    extra: str = ""  # what the field's help does not say about the flag

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


_COMMON_FLAGS = (
    _Flag("--max-length", "max_length", type=int, setting="max_length"),
    _Flag("--device", "device", type=str, setting="device"),
    _Flag("--seed", "seed", type=int),
    _Flag("--validation-fraction", "validation_fraction", type=float),
    _Flag("--test-fraction", "test_fraction", type=float),
    _Flag("--min-split-queries", "min_split_queries", type=int),
)
_TRAIN_FLAGS = (
    _Flag("--epochs", "epochs", type=int),
    _Flag("--max-steps", "max_steps", type=int, setting="train_max_steps"),
    _Flag("--batch-size", "batch_size", type=int, setting="train_batch_size"),
    _Flag("--learning-rate", "learning_rate", type=float),
    _Flag("--temperature", "temperature", type=float, setting="train_temperature"),
    _Flag("--lora-r", "r", cls="lora", type=int),
    _Flag("--lora-alpha", "alpha", cls="lora", type=int),
    _Flag("--lora-dropout", "dropout", cls="lora", type=float),
    _Flag("--hard-negatives", "hard_negatives"),
    _Flag("--synthetic-ratio", "synthetic_ratio", type=float, extra="A negative value: no cap."),
    _Flag("--identifier-pairs", "identifier_pairs"),
    _Flag("--min-pairs", "min_pairs_per_language", type=int, setting="train_min_pairs_per_language"),
    _Flag("--margin", "promotion_margin", type=float, setting="train_promotion_margin"),
    _Flag("--bootstrap-resamples", "bootstrap_resamples", type=int),
)


def _field_help(flag: _Flag) -> str:
    """The flag's help: the field's help text, its default, and the setting that overrides it."""
    from embedding.training.config import LoraSpec, TrainConfig, field_default, field_help

    cls = LoraSpec if flag.cls == "lora" else TrainConfig
    text = field_help(cls)[flag.field]
    default = field_default(cls, flag.field)
    where = f"{cls.__name__}.{flag.field} = {default!r}"
    if flag.setting:
        where = f"DOPPEL_{flag.setting.upper()} when set, else {where}"
    parts = [text, flag.extra, f"(default: {where})"]
    return " ".join(part for part in parts if part).replace("%", "%%")  # argparse formats help with %


def _add_flags(parser: argparse.ArgumentParser, flags: tuple[_Flag, ...]) -> None:
    for flag in flags:
        if flag.type is None:
            parser.add_argument(flag.flag, action=argparse.BooleanOptionalAction, default=None, help=_field_help(flag))
        else:
            parser.add_argument(flag.flag, type=flag.type, help=_field_help(flag))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "path", nargs="?", default=".", type=Path, help="repository or directory (default: current directory)"
    )
    common.add_argument("--languages", type=_csv, help="comma-separated languages (default: every one found)")
    common.add_argument("--repo", metavar="NAME", help="repository name in the registry (default: derived from PATH)")
    common.add_argument("--data-dir", type=Path, help="override DOPPEL_DATA_DIR for this run")
    common.add_argument(
        "--report", type=Path, metavar="DIR", help="where to write report.md, report.png and report.json"
    )
    _add_flags(common, _COMMON_FLAGS)
    common.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = subparsers.add_parser(
        "train", parents=[common], help="train repository-specific LoRA adapters",
        description="Mine pairs from the repository, train a LoRA adapter per language (and a shared one), "
        "evaluate base vs adapter on held-out files, calibrate thresholds and promote adapters that pass the gate.",
    )  # fmt: skip
    # Unset flags fall back to the DOPPEL_TRAIN_* settings, then to the TrainConfig/LoraSpec defaults.
    _add_flags(p, _TRAIN_FLAGS)
    p.add_argument(
        "--no-reindex", action="store_true",
        help="do not re-index a git checkout with promoted adapters (the pointer then names no collection)",
    )  # fmt: skip
    p.add_argument("--no-shared", action="store_true", help="do not train the shared adapter")
    p.add_argument(
        "--export",
        type=Path,
        metavar="DIR",
        help="copy the promoted adapters to DIR/<language> (for DOPPEL_ADAPTER_DIR)",
    )
    p.set_defaults(handler=run_train)

    p = subparsers.add_parser(
        "eval", parents=[common], help="score base model and adapters on held-out files",
        description="MRR, Recall@1/5/10 and nDCG@10 of text→code and code→code retrieval on the held-out test split, "
        "base model and adapters side by side, every MRR delta with its paired bootstrap 95% interval.",
    )  # fmt: skip
    p.add_argument(
        "--adapter", type=Path, action="append", default=[],
        help="adapter directory (adapter_config.json inside) or a directory of them, one per language; repeatable. "
        "Default: the repository's current adapters in the registry",
    )  # fmt: skip
    p.add_argument("--split", choices=("validation", "test"), default="test", help="held-out split (default: test)")
    p.set_defaults(handler=run_eval)


def _settings(args: argparse.Namespace) -> Any:
    from core.settings import load_settings

    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    return load_settings(**overrides)


def _config(args: argparse.Namespace, settings: Any) -> TrainConfig:
    from embedding.training.config import TrainConfig

    flags = _COMMON_FLAGS + (_TRAIN_FLAGS if args.handler is run_train else ())
    values: dict[str, Any] = {f.field: getattr(args, f.dest) for f in flags if f.cls == "train"}
    if args.handler is run_train:
        values["train_shared"] = not args.no_shared
    try:
        return TrainConfig.from_settings(settings, **values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _lora(args: argparse.Namespace) -> Any:
    from embedding.training.config import LoraSpec

    chosen = {f.field: getattr(args, f.dest, None) for f in _TRAIN_FLAGS if f.cls == "lora"}
    try:
        return LoraSpec(**{name: value for name, value in chosen.items() if value is not None})
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _encoder_factory(settings: Any, config: TrainConfig) -> Any:
    from embedding.encoder import Encoder

    return lambda: Encoder(
        settings.base_model, max_length=config.max_length, batch_size=settings.batch_size, device=config.device
    )


def _repo(args: argparse.Namespace) -> Any:
    from workers.services.wiring import local_repo_ref

    return local_repo_ref(args.path, args.repo)


def interval_lines(data: dict[str, Any]) -> list[str]:
    """One line per MRR delta with its paired bootstrap 95% interval, and the notes on small splits."""
    lines: list[str] = []
    for adapter in data.get("adapters", []):
        for split, row in (adapter.get("intervals") or {}).items():
            for name, label in (("vs_base", "the base model"), ("vs_current", "the current adapter")):
                if b := row.get(name):
                    lines.append(f"{adapter['name']} {split}, mean MRR against {label}: {_describe(b)}")
            for language, tasks in sorted((row.get("by_language") or {}).items()):
                for task, b in sorted(tasks.items()):
                    lines.append(f"{adapter['name']} {split}, {language} {task}: {_describe(b)}")
        lines += [f"{adapter['name']}: {note}" for note in adapter.get("notes", [])]
    return lines


def _describe(b: dict[str, Any]) -> str:
    relative = f" ({100 * b['relative']:+.1f}%)" if b.get("relative") is not None else ""
    return (
        f"MRR {b['base_mrr']:.4f} → {b['adapter_mrr']:.4f}, Δ {b['delta']:+.4f}{relative}, "
        f"{round(100 * b['confidence'])}% CI [{b['ci_low']:+.4f}, {b['ci_high']:+.4f}], {b['queries']} queries"
    )


def _emit(args: argparse.Namespace, data: dict[str, Any]) -> None:
    from embedding.training.report import adapter_size, markdown_table, write_report

    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        write_report(data, args.report)
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return
    print(markdown_table(data, data.get("split", "test")))
    print()
    for line in interval_lines(data):
        print(line)
    for adapter in data.get("adapters", []):
        if size := adapter_size(adapter.get("train") or {}):
            print(f"{adapter['name']}: {size}")
        for split, alarms in (adapter.get("false_alarms") or {}).items():
            print(
                f"{adapter['name']} {split}: genuinely new functions flagged as duplicates {alarms['candidate']} of "
                f"{alarms['functions']} (base model {alarms['base']})"
            )
        decision = adapter.get("decision")
        if decision:
            verdict = "promoted" if decision["promote"] else "rejected"
            print(f"{adapter['name']}: {adapter.get('version')} {verdict} ({decision['reason']})")
        if adapter.get("verdict_change"):
            # The refitted verdict changes what reviews report: show it on the calibration set.
            changed = "promoted: reviews now use these bars" if (decision or {}).get("promote") else "not promoted"
            print(f"\n{adapter['name']}: the verdict for its vectors, refitted ({changed}; before: the one in force)\n")
            print(adapter["verdict_change"])
    if args.report:
        print(f"report: {args.report / 'report.md'}")


def run_train(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from embedding.registry import AdapterRegistry
    from embedding.training.distributed import join_from_environment
    from workers.services.retrain import RetrainService

    if not args.path.is_dir():
        raise ConfigError(f"{args.path} is not a directory")
    settings = _settings(args)
    config = _config(args, settings)
    rank, world_size, device = join_from_environment(config.device)
    if world_size > 1:  # under torchrun: one device per process, batches sharded, negatives global
        config = config.replace(device=device)
    registry = AdapterRegistry(settings.adapter_registry_root)
    repo = _repo(args)
    with ExitStack() as stack:
        reindexer = None if args.no_reindex or rank != 0 else _reindexer(args.path, settings, stack)
        service = RetrainService(
            config,
            lora=_lora(args),
            encoder_factory=_encoder_factory(settings, config),
            registry=registry,
            reindexer=reindexer,
            progress=args.format == "text",
        )
        report = service.run(args.path, repo, languages=args.languages)
    if rank != 0:
        return 0  # the first process evaluated, registered and reports
    if not report.outcomes:
        counts = report.statistics["pairs"]
        raise ConfigError(
            f"no language has {config.min_pairs_per_language} training pairs (found {counts.get('train', 0)} in all); "
            "lower --min-pairs or train on a larger repository"
        )
    data = report.to_dict()
    data["losses"] = {o.name: o.train.losses if o.train else [] for o in report.outcomes}
    _add_scores(data, {o.name: (o.test, o.verdict) for o in report.outcomes}, "test")
    if args.export and report.pointer is not None:
        from embedding.generation import Generations

        for language, path in Generations(registry).current(repo).paths.items():
            target = args.export / language
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(path, target)
    _emit(args, data)
    return 0


def _reindexer(path: Path, settings: Any, stack: Any) -> Any:
    """An ``IndexReindexer`` over the local index for a git checkout at its HEAD; ``None`` for a
    plain directory (nothing to index: promoted adapters then take effect at the next index run)."""
    from core.errors import GitError
    from embedding.index import open_index
    from embedding.source import GitSource
    from workers.services.retrain import IndexReindexer

    try:
        source = stack.enter_context(GitSource(path))
        commit = source.resolve("HEAD")
    except GitError:
        return None
    index = open_index(settings)
    stack.callback(index.close)
    return IndexReindexer(settings, index, source, commit)


def _adapter_dirs(paths: list[Path]) -> dict[str, Path]:
    from embedding.adapters import ADAPTER_CONFIG, read_metadata

    found: dict[str, Path] = {}
    for path in paths:
        candidates = (
            [path]
            if (path / ADAPTER_CONFIG).is_file()
            else sorted(p for p in path.iterdir() if (p / ADAPTER_CONFIG).is_file())
        )
        if not candidates:
            raise ConfigError(f"--adapter {path}: no adapter_config.json in it or in its sub-directories")
        for candidate in candidates:
            name = str(read_metadata(candidate).get("language") or candidate.name)
            found[name] = candidate
    return found


def run_eval(args: argparse.Namespace) -> int:
    from embedding.generation import Generations
    from embedding.training.mining import mine_repository
    from workers.services.retrain import AdapterOutcome, compare_outcome, evaluate_model, resize_splits

    if not args.path.is_dir():
        raise ConfigError(f"{args.path} is not a directory")
    settings = _settings(args)
    config = _config(args, settings)
    adapters = (
        _adapter_dirs(args.adapter)
        if args.adapter
        else dict(Generations.from_settings(settings).current(_repo(args)).paths)
    )
    mined = resize_splits(mine_repository(args.path, config, languages=args.languages), config)
    encoder = _encoder_factory(settings, config)()
    pools: dict[Any, Any] = {}
    split = args.split
    outcomes = []
    languages = mined.languages()
    tables: dict[str, Any] = {}  # adapter name → (model → language → evaluation, its verdict)
    for name, path in sorted(adapters.items()) or [("base", None)]:
        covered = [name] if name in languages else languages
        outcome = AdapterOutcome(name=name, languages=covered)
        table = outcome.validation if split == "validation" else outcome.test
        tables[name] = (table, None)
        table["base"] = evaluate_model(encoder, None, mined, covered, split, config=config, pools=pools, progress=True)
        if path is None:  # no adapters: the base model alone
            table["adapter"] = table["base"]
        else:
            encoder.load_adapter(name, path)
            table["adapter"] = evaluate_model(encoder, name, mined, covered, split, config=config, pools=pools, progress=True)
            compare_outcome(outcome, config)
        sizes = {lang: counts for lang, counts in _split_sizes(mined, covered, split).items()}
        outcome.split_sizes[split] = sizes
        outcome.notes += [
            f"{split} split: only {n['text2code']} text→code queries for {lang} (at least {config.min_split_queries} "
            f"wanted), so its intervals are wide"
            for lang, n in sizes.items()
            if n["text2code"] < config.min_split_queries
        ]
        row = outcome.to_dict()
        outcomes.append(
            {
                "name": name,
                "languages": covered,
                **({"path": str(path)} if path is not None else {}),
                "metrics": {split: row["metrics"][split]},
                "intervals": row["intervals"],
                "split_sizes": row["split_sizes"],
                "notes": row["notes"],
                **({} if path is not None else {"base_only": True}),
            }
        )
    data = {
        "kind": "eval",  # the report's own template (embedding.training.report.render_eval_markdown)
        "repo": args.repo or args.path.resolve().name,
        "path": str(args.path.resolve()),
        "commit": mined.commit,
        "split": split,
        "base_model": settings.base_model,
        "adapters": outcomes,
    }
    _add_scores(data, tables, split, settings=settings, encoder=encoder)
    _emit(args, data)
    return 0


def _add_scores(
    data: dict[str, Any], tables: dict[str, Any], split: str, *, settings: Any = None, encoder: Any = None
) -> None:
    """Each adapter's calibration plot data: the verdict's scores of the split's copies and of their
    nearest non-copies (``score_distributions``), under the adapter's refitted verdict, else the
    one reviews apply to its vectors now."""
    from embedding.training.report import score_distributions
    from embedding.verdict import default_verdict, verdict_for

    for adapter in data["adapters"]:
        evaluations, verdict = tables.get(adapter["name"], ({}, None))
        if verdict is None and settings is not None and encoder is not None and not adapter.get("base_only"):
            verdict = verdict_for(settings, adapter["name"], encoder.adapter_metadata(adapter["name"]))
        elif verdict is None:
            verdict = verdict_for(settings) if settings is not None else default_verdict()
        base = verdict_for(settings) if settings is not None else default_verdict()
        adapter["scores"] = score_distributions(evaluations, verdict, split=split, base_verdict=base)


def _split_sizes(mined: Any, languages: list[str], split: str) -> dict[str, dict[str, int]]:
    from embedding.evaluation import split_queries

    return {lang: split_queries(mined.pairs_of(lang, split)) for lang in languages}
