"""Length-bucketed batching against naive batching, on real functions, same model, same run.

Takes N functions of the running interpreter's standard library (extracted with
``embedding.extract``; a plain ``ast`` walk if that package is unavailable), embeds them with
the encoder at the same batch size and ``max_length`` with three schemes: naive, every batch
padded to ``max_length`` (what ``padding="max_length"`` gives, the common naive set-up); naive
in input order with each batch padded to its longest member; and sorted by token length
(doppel's). Prints functions/second for each, the speed-ups, the share of padding each scheme
computes, and the largest difference between the sets of vectors (they must agree).

    python benchmarks/bench_batching.py                  # 2,000 functions, default MiniLM
    python benchmarks/bench_batching.py --n 500 --markdown benchmarks/results/batching.md
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import random
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedding.encoder import Encoder
from embedding.pooling import length_batches


@dataclass
class Run:
    scheme: str
    seconds: float
    cpu_seconds: float  # this process's CPU time: steadier than wall time on a shared machine
    functions: int
    padded_tokens: int
    real_tokens: int

    @property
    def per_second(self) -> float:
        return self.functions / self.seconds

    @property
    def cpu_ms_per_function(self) -> float:
        return 1000 * self.cpu_seconds / self.functions

    @property
    def padding_share(self) -> float:
        return 1.0 - self.real_tokens / self.padded_tokens


def stdlib_files(seed: int) -> list[Path]:
    """The standard library's .py files (tests and site-packages excluded), in a seeded order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        path
        for path in root.rglob("*.py")
        if not {"site-packages", "test", "tests", "idlelib"} & set(path.relative_to(root).parts)
    )
    random.Random(seed).shuffle(files)
    return files


def _texts_with_extract(files: list[Path], n: int) -> list[str]:
    from embedding.encoder import function_text
    from embedding.extract import extract_source

    texts: list[str] = []
    for path in files:
        result = extract_source(path.name, path.read_bytes())
        texts.extend(function_text(fn) for fn in result.functions)
        if len(texts) >= n:
            break
    return texts[:n]


def _texts_with_ast(files: list[Path], n: int) -> list[str]:
    texts: list[str] = []
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                text = ast.get_source_segment(source, node)
                if text and text.count("\n") >= 2:
                    texts.append(text)
        if len(texts) >= n:
            break
    return texts[:n]


def stdlib_functions(n: int, seed: int) -> tuple[list[str], str]:
    """The texts of the first ``n`` functions met in the shuffled stdlib, and how they were found."""
    files = stdlib_files(seed)
    try:
        return _texts_with_extract(files, n), "embedding.extract (tree-sitter)"
    except ImportError:
        return _texts_with_ast(files, n), "ast"


FIXED, DYNAMIC, BUCKETED = "naive (pad to max_length)", "naive (input order, pad to longest)", "length-bucketed"


