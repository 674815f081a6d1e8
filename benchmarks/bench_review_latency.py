"""Webhook to posted review, end to end on the CPU: how long a pull request waits for doppel.

Builds a repository of about --functions functions from the Python standard library's own files,
serves it with the whole bot as the end-to-end tests run it (``tests/e2e/harness.py``: the real
receiver, Redis, a real Celery worker with the production runtime, git, MiniLM, Qdrant Edge, the
fake GitHub on loopback), indexes it through an installation event, then opens --prs pull requests
that each change --changed functions (one of them a renamed copy of an existing function, so that
every review has something to post) and times each from the signed webhook's POST to the end of
the review task (review computed and published). One warm-up pull request is not counted.

The embedding cache and the index live in --data-dir and are reused between runs, so only the
first run at a size pays for embedding the repository (MiniLM on a busy 2-core CPU: a few to
twenty functions a second).

    .venv/bin/python -m benchmarks.bench_review_latency                      # 5,000 functions, 8 PRs
    .venv/bin/python -m benchmarks.bench_review_latency --functions 1000 --prs 5

(Run as a module from the repository root: it imports the e2e harness from ``tests``.)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# It drives the e2e harness (tests/e2e), so the repository root must be importable when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.domain import CodeFunction  # noqa: E402
from embedding.extract import ExtractOptions, extract_source  # noqa: E402
from tests.e2e.harness import GitRemote, World, installation_payload, open_world, pull_payload, redis_reachable  # noqa: E402

SLUG = "bench/stdlib"
INSTALLATION = 7
REDIS_URL = "redis://127.0.0.1:6379/12"  # its own database: flushed before and after
SKIP_PARTS = {"test", "tests", "idlelib", "site-packages", "lib2to3", "turtledemo", "__pycache__", "ensurepip"}


def stdlib_repository(target: int, options: ExtractOptions) -> tuple[dict[str, str], list[CodeFunction]]:
    """Standard-library files under ``lib/`` until they hold at least ``target`` functions."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files: dict[str, str] = {}
    functions: list[CodeFunction] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP_PARTS & set(rel.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        repo_path = f"lib/{rel.as_posix()}"
        found = extract_source(repo_path, text.encode(), options).functions
        if not found:
            continue
        files[repo_path] = text
        functions += found
        if len(functions) >= target:
            break
    return files, functions


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def editable(fn: CodeFunction, lines: list[str]) -> bool:
    """A statement can be appended after the function's last line and still belong to it."""
    if fn.end_line > len(lines) or fn.line_count < 3:
        return False
    last, first = lines[fn.end_line - 1], lines[fn.start_line - 1]
    return bool(last.strip()) and _indent(last) > _indent(first) and not last.rstrip().endswith(("\\", ",", "("))


def pull_request_files(
    files: dict[str, str], functions: list[CodeFunction], number: int, changed: int
) -> dict[str, str]:
    """``changed - 1`` functions get one more statement; one top-level function is copied under a new name."""
    rng = random.Random(number)
    lines_of = {path: text.splitlines() for path, text in files.items()}
    candidates = [fn for fn in functions if editable(fn, lines_of[fn.path])]
    picked: dict[str, list[CodeFunction]] = {}
    for fn in rng.sample(candidates, len(candidates)):
        if len(picked) == changed - 1:
            break
        if fn.path not in picked:  # one per file: edits never overlap
            picked[fn.path] = [fn]
    out: dict[str, str] = {}
    for path, fns in picked.items():
        lines = list(lines_of[path])
        for k, fn in enumerate(sorted(fns, key=lambda f: -f.end_line)):
            indent = " " * _indent(lines[fn.end_line - 1])
            lines.insert(fn.end_line, f"{indent}doppel_bench_{number}_{k} = {k}")
        out[path] = "\n".join(lines) + "\n"
    top_level = [
        fn
        for fn in functions
        if "." not in fn.qualified_name
        and 5 <= fn.line_count <= 40
        and fn.path not in picked
        and fn.code.startswith("def ")
    ]
    original = rng.choice(top_level)
    copy = re.sub(rf"^def {re.escape(original.name)}\b", f"def {original.name}_again", original.code, count=1)
    out[f"lib/bench_copies/pr_{number}.py"] = f'"""Copied for pull request {number}."""\n\n\n{copy}\n'
    return out


@dataclass
class Sample:
    number: int
    seconds: float
    review_seconds: float | None
    outcome: str


def review_seconds(world: World, head: str) -> float | None:
    """The review service's own time for ``head``, from the worker's ``review.done`` log line."""
    found = re.findall(rf"review\.done .*head={head[:12]} .*seconds=([0-9.]+)", world.workers.log_tail(2_000_000))
    return float(found[-1]) if found else None


def time_pull(world: World, remote: GitRemote, files: dict[str, str], number: int) -> Sample:
    remote.open_branch(number)
    base = remote.main
    head = remote.push_pull(number, files, f"bench pull request {number}")
    world.state.add_pull(
        SLUG, number, head_sha=head, base_sha=base, files=remote.pull_files(base, head), author="alice"
    )
    started = time.perf_counter()
    (task,) = world.hooks.deliver("pull_request", pull_payload("opened", INSTALLATION, SLUG, number, head, base))
    outcome = world.result(task, timeout=600)
    seconds = time.perf_counter() - started
    return Sample(number, seconds, review_seconds(world, head), str(outcome))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=5000, help="functions in the repository (default 5000)")
    parser.add_argument("--prs", type=int, default=8, help="timed pull requests (default 8)")
    parser.add_argument("--changed", type=int, default=10, help="functions each pull request changes (default 10)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "out" / "review_latency_data",
        help="embedding cache and index, kept between runs (default benchmarks/out/review_latency_data)",
    )
    parser.add_argument("--index-timeout", type=float, default=4 * 3600, help="seconds to wait for the first index")
    args = parser.parse_args()

    problem = redis_reachable(REDIS_URL)
    if problem is not None:
        raise SystemExit(f"Redis at {REDIS_URL} is not reachable: {problem}")
    options = ExtractOptions()
    files, functions = stdlib_repository(args.functions, options)
    print(f"repository: {len(files)} standard-library files, {len(functions)} functions")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="doppel-bench-") as tmp,
        open_world(Path(tmp), redis_url=REDIS_URL, data_dir=args.data_dir) as world,
    ):
        remote = world.add_repository(SLUG, INSTALLATION, files)
        started = time.perf_counter()
        (task,) = world.hooks.deliver("installation", installation_payload(INSTALLATION, [SLUG]))
        stats = world.result(task, timeout=args.index_timeout)
        print(
            f"index: {stats['functions']} functions in {time.perf_counter() - started:.1f}s "
            f"(embedded {stats['embedded']}, cache hits {stats['cache_hits']}, mode {stats['mode']})"
        )
        warm = time_pull(world, remote, pull_request_files(files, functions, 1, args.changed), 1)
        print(f"warm-up PR: {warm.seconds:.2f}s ({warm.outcome})")
        samples = []
        for number in range(2, args.prs + 2):
            sample = time_pull(world, remote, pull_request_files(files, functions, number, args.changed), number)
            samples.append(sample)
            review = f"{sample.review_seconds:.2f}s" if sample.review_seconds is not None else "?"
            print(f"PR {number}: {sample.seconds:.2f}s webhook→posted (review service {review}) {sample.outcome}")
        posted = [s for s in samples if s.outcome == "posted"]
        reviews = len(world.state.reviews_on(SLUG, 2)) if samples else 0
    seconds = [s.seconds for s in samples]
    service = [s.review_seconds for s in samples if s.review_seconds is not None]
    print()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"load average: {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print("| functions | PRs | changed/PR | p50 (s) | p95 (s) | max (s) | review service p50 (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {stats['functions']:,} | {len(samples)} | {args.changed} | {statistics.median(seconds):.2f} | "
        f"{percentile(seconds, 0.95):.2f} | {max(seconds):.2f} | "
        f"{statistics.median(service) if service else float('nan'):.2f} |"
    )
    print(f"posted: {len(posted)}/{len(samples)}; reviews on PR 2: {reviews}")
    return 0 if len(posted) == len(samples) else 1


if __name__ == "__main__":
    raise SystemExit(main())
