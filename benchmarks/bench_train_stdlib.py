"""Train and evaluate a Python adapter on the running interpreter's standard library (CPU).

The standard library is not a git repository: a subset of its top-level modules is copied into a
temporary plain directory, which pair mining walks (no history pairs then). The run goes through
``RetrainService`` exactly as the nightly task does (fresh registry, no re-index) and prints
base-vs-adapter MRR on the held-out test split, then writes a JSON report, a Markdown report and
a PNG (loss curve, MRR bars) to ``--out``.

    .venv/bin/python benchmarks/bench_train_stdlib.py --modules 40 --max-steps 60 --out /tmp/doppel-stdlib
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


def stdlib_subset(count: int) -> list[Path]:
    """The first ``count`` top-level stdlib modules (sorted by name), skipping private and huge ones."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    files = [
        p
        for p in sorted(lib.glob("*.py"))
        if p.name not in _SKIP and not p.name.startswith("_") and p.stat().st_size < 120_000
    ]
    return files[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=40, help="stdlib modules copied (sorted by name)")
    parser.add_argument("--max-steps", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--balance", action="store_true", help="as many code→code as text→code training pairs")
    parser.add_argument("--lora-r", type=int, default=64, help="LoRA rank")
    parser.add_argument("--lora-alpha", type=int, default=128, help="LoRA alpha")
    parser.add_argument("--temperature", type=float, default=0.05, help="InfoNCE temperature")
    parser.add_argument("--warmup", type=float, default=0.1, help="share of steps with learning-rate warm-up")
    parser.add_argument("--hard-negatives", action="store_true", help="one same-file function per pair as a negative")
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
    for path in stdlib_subset(args.modules):
        shutil.copy2(path, repo_dir / path.name)

    config = TrainConfig(
        min_pairs_per_language=100,
        validation_fraction=0.15,
        test_fraction=0.25,
        identifier_pairs=False,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        epochs=args.epochs,
        max_length=args.max_length,
        learning_rate=args.learning_rate,
        warmup_ratio=args.warmup,
        temperature=args.temperature,
        hard_negatives=args.hard_negatives,
        device="cpu",
        seed=args.seed,
        train_shared=False,
    )
    started = time.perf_counter()
    mined = mine_repository(repo_dir, config, languages=["python"])
    if args.balance:
        # As many synthetic code→code training pairs as doc-text ones, so that the few steps a
        # CPU run affords are not spent mostly on the easier code→code task.
        from dataclasses import replace as _replace

        from embedding.training.pairs import cap_pairs

        train_doc = [p for p in mined.pairs if p.split == "train" and p.kind == "text2code"]
        train_code = [p for p in mined.pairs if p.split == "train" and p.kind == "code2code"]
        kept = {id(p) for p in train_doc + cap_pairs(train_code, len(train_doc), seed=args.seed)}
        mined = _replace(mined, pairs=[p for p in mined.pairs if p.split != "train" or id(p) in kept])
    print(
        f"mined {len(mined.functions)} functions, {len(mined.pairs)} pairs in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    service = RetrainService(
        config,
        lora=LoraSpec(r=args.lora_r, alpha=args.lora_alpha),
        encoder_factory=lambda: Encoder(max_length=args.max_length, batch_size=32, device="cpu"),
        registry=AdapterRegistry(args.out / "adapters"),
        progress=True,
    )
    report = service.run(repo_dir, RepoRef("local/python-stdlib"), mined=mined)
    data = report.to_dict()
    data["command"] = " ".join(sys.argv)
    data["modules"] = sorted(p.name for p in repo_dir.iterdir())
    data["losses"] = {o.name: o.train.losses if o.train else [] for o in report.outcomes}
    (args.out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = write_report(data, args.out)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
