"""Real copy-and-edit recall: the same functions in two releases of public libraries, through `doppel review`.

For each library of ``benchmarks/realedit/libraries.json`` the old and the new release are fetched
by name (PyPI, npm, Debian) into a cache, their functions paired by path and qualified name (token
3-gram Jaccard 0.3–0.95) and new functions with no counterpart and no lexical near-copy picked as
negatives. A git repository gets the old release as its base commit and, in its head commit, new
files holding the new versions and the negatives. The real CLI then reviews it
(``doppel review REPO --base HEAD~1 --format json``, as a subprocess, one data directory per
library so that re-runs reuse the index and the embedding cache), and each copy counts as caught
when it has a ``duplicate`` finding on its original. With ``--explain`` support the legacy verdict
is scored from the same run's candidates, side by side. Nothing fetched or built is committed:
it lives under ``$DOPPEL_BENCH_CACHE`` (default ``~/.cache/doppel-bench``).

    .venv/bin/python benchmarks/bench_real_edits.py --split all --markdown benchmarks/results/real_edits.md
    .venv/bin/python benchmarks/bench_real_edits.py --split calibrate --dump-candidates /tmp/candidates.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.realedit.build import BuildOptions, build_library  # noqa: E402
from benchmarks.realedit.manifest import MANIFEST, Library, load_manifest, select  # noqa: E402
from benchmarks.realedit.match import BANDS  # noqa: E402
from benchmarks.realedit.score import (  # noqa: E402
    Outcome,
    candidate_records,
    render_table,
    score_library,
    summarize,
    table_rows,
    verdicts_from_candidates,
    verdicts_from_findings,
)
from embedding.extract import ExtractOptions  # noqa: E402

REVIEW_TIMEOUT = 3600  # seconds for one library's review (indexing its base included)


@dataclass
class LibraryRun:
    """One library's truth, review JSON and outcomes, or the error that stopped it."""

    library: Library
    truth: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    build_seconds: float = 0.0
    review_seconds: float = 0.0
    error: str = ""


def default_cache() -> Path:
    return Path(os.environ.get("DOPPEL_BENCH_CACHE") or Path.home() / ".cache" / "doppel-bench").expanduser()


def doppel_command() -> list[str]:
    """This checkout's CLI (``python -m cli.main`` with the checkout first on the path)."""
    return [sys.executable, "-m", "cli.main"]


def review_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["DOPPEL_DATA_DIR"] = str(data_dir)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def supports_explain() -> bool:
    """Whether this checkout's ``doppel review`` has ``--explain`` (the candidates list)."""
    done = subprocess.run(
        [*doppel_command(), "review", "--help"], cwd=ROOT, env=review_env(default_cache() / "data" / "_help"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return "--explain" in done.stdout


def run_review(lib: Library, repo: Path, cache: Path, explain: bool) -> dict[str, Any]:
    command = [*doppel_command(), "review", str(repo), "--repo", lib.name, "--base", "HEAD~1", "--format", "json"]
    if explain:
        command.append("--explain")
    done = subprocess.run(
        command, cwd=ROOT, env=review_env(cache / "data" / lib.name), capture_output=True, text=True,
        timeout=REVIEW_TIMEOUT,
    )  # fmt: skip
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])[:500]
        raise RuntimeError(f"doppel review exited {done.returncode}: {tail}")
    return json.loads(done.stdout)


def run_library(lib: Library, args: argparse.Namespace, explain: bool) -> LibraryRun:
    run = LibraryRun(lib)
    options = BuildOptions(args.pair_cap, args.negative_cap, args.base_cap, args.seed)
    try:
        started = time.perf_counter()
        repo, run.truth = build_library(lib, args.cache, options, ExtractOptions(), rebuild=args.rebuild)
        run.build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        run.review = run_review(lib, repo, args.cache, explain)
        run.review_seconds = time.perf_counter() - started
    except Exception as exc:  # one library's failure is reported, the others still run
        run.error = f"{type(exc).__name__}: {exc}"[:600]
        return run
    verdicts = {"today": verdicts_from_findings(run.review)}
    if "candidates" in run.review:
        verdicts["legacy"] = verdicts_from_candidates(run.review["candidates"])
    run.outcomes = score_library(run.truth, verdicts)
    return run


