"""Train and evaluate a Python adapter on the running interpreter's standard library (CPU).

The standard library is not a git repository: a subset of its top-level modules is copied into a
temporary plain directory, which pair mining walks (no history pairs then). The run goes through
``RetrainService`` exactly as the nightly task does (fresh registry, no re-index) and prints
base-vs-adapter MRR on the held-out test split, then writes a JSON report, a Markdown report and
a PNG (loss curve, MRR bars) to ``--out``.

    .venv/bin/python benchmarks/bench_train_stdlib.py --modules 0 --packages --out /tmp/doppel-stdlib   # run 8's data, doppel's recipe
    .venv/bin/python benchmarks/bench_train_stdlib.py --modules 40 --max-steps 60 --out /tmp/doppel-stdlib   # a quick one
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Large, generated or test-only modules that would dominate a small subset.
_SKIP = {"pydoc_data", "_pydecimal.py", "_pyio.py", "turtle.py", "pydoc.py", "this.py", "antigravity.py", "__phello__"}


# Packages that are tests, tools, generated tables or GUI demos rather than library code.
_SKIP_PACKAGES = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "site-packages",
    "lib-dynload",
    "pydoc_data",
    "__pycache__",
    "venv",
    "distutils",
    "encodings",
}


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _kept(path: Path) -> bool:
    return path.name not in _SKIP and not path.name.startswith("_") and path.stat().st_size < 120_000


def stdlib_subset(count: int, lib: Path | None = None) -> list[Path]:
    """The first ``count`` top-level stdlib modules (sorted by name; 0: all), skipping private and huge ones."""
    files = [p for p in sorted((lib or stdlib_dir()).glob("*.py")) if _kept(p)]
    return files[:count] if count else files


def stdlib_packages(lib: Path | None = None) -> list[Path]:
    """The .py files of the stdlib's packages (``json/``, ``email/``, ``asyncio/`` …), tests and tools excluded."""
    root = lib or stdlib_dir()
    out = []
    for package in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in _SKIP_PACKAGES):
        if package.name.startswith("config-") or not (package / "__init__.py").is_file():
            continue
        out.extend(
            p
            for p in sorted(package.rglob("*.py"))
            if not set(p.relative_to(root).parts) & _SKIP_PACKAGES
            and p.stat().st_size < 120_000
            and not p.name.startswith("test")
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modules", type=int, default=40, help="top-level stdlib modules copied (sorted by name; 0: all)"
    )
    parser.add_argument("--packages", action="store_true", help="also copy the stdlib's packages (json/, email/, …)")
    parser.add_argument("--stdlib-dir", type=Path, help="a standard library directory (default: this interpreter's)")
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda[:N]'")
    parser.add_argument(
        "--dtype", default="float32", help="weights' dtype: float32 (as on the CPU), or auto (bf16 on CUDA)"
    )
    parser.add_argument("--identifier-pairs", action="store_true", help="also mine (name words → body) pairs")
    parser.add_argument(
        "--synthetic-ratio", type=float, help="code→code training pairs per doc-text pair (-1: all; default 1)"
    )
    parser.add_argument("--base-dropout", action="store_true", help="keep the base model's dropout on in training")
    parser.add_argument("--ungrouped", action="store_true", help="random batches, not grouped by kind and length")
    # Unset training flags take TrainConfig's and LoraSpec's defaults: with none, this runs doppel's recipe.
    parser.add_argument("--lora-dropout", type=float, help="LoRA dropout")
    parser.add_argument("--max-steps", type=int, help="optimiser-step cap (default: epochs decide)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--balance", action="store_true", help="(the default now: --synthetic-ratio 1)")
    parser.add_argument("--prepare-only", action="store_true", help="only copy the modules into OUT/repo, then exit")
    parser.add_argument("--lora-r", type=int, help="LoRA rank")
    parser.add_argument("--lora-alpha", type=int, help="LoRA alpha")
    parser.add_argument("--temperature", type=float, help="InfoNCE temperature")
    parser.add_argument("--warmup", type=float, help="share of steps with learning-rate warm-up")
    parser.add_argument(
        "--hard-negatives",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one same-file function per pair as a negative",
    )
    parser.add_argument("--base-model", default="default", help="base model: 'default' or a model directory")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "doppel-stdlib")
    args = parser.parse_args(argv)

    import torch

    from core.domain import RepoRef
    from embedding.encoder import Encoder
    from embedding.registry import AdapterRegistry
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.mining import mine_repository
    from embedding.training.report import write_report
    from workers.services.retrain import RetrainService

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    repo_dir = args.out / "repo"
    shutil.rmtree(repo_dir, ignore_errors=True)
    repo_dir.mkdir()
    lib = args.stdlib_dir or stdlib_dir()
    files = stdlib_subset(args.modules, lib) + (stdlib_packages(lib) if args.packages else [])
    for path in files:
        target = repo_dir / path.relative_to(lib)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)

    print(f"copied {len(files)} files to {repo_dir}", flush=True)
    if args.prepare_only:
        return 0
    chosen = {
        "synthetic_ratio": args.synthetic_ratio,
        "batch_size": args.batch_size,
        "max_steps": args.max_steps,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "warmup_ratio": args.warmup,
        "temperature": args.temperature,
        "hard_negatives": args.hard_negatives,
    }
    config = TrainConfig(
        min_pairs_per_language=100,
        validation_fraction=0.15,
        test_fraction=0.25,
        identifier_pairs=args.identifier_pairs,
        max_length=args.max_length,
        **{name: value for name, value in chosen.items() if value is not None},
        group_by_length=not args.ungrouped,
        base_dropout=args.base_dropout,
        device=args.device,
        bf16=args.dtype != "float32",
        seed=args.seed,
        train_shared=False,
    )
    started = time.perf_counter()
    mined = mine_repository(repo_dir, config, languages=["python"])
    print(
        f"mined {len(mined.functions)} functions, {len(mined.pairs)} pairs in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    service = RetrainService(
        config,
        lora=LoraSpec(
            **{
                name: value
                for name, value in {"r": args.lora_r, "alpha": args.lora_alpha, "dropout": args.lora_dropout}.items()
                if value is not None
            }
        ),
        encoder_factory=lambda: Encoder(
            args.base_model, max_length=args.max_length, batch_size=32, device=args.device, dtype=args.dtype
        ),
        registry=AdapterRegistry(args.out / "adapters"),
        progress=True,
    )
    report = service.run(repo_dir, RepoRef("local/python-stdlib"), mined=mined)
    if not report.outcomes:
        train = report.statistics["pairs"].get("train", 0)
        print(f"no adapter trained: {train} training pairs, fewer than {config.min_pairs_per_language}; add --modules")
        return 1
    data = report.to_dict()
    data["command"] = " ".join(sys.argv)
    data["modules"] = sorted(str(p.relative_to(repo_dir)) for p in repo_dir.rglob("*.py"))
    data["losses"] = {o.name: o.train.losses if o.train else [] for o in report.outcomes}
    (args.out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = write_report(data, args.out)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
