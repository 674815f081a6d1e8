"""Training throughput of doppel's adapter trainer, in pairs per second, on the CPU or one GPU.

Runs ``embedding.training.trainer.train_adapter`` itself (tokenising, both forward passes, the
symmetric InfoNCE loss, backward, AdamW) on real training pairs mined from the running
interpreter's standard library, after a few warm-up steps, and prints pairs/second. Two kinds of
input, side by side in one run:

- ``mined``: the pairs as mining gives them (doc text → code, synthetic clones), truncated at
  ``--max-length``, batched as training batches them (grouped by kind and length, each batch
  padded to its longest text); ``mined-ungrouped``: the same in random batches;
- ``full``: every text cut or repeated to exactly ``--max-length`` tokens, the worst case.

Models: ``default`` (the packaged all-MiniLM-L6-v2), ``unixcoder-base-config`` (a RoBERTa with
microsoft/unixcoder-base's shape, 125M parameters, built from its config with random weights:
speed does not depend on the weights, and there is no model hub here; the packaged MiniLM
tokenizer stands in for UniXcoder's), or a model directory.

    python benchmarks/bench_train_throughput.py --device cpu --max-length 256
    python benchmarks/bench_train_throughput.py --device cuda --model unixcoder-base-config \\
        --max-length 512 --batch-size 128            # bf16 autocast on the GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# microsoft/unixcoder-base's config.json (a RoBERTa encoder), minus the fields that are defaults.
UNIXCODER_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 1026,
    "type_vocab_size": 10,
    "vocab_size": 51416,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}


@dataclass
class Measurement:
    data: str
    steps: int
    batch_size: int
    seconds: float
    tokens_per_pair: float  # real (unpadded) tokens per pair, query and code together

    @property
    def pairs_per_second(self) -> float:
        return self.steps * self.batch_size / self.seconds


def build_unixcoder_sized(directory: Path, seed: int) -> Path:
    """A random RoBERTa of unixcoder-base's shape plus the packaged tokenizer, saved to ``directory``."""
    import torch
    from transformers import AutoTokenizer, RobertaConfig, RobertaModel

    from embedding.adapters import resolve_base_model

    torch.manual_seed(seed)
    model = RobertaModel(RobertaConfig(**UNIXCODER_BASE), add_pooling_layer=False)
    model.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("default"), local_files_only=True)
    tokenizer.model_max_length = UNIXCODER_BASE["max_position_embeddings"] - 2
    tokenizer.save_pretrained(directory)
    return directory


def mined_pairs(modules: int, seed: int) -> list:  # type: ignore[type-arg]
    """Training pairs (docstring and synthetic) mined from ``modules`` stdlib modules."""
    import shutil

    from bench_train_stdlib import stdlib_subset

    from embedding.training.config import TrainConfig
    from embedding.training.mining import mine_repository

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        for path in stdlib_subset(modules):
            shutil.copy2(path, repo / path.name)
        config = TrainConfig(validation_fraction=0.0, test_fraction=0.0, identifier_pairs=False, seed=seed)
        return list(mine_repository(repo, config, languages=["python"]).pairs)


def full_length(pairs: list, tokenizer, max_length: int) -> list:  # type: ignore[no-untyped-def,type-arg]
    """The same pairs with query and code cut or repeated to exactly ``max_length`` tokens."""
    from dataclasses import replace

    def stretch(text: str) -> str:
        ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        while len(ids) < max_length:
            ids = ids + ids
        return tokenizer.decode(ids[: max_length - 2])

    return [replace(p, query=stretch(p.query), code=stretch(p.code)) for p in pairs]


