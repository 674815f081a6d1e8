"""Peak memory and wall time of ``doppel train`` against repository size, side by side in one run.

Issue 11 saw a 530-file training peak at 6.2 GB RSS, and nothing measured how that grows with the
repository. This script builds plain directories of real Python code with about 1k, 5k and 20k
functions (the running interpreter's standard library, tests and tools left out, then, past what
it holds, the installed PyPI packages named in ``EXTRA_PACKAGES``), and runs the real command,
``doppel train DIR --languages python --no-shared --no-reindex``, on each, one subprocess per
size. A run is the whole loop: mining (functions, doc-text, synthetic and history pairs), hard
negatives, training for ``--max-steps`` optimiser steps (few: memory, not quality, is measured),
evaluation of base and adapter on the validation and test splits over the whole pool,
calibration, the verdict refit and registering. Peak RSS is the child's ``ru_maxrss`` from
``os.wait4`` (the subprocess alone, not this script), wall time the subprocess's.

    .venv/bin/python benchmarks/bench_train_memory.py                          # 1k, 5k, 20k; writes results/train_memory.md
    .venv/bin/python benchmarks/bench_train_memory.py --sizes 1000 --max-steps 2 --no-markdown
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "train_memory.md"
# Installed PyPI packages whose code tops the standard library up to the largest size, in order.
EXTRA_PACKAGES = ("transformers", "huggingface_hub", "celery", "accelerate")
# Standard-library folders that are tests, tools, generated tables or GUI demos rather than library code.
_SKIP_PARTS = frozenset(
    {"test", "tests", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "site-packages", "lib-dynload",
     "pydoc_data", "__pycache__", "venv", "distutils", "encodings"}
)  # fmt: skip


@dataclass
class Run:
    size: int
    functions: int
    files: int
    rc: int
    seconds: float
    peak_mb: float
    pairs: int | None = None
    steps: int | None = None
    carrying: str = ""
    error: str = ""


def candidate_files() -> list[tuple[Path, str]]:
    """(file, path inside the built repository) of every source file to draw from, in a fixed order."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    out = [
        (p, f"stdlib/{p.relative_to(lib).as_posix()}")
        for p in sorted(lib.rglob("*.py"))
        if not set(p.relative_to(lib).parts) & _SKIP_PARTS
        and not p.name.startswith("test")
        and not p.relative_to(lib).parts[0].startswith("config-")
        and p.stat().st_size < 200_000
    ]
    site = Path(sysconfig.get_paths()["purelib"])
    for package in EXTRA_PACKAGES:
        root = site / package
        if root.is_dir():
            out += [
                (p, f"{package}/{p.relative_to(root).as_posix()}")
                for p in sorted(root.rglob("*.py"))
                if "tests" not in p.relative_to(root).parts and p.stat().st_size < 200_000
            ]
    return out


def build_repository(target: Path, size: int, files: list[tuple[Path, str]]) -> tuple[int, int]:
    """Copy files into ``target`` until they hold at least ``size`` functions; (functions, files)."""
    from embedding.extract import ExtractOptions, extract_source

    options = ExtractOptions(languages=("python",))
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    functions = copied = 0
    for source, rel in files:
        if functions >= size:
            break
        data = source.read_bytes()
        found = len(extract_source(rel, data, options).functions)
        if not found:
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        functions += found
        copied += 1
    return functions, copied


def run_train(repo: Path, data_dir: Path, args: argparse.Namespace) -> tuple[int, float, float, dict | None, str]:
    """``doppel train`` on ``repo`` in a subprocess: (rc, seconds, peak RSS in MB, its JSON report, stderr tail)."""
    command = [
        sys.executable, "-m", "cli.main", "train", str(repo),
        "--languages", "python", "--no-shared", "--no-reindex", "--min-pairs", "1",
        "--max-steps", str(args.max_steps), "--max-length", str(args.max_length),
        "--data-dir", str(data_dir), "--device", "cpu", "--format", "json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DOPPEL_EMBEDDING_CACHE": "false"}
    if args.base_model != "default":
        env["DOPPEL_BASE_MODEL"] = args.base_model
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            child.kill()
            raise
        seconds = time.perf_counter() - started
        rc = os.waitstatus_to_exitcode(status)
        child.returncode = rc
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    report = None
    try:
        report = json.loads(stdout[stdout.index("{") :]) if "{" in stdout else None
    except json.JSONDecodeError:
        report = None
    return rc, seconds, usage.ru_maxrss / 1024, report, stderr[-2000:]


