"""The code adapter's larger run, in one call on a lent GPU (``build_code_adapter.py``'s steps in
one process, so that torch, the model and the mined data load once per step, not per process).

1. Recipe trials: each recipe of ``RECIPES`` is trained on every train package and ranked on the
   ``validation`` split of ``packages.json`` (``evaluate --projects validation``: projects that are
   neither trained on nor reported). The held-out projects that the adapter is reported on are not
   looked at here.
2. The trial with the best mean text→code gain over the base (code→code no more than 1% worse on
   average) is the candidate adapter (``final/``), evaluated afterwards on the held-out projects on
   the CPU, exactly as the CPU-trained adapter was. No second training is needed: every trial
   already trained on all the train packages.

A trial starts only if the time left covers it, estimated from the trials so far. Everything lands
in ``OUT/results.tar.gz`` (the adapters, each trial's validation ranking and losses,
``choice.json``) and the log in ``OUT/log.txt``.

Usage (on the GPU machine, from the repository root, with the mined data under WORK/mined)::

    python3 benchmarks/gpu/code_adapter_gpu.py --work WORK --out "$OUT" --budget-s 500 --device cuda

The same command runs on the CPU with ``--device cpu --smoke`` (two steps per training, tiny
pools) to check the driver before a lease is spent on it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.code_adapter import build_code_adapter as build  # noqa: E402

# Every recipe: all the data there is (the CPU run capped each language at 1,200 doc→code pairs),
# whole-batch gradients (no gradient caching: the GPU has the memory), every training function in
# the mining pool. Then what each trial changes.
COMMON = ["--pairs-per-language", "8000", "--code-ratio", "0.5", "--mining-pool", "200000",
          "--no-gradient-checkpointing", "--set", "gradient_cache_chunk=null"]  # fmt: skip
RECIPES: dict[str, list[str]] = {
    "b64-len128": ["--set", "batch_size=64", "--train-max-length", "128"],
    "b64-len256": ["--set", "batch_size=64", "--train-max-length", "256"],
    "b128-len128": ["--set", "batch_size=128", "--train-max-length", "128"],
    "b64-len128-4ep": ["--set", "batch_size=64", "--train-max-length", "128", "--epochs", "4"],
}
SMOKE_TRAIN = ["--max-steps", "2", "--mining-pool", "200"]
SMOKE_EVALUATE = ["--max-pool", "60", "--max-queries", "20"]
MAX_CODE2CODE_LOSS = -0.01  # a recipe whose mean code→code change is below this is not chosen


MIN_QUERIES = 30  # a language with fewer text→code queries on the validation split (Java: 3) is not scored


def _score(evaluation: dict[str, Any], min_queries: int = MIN_QUERIES) -> tuple[float, float]:
    """Mean relative text→code and code→code change over the base, across the ranked languages
    (text→code: those with at least ``min_queries`` queries)."""
    rows = evaluation["languages"].values()
    text = [row["text2code"]["relative"] for row in rows if row.get("text2code", {}).get("queries", 0) >= min_queries]
    code = [row["code2code"]["relative"] for row in rows if "code2code" in row]
    return (sum(text) / len(text) if text else float("-inf"), sum(code) / len(code) if code else 0.0)


def _run(step: str, work: Path, device: str, extra: list[str]) -> None:
    argv = [step, "--work", str(work), "--device", device, "--threads", "8", *extra]
    print(f"\n$ build_code_adapter.py {' '.join(argv)}", flush=True)
    if build.main(argv):
        raise SystemExit(f"build_code_adapter.py {step} failed")


def _work_dir(root: Path, name: str, mined: Path) -> Path:
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "mined").exists():
        (work / "mined").symlink_to(mined.resolve(), target_is_directory=True)
    return work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder holding mined/ (build_code_adapter.py mine)")
    parser.add_argument("--out", type=Path, required=True, help="results.tar.gz goes here")
    parser.add_argument("--device", default="cuda", help="'cuda' (the lease) or 'cpu' (with --smoke)")
    parser.add_argument("--budget-s", type=float, default=500.0, help="seconds for trials and the final run together")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="trials to run, in order (comma-separated)")
    parser.add_argument("--smoke", action="store_true", help="two steps per training and tiny pools: checks the driver")
    args = parser.parse_args(argv)
    started = time.monotonic()
    mined = args.work / "mined"
    if not mined.is_dir():
        raise SystemExit(f"{mined}: no mined data (build_code_adapter.py mine)")
    runs = args.work / "gpu-runs"
    smoke_train = SMOKE_TRAIN if args.smoke else []
    smoke_eval = SMOKE_EVALUATE if args.smoke else []
    ranked_on = ["--projects", "validation"]
    trials: dict[str, dict[str, Any]] = {}
    longest = 0.0
    for name in [n for n in args.recipes.split(",") if n]:
        if name not in RECIPES:
            raise SystemExit(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
        left = args.budget_s - (time.monotonic() - started)
        need = longest * 1.1  # another trial like the longest so far
        if trials and left < need:
            print(f"skipping trial {name}: {left:.0f}s left, about {need:.0f}s needed", flush=True)
            continue
        work = _work_dir(runs, name, mined)
        t0 = time.monotonic()
        _run("train", work, args.device, [*COMMON, *RECIPES[name], *smoke_train])
        train_s = time.monotonic() - t0
        _run("evaluate", work, args.device, [*ranked_on, "--adapter", str(work / "adapter"), *smoke_eval])
        evaluation = json.loads((work / "evaluation.json").read_text(encoding="utf-8"))
        text, code = _score(evaluation, 1 if args.smoke else MIN_QUERIES)
        steps = json.loads((work / "adapter" / "doppel.json").read_text(encoding="utf-8"))["train"]["steps"]
        trials[name] = {"text2code_mean_relative": round(text, 4), "code2code_mean_relative": round(code, 4),
                        "steps": steps, "train_seconds": round(train_s, 1),
                        "seconds": round(time.monotonic() - t0, 1)}  # fmt: skip
        longest = max(longest, time.monotonic() - t0)
        print(f"trial {name}: {json.dumps(trials[name])}", flush=True)
        _pack(runs, args.out, {"ranked_on": "validation split", "trials": trials, "chosen": None})
    if not trials:
        raise SystemExit("no trial ran")
    eligible = {n: t for n, t in trials.items() if t["code2code_mean_relative"] >= MAX_CODE2CODE_LOSS} or trials
    chosen = max(eligible, key=lambda n: eligible[n]["text2code_mean_relative"])
    print(f"chosen on the validation split: {chosen}", flush=True)
    final = runs / "final"
    shutil.rmtree(final, ignore_errors=True)
    shutil.copytree(runs / chosen, final, ignore=shutil.ignore_patterns("mined"))
    choice = {"ranked_on": "validation split", "common": COMMON, "recipes": RECIPES, "trials": trials,
              "chosen": chosen, "total_seconds": round(time.monotonic() - started, 1), "device": args.device}  # fmt: skip
    _pack(runs, args.out, choice)
    print(f"results: {args.out / 'results.tar.gz'} ({json.dumps(choice['trials'])}; chosen {chosen})", flush=True)
    return 0


def _pack(runs: Path, out: Path, choice: dict[str, Any]) -> None:
    """``out/results.tar.gz``: each run's adapter, ranking, losses and data manifest (``final/``'s,
    the chosen trial's, is what ``build_code_adapter.py write`` ships with it), and ``choice.json`` (rewritten
    after every trial, so that a run stopped at its limit still brings back what it finished)."""
    (runs / "choice.json").write_text(json.dumps(choice, indent=1) + "\n", encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        tar.add(runs / "choice.json", arcname="choice.json")
        for work in sorted(p for p in runs.iterdir() if p.is_dir()):
            for name in ("adapter", "evaluation.json", "losses.json", build.CANDIDATE_MANIFEST):
                if (work / name).exists():
                    tar.add(work / name, arcname=f"{work.name}/{name}")


if __name__ == "__main__":
    raise SystemExit(main())