def _embed_padded_to_max_length(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """The common naive loop: input order, every batch padded to ``max_length``, same pooling."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), encoder.batch_size):
            batch = encoder.tokenizer(
                texts[start : start + encoder.batch_size], truncation=True, max_length=encoder.max_length,
                padding="max_length", return_tensors="pt",
            )
            out.append(encoder._pooled(batch).cpu().numpy())  # noqa: SLF001 - same pooling as the encoder
    return np.concatenate(out)


def measure(encoder: Encoder, texts: list[str], *, scheme: str) -> tuple[Run, np.ndarray]:
    """Embed ``texts`` once with the given scheme; token counts come from the same tokenizer."""
    lengths = [
        len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=encoder.max_length)["input_ids"]
    ]
    if scheme == FIXED:
        padded = len(texts) * encoder.max_length
    else:
        batches = length_batches(lengths, encoder.batch_size, bucket=scheme == BUCKETED)
        padded = sum(len(rows) * max(lengths[i] for i in rows) for rows in batches)
    encoder.length_bucketing = scheme == BUCKETED
    start, cpu_start = time.perf_counter(), time.process_time()
    vectors = _embed_padded_to_max_length(encoder, texts) if scheme == FIXED else encoder.embed_texts(texts)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return Run(scheme, seconds, cpu_seconds, len(texts), padded, sum(lengths)), vectors


def machine() -> str:
    import torch

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"{platform.system()} {platform.machine()}, CPU: {model}, nproc {usable}, GPU: {gpu}, "
        f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def report(args: argparse.Namespace, encoder: Encoder, source: str, runs: list[Run], max_diff: float) -> str:
    fixed, naive, bucketed = runs
    lines = [
        f"- Machine: {machine()}",
        f"- Model: `{encoder.base_model_id}` on {encoder.device} ({str(encoder.dtype).removeprefix('torch.')}), "
        f"max_length {encoder.max_length}, batch size {encoder.batch_size}",
        f"- Data: {naive.functions} functions of the Python {platform.python_version()} standard library "
        f"(seed {args.seed}, best of {args.rounds} alternating round(s), extracted with {source}), {naive.real_tokens / naive.functions:.0f} tokens each on average",
        "",
        "| batching | wall s | functions/s | CPU ms/function | padding computed |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {run.scheme} | {run.seconds:.1f} | {run.per_second:.1f} | {run.cpu_ms_per_function:.0f} "
            f"| {run.padding_share:.0%} |"
            for run in runs
        ),
        "",
        f"Speed-up of bucketed over naive padded to max_length: **{bucketed.per_second / fixed.per_second:.2f}×** "
        f"in functions/s (wall clock), {fixed.cpu_seconds / bucketed.cpu_seconds:.2f}× in CPU time.",
        "",
        f"Speed-up of bucketed over naive padded to each batch's longest: **{bucketed.per_second / naive.per_second:.2f}×** "
        f"in functions/s (wall clock), {naive.cpu_seconds / bucketed.cpu_seconds:.2f}× in CPU time; "
        f"{naive.padded_tokens / bucketed.padded_tokens:.2f}× fewer padded tokens.",
        "",
        f"Largest difference between the sets of vectors: {max_diff:.1e}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="functions to embed (default 2000)")
    parser.add_argument("--batch-size", type=int, default=32, help="functions per forward pass (default 32)")
    parser.add_argument("--max-length", type=int, default=256, help="token limit per function (default 256)")
    parser.add_argument("--model", default="default", help="base model: 'default', a Hub id or a directory")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda' (default auto)")
    parser.add_argument("--seed", type=int, default=0, help="order in which stdlib files are read (default 0)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each scheme, alternating; best kept (default 1)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this Markdown file")
    args = parser.parse_args()

    texts, source = stdlib_functions(args.n, args.seed)
    encoder = Encoder(args.model, max_length=args.max_length, batch_size=args.batch_size, device=args.device)
    encoder.embed_texts(texts[: args.batch_size])  # warm-up: first-call allocations are not batching

    # Alternate which scheme goes first and keep each one's best round, so that a burst of load
    # from other processes does not favour either.
    schemes = (FIXED, DYNAMIC, BUCKETED)
    best: dict[str, tuple[Run, np.ndarray]] = {}
    for round_ in range(args.rounds):
        for scheme in schemes if round_ % 2 == 0 else tuple(reversed(schemes)):
            run, vectors = measure(encoder, texts, scheme=scheme)
            if scheme not in best or run.seconds < best[scheme][0].seconds:
                best[scheme] = (run, vectors)
    reference = best[BUCKETED][1]
    max_diff = max(float(np.abs(best[s][1] - reference).max()) for s in schemes)

    text = report(args, encoder, source, [best[s][0] for s in schemes], max_diff)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"# Length-bucketed batching\n\n`{' '.join(['python', *sys.argv])}`\n\n{text}\n")


if __name__ == "__main__":
    main()