def measure(encoder, pairs, data: str, args: argparse.Namespace, index: int) -> Measurement:  # type: ignore[no-untyped-def]
    """Warm up with a throw-away adapter, then time ``--steps`` optimiser steps with a fresh one."""
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter

    lora = LoraSpec()  # the paper's rank 64 / alpha 128 on the query and value projections
    base = TrainConfig(
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        bf16=True,
        group_by_length=data != "mined-ungrouped",
    )
    train_adapter(encoder, f"warm{index}", pairs, base.replace(max_steps=args.warmup_steps), lora)
    timed = base.replace(max_steps=args.steps, seed=args.seed + 1)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith("cuda") else [])
        with profile(activities=activities) as prof:
            train_adapter(encoder, f"prof{index}", pairs, base.replace(max_steps=3), lora)
        key = "self_cuda_time_total" if args.device.startswith("cuda") else "self_cpu_time_total"
        print(f"--- profile of 3 steps, {data} ---")
        print(prof.key_averages().table(sort_by=key, row_limit=18, max_name_column_width=60))
    result = train_adapter(encoder, f"timed{index}", pairs, timed, lora)
    lengths = encoder.tokenizer([p.query for p in pairs[:2000]], truncation=True, max_length=encoder.max_length)
    code_lengths = encoder.tokenizer([p.code for p in pairs[:2000]], truncation=True, max_length=encoder.max_length)
    n = len(lengths["input_ids"])
    tokens = (sum(map(len, lengths["input_ids"])) + sum(map(len, code_lengths["input_ids"]))) / n
    return Measurement(data, result.steps, args.batch_size, result.seconds, tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default', 'unixcoder-base-config' or a model directory")
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--max-length", type=int, default=256, help="token limit per text")
    parser.add_argument("--batch-size", type=int, default=32, help="pairs per optimiser step")
    parser.add_argument("--steps", type=int, default=10, help="timed optimiser steps per kind of input")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed steps before")
    parser.add_argument("--modules", type=int, default=60, help="stdlib modules mined for pairs")
    parser.add_argument(
        "--data",
        default="mined,mined-ungrouped,full",
        help="comma-separated: mined (batches grouped by length, the default), mined-ungrouped, full",
    )
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table of 3 steps per input")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    from embedding.encoder import Encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.data.split(",") if k.strip()]
    if not kinds or set(kinds) - {"mined", "mined-ungrouped", "full"}:
        parser.error(f"--data takes mined, mined-ungrouped and/or full, got {args.data!r}")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model == "unixcoder-base-config":
            model = str(build_unixcoder_sized(Path(tmp) / "unixcoder-sized", args.seed))
        encoder = Encoder(model, max_length=args.max_length, device=args.device)
        total = sum(p.numel() for p in encoder.model.parameters())
        attention = getattr(encoder.model.config, "_attn_implementation", "?")
        print(f"attention implementation: {attention}")
        started = time.perf_counter()
        pairs = mined_pairs(args.modules, args.seed)
        print(f"mined {len(pairs)} pairs from {args.modules} stdlib modules in {time.perf_counter() - started:.0f}s")
        runs = []
        for index, kind in enumerate(kinds):
            data = pairs if kind != "full" else full_length(pairs, encoder.tokenizer, encoder.max_length)
            runs.append(measure(encoder, data, kind, args, index))
            print(f"{kind}: {runs[-1].pairs_per_second:.1f} pairs/s", flush=True)

    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu"
    threads = torch.get_num_threads()
    print()
    print(
        f"model {args.model} ({total / 1e6:.1f}M parameters), device {args.device} ({device_name}), "
        f"dtype {'bf16 autocast over bf16 weights' if args.device.startswith('cuda') else 'float32'}, "
        f"max_length {encoder.max_length}, batch {args.batch_size}, LoRA r=64 on query/value, "
        f"CPU threads {threads}, os.cpu_count {os.cpu_count()}"
    )
    print("| input | tokens/pair (real) | steps | seconds | pairs/s |")
    print("|---|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run.data} | {run.tokens_per_pair:.0f} | {run.steps} | {run.seconds:.2f} | {run.pairs_per_second:.1f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "device": args.device,
                    "device_name": device_name,
                    "max_length": encoder.max_length,
                    "batch_size": args.batch_size,
                    "parameters": total,
                    "runs": [{**run.__dict__, "pairs_per_second": run.pairs_per_second} for run in runs],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
