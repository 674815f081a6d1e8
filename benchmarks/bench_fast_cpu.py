"""fp32 against the fast CPU paths (DOPPEL_INFERENCE_PRECISION=bf16|int8|ort-int8) on real code, side by side.

One run embeds the same functions of this interpreter's standard library with each precision, the
rounds interleaved (fp32, bf16, int8, fp32, …) so that other jobs on a shared box slow every
precision alike, and prints per precision: functions per second (best round, 2 threads, embedding
cache off, the fast model's one-off build timed apart), the ratio to fp32 from the same rounds,
and the cosine between each function's fp32 vector and its fast vector (mean, min, 1st percentile).
The encoder is the settings' default (base model and whatever adapter it falls back to for Python,
named in the output).

With ``--real-edits LIBS`` it also runs ``benchmarks/bench_real_edits.py --mode both --precision P``
once per precision on those libraries and prints copies caught and false alarms side by side
(``--real-edits-logs DIR`` reads such runs' output from ``DIR/re_<precision>.log`` instead).

    .venv/bin/python benchmarks/bench_fast_cpu.py --functions 300 --rounds 3 --markdown benchmarks/results/fast_cpu.md
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from embedding.encoder import Encoder  # noqa: E402
from embedding.extract import extract_source  # noqa: E402
from embedding.precision import BF16, FP32, INT8, ORT_INT8, has_fast_bf16  # noqa: E402

_SKIP = {"pydoc.py", "_pydecimal.py", "_pyio.py", "turtle.py", "this.py", "antigravity.py"}
_SUMMARY = re.compile(r"^(\w+) / all\s+today\s+(\d+)\s+[\d.]+ \((\d+)/(\d+)\).*?(\d+)\s+[\d.]+ \((\d+)/(\d+)\)\s*$")


def stdlib_functions(count: int, seed: int) -> list:
    """``count`` functions drawn (seeded) from the stdlib's top-level public modules."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    functions = []
    for path in sorted(lib.glob("*.py")):
        if path.name in _SKIP or path.name.startswith("_"):
            continue
        functions += extract_source(path.name, path.read_bytes()).functions
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(functions), size=min(count, len(functions)), replace=False))
    return [functions[i] for i in picked]


def encoder_for(precision: str) -> Encoder:
    settings = Settings(embedding_cache=False, device="cpu", inference_precision=precision)  # type: ignore[arg-type]
    return Encoder.from_settings(settings)


def throughput(precisions: list[str], functions: list, rounds: int) -> tuple[dict, dict, dict, str]:
    encoders = {p: encoder_for(p) for p in precisions}
    build = {}
    for p, encoder in encoders.items():  # the fast model's one-off build (and a warm-up pass), timed apart
        started = time.perf_counter()
        encoder.embed_functions(functions[:8])
        build[p] = time.perf_counter() - started
    times: dict[str, list[float]] = {p: [] for p in precisions}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(rounds):
        for p in precisions:
            started = time.perf_counter()
            vectors[p] = encoders[p].embed_functions(functions)
            times[p].append(time.perf_counter() - started)
            print(f"  round {round_ + 1} {p}: {len(functions) / times[p][-1]:.1f} functions/s", flush=True)
    space = encoders[FP32].adapter_version("python")
    return times, vectors, build, space


def real_edit_rows(text: str) -> dict[str, dict[str, tuple[int, int, int, int]]]:
    """``{"real"|"synthetic": {split: (caught, copies, false alarms, negatives)}}`` from bench_real_edits' output."""
    rows: dict[str, dict[str, tuple[int, int, int, int]]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("Real edits"):
            section = "real"
        elif line.lower().startswith("synthetic"):
            section = "synthetic"
        match = _SUMMARY.match(line)
        if match and section:
            split, _, caught, copies, _, alarms, negatives = match.groups()
            rows.setdefault(section, {})[split] = (int(caught), int(copies), int(alarms), int(negatives))
    return rows


def run_real_edits(precision: str, libraries: str, log_dir: Path) -> str:
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_real_edits.py"), "--split", "all", "--mode", "both",
               "--libraries", libraries, "--precision", precision]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    (log_dir / f"re_{precision}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--functions", type=int, default=300, help="stdlib functions embedded per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per precision (best one counts)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="which functions are drawn")
    parser.add_argument("--real-edits", default="", help="comma-separated libraries for bench_real_edits (none: skip)")
    parser.add_argument("--real-edits-logs", type=Path, default=None, help="read re_<precision>.log from here instead")
    parser.add_argument("--markdown", type=Path, default=None, help="write the results page here")
    parser.add_argument(
        "--precisions",
        default="",
        help="comma-separated fast paths against fp32 (default: bf16 where the CPU has it, int8, ort-int8)",
    )
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    precisions = [FP32, *([BF16] if has_fast_bf16() else []), INT8, ORT_INT8]
    if args.precisions:
        precisions = [FP32, *[p for p in args.precisions.split(",") if p and p != FP32]]
    functions = stdlib_functions(args.functions, args.seed)
    started = time.perf_counter()
    print(f"{len(functions)} stdlib functions, {args.rounds} rounds, {args.threads} threads, {', '.join(precisions)}")
    times, vectors, build, space = throughput(precisions, functions, args.rounds)
    best = {p: min(times[p]) for p in precisions}
    lines = [
        f"Vector space measured (fp32): `{space}`; {len(functions)} functions, tokens ≤ 256, batch 32, "
        f"{args.threads} threads, best of {args.rounds} interleaved rounds.",
        "",
        "| precision | functions/s | × fp32 (best rounds) | × fp32 (median rounds) | build s | cosine to fp32: mean | min | p1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in precisions:
        cosines = (vectors[p] * vectors[FP32]).sum(axis=1)
        median = float(np.median(times[FP32])) / float(np.median(times[p]))
        cells = (
            ("–", "–", "–")
            if p == FP32
            else (f"{cosines.mean():.5f}", f"{cosines.min():.5f}", f"{np.percentile(cosines, 1):.5f}")
        )
        lines.append(
            f"| {p} | {len(functions) / best[p]:.1f} | {best[FP32] / best[p]:.2f} | {median:.2f} | {build[p]:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    if args.real_edits or args.real_edits_logs:
        lines += ["", "Review findings (`today` verdict), copies caught / copies and false alarms / negatives:", ""]
        lines += ["| benchmark | split | " + " | ".join(precisions) + " |", "|---|---|" + "---|" * len(precisions)]
        found = {}
        for p in precisions:
            if args.real_edits_logs:
                path = args.real_edits_logs / f"re_{p}.log"
                found[p] = real_edit_rows(path.read_text(encoding="utf-8") if path.is_file() else "")
            else:
                found[p] = real_edit_rows(run_real_edits(p, args.real_edits, Path(os.environ.get("TMPDIR", "/tmp"))))
        for section in ("real", "synthetic"):
            for split in sorted({s for p in precisions for s in found[p].get(section, {})}):
                cells = []
                for p in precisions:
                    row = found[p].get(section, {}).get(split)
                    cells.append(f"caught {row[0]}/{row[1]}, false alarms {row[2]}/{row[3]}" if row else "not run")
                lines.append(f"| {section} | {split} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.markdown:
        command = " ".join(["benchmarks/bench_fast_cpu.py", *(sys.argv[1:] if argv is None else argv)])
        args.markdown.write_text(
            "# Fast CPU inference: fp32 against the fast paths\n\n"
            f"Generated by `.venv/bin/python {command}`.\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
