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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from embedding.training.config import TrainConfig


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


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
    common.add_argument("--max-length", type=int, help="token limit per text (default: DOPPEL_MAX_LENGTH)")
    common.add_argument("--device", help="'auto', 'cpu' or 'cuda[:N]' (default: DOPPEL_DEVICE)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument(
        "--validation-fraction", type=float, help="share of files held out for validation, the gate (default 0.1)"
    )
    common.add_argument("--test-fraction", type=float, help="share of files held out for the test report (default 0.1)")
    common.add_argument("--format", choices=("text", "json"), default="text")

    p = subparsers.add_parser(
        "train", parents=[common], help="train repository-specific LoRA adapters",
        description="Mine pairs from the repository, train a LoRA adapter per language (and a shared one), "
        "evaluate base vs adapter on held-out files, calibrate thresholds and promote adapters that pass the gate.",
    )  # fmt: skip
    # Unset flags fall back to the DOPPEL_TRAIN_* settings (then to TrainConfig's defaults).
    p.add_argument("--epochs", type=int, help="passes over the training pairs (default 2)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps per adapter")
    p.add_argument("--batch-size", type=int, help="pairs per batch (default: DOPPEL_TRAIN_BATCH_SIZE)")
    p.add_argument("--learning-rate", type=float, help="AdamW peak learning rate (default 1e-3)")
    p.add_argument("--temperature", type=float, help="InfoNCE temperature (default: DOPPEL_TRAIN_TEMPERATURE)")
    p.add_argument("--lora-r", type=int, help="LoRA rank (default 64)")
    p.add_argument("--lora-alpha", type=int, help="LoRA alpha; the update is scaled by alpha / r (default 128)")
    p.add_argument(
        "--hard-negatives", action=argparse.BooleanOptionalAction, default=None,
        help="one function of the same file per pair as an extra negative (default on)",
    )  # fmt: skip
    p.add_argument(
        "--synthetic-ratio", type=float,
        help="code→code training pairs per text→code pair, at most (default 1; a negative value: no cap)",
    )  # fmt: skip
    p.add_argument(
        "--identifier-pairs", action=argparse.BooleanOptionalAction, default=None,
        help="also mine (name and signature words → body) pairs (default off)",
    )  # fmt: skip
    p.add_argument(
        "--min-pairs", type=int,
        help="training pairs a language needs for its own adapter (default: DOPPEL_TRAIN_MIN_PAIRS_PER_LANGUAGE)",
    )  # fmt: skip
    p.add_argument(
        "--margin", type=float, help="validation MRR margin the gate requires (default: DOPPEL_TRAIN_PROMOTION_MARGIN)"
    )
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
        "base model and adapters side by side.",
    )  # fmt: skip
    p.add_argument(
        "--adapter", type=Path, action="append", default=[],
        help="adapter directory (adapter_config.json inside) or a directory of them, one per language; repeatable. "
        "Default: the repository's current adapters in the registry",
    )  # fmt: skip
    p.add_argument("--split", choices=("validation", "test"), default="test")
    p.set_defaults(handler=run_eval)


def _settings(args: argparse.Namespace) -> Any:
    from core.settings import load_settings

    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    return load_settings(**overrides)


def _config(args: argparse.Namespace, settings: Any) -> TrainConfig:
    from embedding.training.config import TrainConfig

    values: dict[str, Any] = {
        "seed": args.seed,
        "max_length": args.max_length,
        "device": args.device,
        "validation_fraction": args.validation_fraction,
        "test_fraction": args.test_fraction,
    }
    if args.handler is run_train:
        values.update(
            hard_negatives=args.hard_negatives,
            identifier_pairs=args.identifier_pairs,
            synthetic_ratio=args.synthetic_ratio,
        )
        values.update(
            epochs=args.epochs,
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            temperature=args.temperature,
            min_pairs_per_language=args.min_pairs,
            promotion_margin=args.margin,
            train_shared=not args.no_shared,
        )
    try:
        return TrainConfig.from_settings(settings, **values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _lora(args: argparse.Namespace) -> Any:
    from embedding.training.config import LoraSpec

    chosen = {"r": args.lora_r, "alpha": args.lora_alpha}
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
    for adapter in data.get("adapters", []):
        if size := adapter_size(adapter.get("train") or {}):
            print(f"{adapter['name']}: {size}")
        decision = adapter.get("decision")
        if decision:
            verdict = "promoted" if decision["promote"] else "rejected"
            print(f"{adapter['name']}: {adapter.get('version')} {verdict} ({decision['reason']})")
        if adapter.get("verdict_change"):
            # The refitted verdict changes what reviews report: show it on the calibration set.
            print(f"\n{adapter['name']}: the verdict for its vectors, refitted (before: the one in force)\n")
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
    if args.export and report.pointer is not None:
        for language, path in registry.current_paths(repo).items():
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
    from embedding.registry import AdapterRegistry
    from embedding.training.mining import mine_repository
    from workers.services.retrain import RetrainService

    if not args.path.is_dir():
        raise ConfigError(f"{args.path} is not a directory")
    settings = _settings(args)
    config = _config(args, settings)
    adapters = (
        _adapter_dirs(args.adapter)
        if args.adapter
        else AdapterRegistry(settings.adapter_registry_root).current_paths(_repo(args))
    )
    mined = mine_repository(args.path, config, languages=args.languages)
    encoder = _encoder_factory(settings, config)()
    service = RetrainService(config, encoder_factory=lambda: encoder)
    pools: dict[Any, Any] = {}
    split = args.split
    outcomes = []
    languages = mined.languages()
    for name, path in sorted(adapters.items()):
        encoder.load_adapter(name, path)
        covered = [name] if name in languages else languages
        base = service.evaluate(encoder, None, mined, covered, split, pools=pools)
        tuned = service.evaluate(encoder, name, mined, covered, split, pools=pools)
        metrics = {lang: {"base": base[lang].to_dict(), "adapter": tuned[lang].to_dict()} for lang in covered}
        outcomes.append({"name": name, "languages": covered, "path": str(path), "metrics": {
            split: {"base": {k: v["base"] for k, v in metrics.items()}, "adapter": {k: v["adapter"] for k, v in metrics.items()}}
        }})  # fmt: skip
    if not adapters:
        base = service.evaluate(encoder, None, mined, languages, split, pools=pools)
        outcomes.append({"name": "base", "languages": languages, "metrics": {
            split: {"base": {k: v.to_dict() for k, v in base.items()}, "adapter": {k: v.to_dict() for k, v in base.items()}}
        }})  # fmt: skip
    data = {"repo": str(args.path), "commit": mined.commit, "split": split, "adapters": outcomes}
    _emit(args, data)
    return 0