def summarise(run: Run, report: dict | None) -> None:
    if not report:
        return
    adapters = report.get("adapters") or []
    train = (adapters[0].get("train") or {}) if adapters else {}
    run.pairs = train.get("pairs")
    run.steps = train.get("steps")
    epochs = train.get("epochs") or []
    run.carrying = ", ".join(f"{e['carrying_fraction']:.2f}" for e in epochs if "carrying_fraction" in e)


def table(runs: list[Run], args: argparse.Namespace) -> str:
    lines = [
        "| target functions | functions | files | training pairs | steps | peak RSS (MB) | wall (s) | rc |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r.size:,} | {r.functions:,} | {r.files:,} | {r.pairs if r.pairs is not None else '-'} | "
            f"{r.steps if r.steps is not None else '-'} | {r.peak_mb:,.0f} | {r.seconds:,.0f} | {r.rc} |"
        )
    if len(runs) > 1 and runs[0].peak_mb:
        lines.append("")
        lines.append(
            "Peak RSS relative to the smallest: "
            + ", ".join(f"{r.size:,}: {r.peak_mb / runs[0].peak_mb:.2f}x" for r in runs)
            + f"; functions {runs[-1].functions / max(runs[0].functions, 1):.1f}x."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="comma-separated function counts")
    parser.add_argument("--max-steps", type=int, default=3, help="optimiser steps per run (memory, not quality)")
    parser.add_argument(
        "--max-length", type=int, default=256, help="token limit per text (DOPPEL_MAX_LENGTH's default)"
    )
    parser.add_argument("--threads", type=int, default=0, help="OMP/MKL threads for the child (0: torch's default)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "doppel-train-memory")
    parser.add_argument("--markdown", type=Path, default=OUT, help="where the table goes")
    parser.add_argument("--no-markdown", action="store_true", help="print only")
    parser.add_argument(
        "--base-model",
        default="default",
        help="'default' (all-MiniLM-L6-v2), a model directory, or 'tiny': a 2-layer model built on the spot "
        "(tests/tiny_models.py), so that what grows with the repository shows apart from the model's compute",
    )
    args = parser.parse_args(argv)
    if args.base_model == "tiny":
        from tests.tiny_models import build_tiny_roberta

        args.base_model = str(build_tiny_roberta(args.work / "tiny-model"))

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    files = candidate_files()
    runs: list[Run] = []
    for size in sizes:
        repo = args.work / f"repo-{size}"
        functions, copied = build_repository(repo, size, files)
        data_dir = args.work / f"data-{size}"
        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"size {size}: {functions} functions in {copied} files; training …", flush=True)
        rc, seconds, peak, report, stderr = run_train(repo, data_dir, args)
        run = Run(size, functions, copied, rc, seconds, peak, error="" if rc == 0 else stderr)
        summarise(run, report)
        runs.append(run)
        print(
            f"size {size}: rc={rc} peak={peak:,.0f} MB wall={seconds:,.0f} s pairs={run.pairs} "
            f"carrying per epoch: {run.carrying or '-'}",
            flush=True,
        )
        if rc != 0:
            print(stderr, file=sys.stderr)
        if not args.no_markdown:
            write_markdown(runs, args, argv)
    print(table(runs, args))
    return 0 if all(r.rc == 0 for r in runs) else 1


def write_markdown(runs: list[Run], args: argparse.Namespace, argv: list[str] | None) -> None:
    """The table so far (written after every size, so a long run leaves what it measured)."""
    text = table(runs, args)
    header = (
        "# Training memory against repository size\n\n"
        f"`{' '.join(['benchmarks/bench_train_memory.py', *(argv if argv is not None else sys.argv[1:])])}` on "
        f"{platform.machine()} ({os.cpu_count()} CPUs), Python {platform.python_version()}: one `doppel train` "
        f"subprocess per size (`--max-steps {args.max_steps} --max-length {args.max_length} --languages python "
        "--no-shared --no-reindex --min-pairs 1 --device cpu`), peak RSS from `os.wait4`. Code: the standard "
        f"library (tests and tools left out), then {', '.join(EXTRA_PACKAGES)} from site-packages. "
        f"Base model: {'all-MiniLM-L6-v2' if args.base_model == 'default' else args.base_model}.\n\n"
    )
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(header + text + "\n", encoding="utf-8")
    print(f"wrote {args.markdown}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