def progress_line(index: int, total: int, run: LibraryRun) -> str:
    lib = run.library
    head = f"[{index}/{total}] {lib.name} ({lib.language}, {lib.split}, {lib.old} → {lib.new})"
    if run.error:
        return f"{head}: FAILED: {run.error}"
    parts = []
    for verdict in ("today", "legacy"):
        row = summarize(run.outcomes, lib.name, verdict)
        if row.pairs or row.negatives:
            parts.append(f"{verdict}: recall {row.recall:.2f}, false alarms {row.false_alarms}/{row.negatives}")
    stats = (run.review.get("stats") or {}).get("index") or {}
    return (
        f"{head}: {len(run.truth['pairs'])} pairs, {len(run.truth['negatives'])} negatives, "
        f"base {run.truth['base_functions']} functions; {'; '.join(parts)}; "
        f"embedded {stats.get('embedded', 0)}, cache hits {stats.get('cache_hits', 0)}; "
        f"build {run.build_seconds:.1f}s, review {run.review_seconds:.1f}s"
    )


def dump_candidates(runs: list[LibraryRun], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for run in runs:
            for record in candidate_records(run.truth, run.review.get("candidates", [])) if not run.error else []:
                out.write(json.dumps(record, sort_keys=True) + "\n")
                count += 1
    return count


# --- the results page ----------------------------------------------------------------------------
def machine() -> str:
    gpu = "none"
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        gpu = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else "none"
    return (
        f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"GPU: {gpu}, Python {platform.python_version()}"
    )


def library_table(runs: list[LibraryRun]) -> str:
    """One row per library: what it is, what was placed, and today's verdict on it."""
    header = ["library", "registry", "language", "old → new", "split", "pairs", *(f"J {b}" for b, _, _ in BANDS),
              "negatives", "not placeable", "base functions", "recall", "false alarms", "review s"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        lib, truth = run.library, run.truth
        registry = lib.registry if not lib.package else f"{lib.registry} `{lib.package}`"
        if run.error:
            lines.append(f"| {lib.name} | {registry} | {lib.language} | {lib.old} → {lib.new} | {lib.split} | "
                         f"failed: {run.error[:120]} |")  # fmt: skip
            continue
        bands = truth.get("bands", {})
        base = f"{truth['base_functions']}" + (
            f" (sampled from {truth['old_functions']})" if truth["base_sampled"] else ""
        )
        row = summarize(run.outcomes, lib.name, "today")
        cells = [lib.name, registry, lib.language, f"{lib.old} → {lib.new}", lib.split, str(len(truth["pairs"])),
                 *(str(bands.get(b, 0)) for b, _, _ in BANDS), str(len(truth["negatives"])),
                 str(truth.get("dropped_unplaceable", 0)), base, f"{row.recall:.2f}",
                 f"{row.false_alarms}/{row.negatives}", f"{run.review_seconds:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_markdown(path: Path, runs: list[LibraryRun], args: argparse.Namespace, explain: bool, seconds: float) -> None:
    outcomes = [o for run in runs for o in run.outcomes]
    sampled = [run.library.name for run in runs if run.truth.get("base_sampled")]
    command = "benchmarks/bench_real_edits.py " + " ".join(args.argv)
    text = f"""# Real-edit benchmark: copies people really make

Generated by `.venv/bin/python {command.strip()}` in {seconds / 60:.1f} minutes.
Machine: {machine()}.

Each library's old release is the base commit of a git repository; its head commit adds new files
(`doppel_head/…`) holding the new release's versions of functions paired by path and qualified name
(token 3-gram Jaccard with the original in 0.3–0.95, at most {args.pair_cap} per library, seeded), and
up to {args.negative_cap} *negatives*: functions of the new release whose qualified name is nowhere in the
old one and whose best Jaccard against every old function is below 0.3. `doppel review REPO --base
HEAD~1 --format json` (this checkout's CLI, defaults, base encoder) reviews it. A copy is **caught**
when it has a `duplicate` finding whose target is its original; **other target**: a `duplicate` on
something else; **related only**: a `related` finding on its original. A **false alarm** is a negative
with any `duplicate` finding. Functions are extracted with doppel's own extractor at its default
`min_function_lines`; tests, docs, examples and vendored or generated files are left out.
{"The legacy verdict (0.1·cosine + 0.9·lexical, duplicate ≥ 0.76, related ≥ 0.58) is scored from the same run's `--explain` candidates." if explain else "This checkout's `doppel review` has no `--explain`, so only today's verdict is scored."}
Base sampling: {"none: every base holds the whole old release" if not sampled else "the old releases of " + ", ".join(sampled) + f" hold more than {args.base_cap} functions; their base holds the files with the originals plus a seeded sample of the others"}.

## Libraries

'calibrate' libraries are for choosing thresholds and weights; 'report' libraries are held out.

{library_table(runs)}

"Not placeable": sampled pairs or negatives that no wrapping gave back exactly once with the same
qualified name and body (e.g. a function inside an array literal, a chained assignment); they are
left out of the counts. "Review s": wall time of `doppel review`, model load and indexing included.

## Results

Recall: copies caught / copies; each band's cell is caught / copies in that Jaccard band.

{render_table(table_rows(outcomes))}

## Candidate dump

`--dump-candidates FILE` (needs `--explain`) writes one JSON object per line for every scored
(changed function, target) pair: `library`, `split`, `language`, `function` and `target` (as the
review's candidates give them: `path`, `qualified_name`, lines), `kind` (the review's verdict:
`duplicate`, `related` or null), `features` (the review's signals: `cosine`, `lexical`, …),
`label` (1 when the target is the function's original, else 0), `function_set` (`pair`: a copy,
`negative`: a genuinely new function, `other`: anything else the head changed), and for pairs
`jaccard` and `band`.
"""
    path.write_text(text, encoding="utf-8")


# --- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("calibrate", "report", "all"), default="report")
    parser.add_argument("--libraries", help="comma-separated library names (default: all of the split)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument(
        "--cache", type=Path, default=None, help="default: $DOPPEL_BENCH_CACHE or ~/.cache/doppel-bench"
    )
    parser.add_argument("--markdown", type=Path, help="write the results page here")
    parser.add_argument("--dump-candidates", type=Path, help="write one labelled JSON line per --explain candidate")
    parser.add_argument("--jobs", type=int, default=1, help="libraries reviewed at once")
    parser.add_argument("--pair-cap", type=int, default=150)
    parser.add_argument("--negative-cap", type=int, default=60)
    parser.add_argument("--base-cap", type=int, default=3000, help="base functions before the base is sampled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the repositories even when cached")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.cache = (args.cache or default_cache()).expanduser().resolve()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # trial placements parse broken snippets on purpose
    libraries = select(load_manifest(args.manifest), args.split, args.libraries)
    explain = supports_explain()
    if args.dump_candidates and not explain:
        print("--dump-candidates needs `doppel review --explain`, which this checkout does not have", file=sys.stderr)
        return 2
    print(f"{len(libraries)} libraries, cache {args.cache}, explain={'yes' if explain else 'no'}", flush=True)
    started = time.perf_counter()
    runs: list[LibraryRun] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_library, lib, args, explain) for lib in libraries]
        for index, future in enumerate(futures, 1):
            runs.append(future.result())
            print(progress_line(index, len(libraries), runs[-1]), flush=True)
    seconds = time.perf_counter() - started
    outcomes = [o for run in runs for o in run.outcomes]
    print()
    print(render_table(table_rows(outcomes), markdown=False))
    print(f"\n{len(runs)} libraries in {seconds:.0f}s ({sum(1 for r in runs if r.error)} failed)")
    if args.dump_candidates:
        count = dump_candidates(runs, args.dump_candidates)
        print(f"wrote {count} candidates to {args.dump_candidates}")
    if args.markdown:
        write_markdown(args.markdown, runs, args, explain, seconds)
        print(f"wrote {args.markdown}")
    return 1 if any(run.error for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
