"""Peak memory and time of a training step by recipe, side by side in one run.

A training step embeds a batch of doc texts, their functions and one hard negative per pair, and
back-propagates the contrastive loss; its activations, not the repository, set ``doppel train``'s
peak (``results/train_memory.md``). This script runs ``train_adapter`` for a few steps of the
default batch (32 pairs plus 32 same-file hard negatives) on real functions of the running
interpreter's standard library at 256 tokens, once per recipe, each in its own subprocess, and
reads the child's peak RSS from ``os.wait4``:

- gradient checkpointing on or off (``TrainConfig.gradient_checkpointing``);
- gradient caching off or in chunks (``TrainConfig.gradient_cache_chunk``): the batch is embedded
  without gradient, then re-embedded chunk by chunk with the loss's cached gradient, so memory
  follows the chunk.

Every recipe trains on the same batches from the same seed; the script prints each one's losses
so that the recipes can be seen to compute the same steps (dropout aside).

    .venv/bin/python benchmarks/bench_train_step_memory.py
    .venv/bin/python benchmarks/bench_train_step_memory.py --recipes on:none,off:16 --steps 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_RECIPES = "on:none,off:none,on:16,off:16,off:8"
_CHILD = "--child"


def parse_recipe(text: str) -> tuple[bool, int | None]:
    """``on:16`` → (checkpointing on, chunks of 16); ``off:none`` → (off, no gradient caching)."""
    checkpointing, _, chunk = text.partition(":")
    if checkpointing not in ("on", "off") or not chunk:
        raise argparse.ArgumentTypeError(f"recipe {text!r}: expected on|off:none|N, e.g. on:16")
    if chunk == "none":
        return checkpointing == "on", None
    if not chunk.isdigit() or int(chunk) < 1:
        raise argparse.ArgumentTypeError(f"recipe {text!r}: the chunk must be 'none' or a positive integer")
    return checkpointing == "on", int(chunk)


def stdlib_functions(limit: int) -> list:
    """Functions of the standard library's top-level modules (tests left out), in a fixed order."""
    from embedding.extract import ExtractOptions, extract_source

    options = ExtractOptions(languages=("python",))
    out: list = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        out += extract_source(path.name, path.read_bytes(), options).functions
        if len(out) >= limit:
            break
    return out[:limit]


def child(checkpointing: bool, chunk: int | None, steps: int, max_length: int, threads: int) -> None:
    import torch

    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.pairs import TrainingPair, function_key
    from embedding.training.trainer import train_adapter

    torch.set_num_threads(threads)
    functions = [fn for fn in stdlib_functions(4000) if len(fn.code) >= 600]
    pairs = [
        TrainingPair(
            "text2code", "docstring", "python", fn.path, function_key(fn),
            f"{fn.qualified_name.replace('_', ' ')} of module {fn.path[:-3]}", fn.code, fn.body_hash,
        )
        for fn in functions
    ]  # fmt: skip
    config = TrainConfig(
        batch_size=32, max_steps=steps, max_length=max_length, device="cpu", seed=0, hard_negative_mining="same_file",
        gradient_checkpointing=checkpointing, gradient_cache_chunk=chunk, drop_margin=None,
    )  # fmt: skip
    encoder = Encoder("default", device="cpu", max_length=max_length)
    result = train_adapter(encoder, "python", pairs, config, LoraSpec(), functions=functions)
    print(json.dumps({"steps": result.steps, "seconds": result.seconds, "losses": result.losses}))


def run_child(recipe: str, args: argparse.Namespace) -> dict:
    checkpointing, chunk = parse_recipe(recipe)
    command = [sys.executable, __file__, _CHILD, recipe, "--steps", str(args.steps), "--max-length",
               str(args.max_length), "--threads", str(args.threads)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    row = {
        "recipe": recipe, "checkpointing": checkpointing, "chunk": chunk, "rc": os.waitstatus_to_exitcode(status),
        "peak_mb": usage.ru_maxrss / 1024, "wall": time.perf_counter() - started,
    }  # fmt: skip
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if row["rc"] != 0 or not lines:
        row["error"] = " | ".join(err.strip().splitlines()[-3:])[:400]
        return row
    report = json.loads(lines[-1])
    row.update(steps=report["steps"], per_step=report["seconds"] / max(report["steps"], 1), losses=report["losses"])
    return row


def table(rows: list[dict], args: argparse.Namespace) -> str:
    first = next((r for r in rows if "per_step" in r), None)
    lines = [
        f"batch 32 pairs + 32 hard negatives, {args.max_length} tokens, {args.steps} steps, {args.threads} threads",
        "| gradient checkpointing | gradient-cache chunk | peak RSS (MB) | vs first | s/step | vs first | losses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        if "per_step" not in r or first is None:
            lines.append(f"| {r['recipe']} | | | | | | failed (rc {r['rc']}): {r.get('error', '')} |")
            continue
        losses = ", ".join(f"{x:.4f}" for x in r["losses"])
        lines.append(
            f"| {'on' if r['checkpointing'] else 'off'} | {r['chunk'] or 'none'} | {r['peak_mb']:,.0f} | "
            f"{r['peak_mb'] / first['peak_mb']:.2f}x | {r['per_step']:.1f} | {r['per_step'] / first['per_step']:.2f}x | "
            f"{losses} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipes", default=DEFAULT_RECIPES,
        help="comma-separated checkpointing:chunk recipes, e.g. on:none,off:16 (the first is the reference)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=2, help="optimiser steps per recipe")
    parser.add_argument("--max-length", type=int, default=256, help="token limit per text (doppel's default)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads of each child")
    args = parser.parse_args(argv)
    recipes = [r for r in args.recipes.split(",") if r]
    for recipe in recipes:
        parse_recipe(recipe)  # bad input fails before any child starts
    rows = []
    for recipe in recipes:
        rows.append(run_child(recipe, args))
        print(f"{recipe}: {json.dumps({k: v for k, v in rows[-1].items() if k != 'losses'})}", flush=True)
    print(table(rows, args))
    return 1 if any("per_step" not in r for r in rows) else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        parsed = argparse.ArgumentParser()
        parsed.add_argument("recipe")
        parsed.add_argument("--steps", type=int)
        parsed.add_argument("--max-length", type=int)
        parsed.add_argument("--threads", type=int)
        ns = parsed.parse_args(sys.argv[2:])
        child(*parse_recipe(ns.recipe), ns.steps, ns.max_length, ns.threads)
        raise SystemExit(0)
    raise SystemExit(main())
