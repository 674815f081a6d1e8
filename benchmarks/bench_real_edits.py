"""Real copy-and-edit recall: the same functions in two releases of public libraries, through `doppel review`.

For each library of ``benchmarks/realedit/libraries.json`` the old and the new release are fetched
by name (PyPI, npm, Debian) into a cache, their functions paired by path and qualified name (token
3-gram Jaccard 0.3–0.95) and new functions with no counterpart and no lexical near-copy picked as
negatives. A git repository gets the old release as its base commit and, in its head commit, new
files holding the new versions and the negatives. The real CLI then reviews it
(``doppel review REPO --base HEAD~1 --format json``, as a subprocess, one data directory per
library so that re-runs reuse the index and the embedding cache), and each copy counts as caught
when it has a ``duplicate`` finding on its original. With ``--explain`` support the legacy verdict
is scored from the same run's candidates, side by side.

``--mode synthetic`` (or ``both``, the default) also reviews, on the same base, a head of synthetic
clones of the old release's own functions (``embedding/clones.py``: ``renamed`` and
``renamed_edited``) plus the same negatives, in a repository of its own
(``benchmarks/realedit/synthetic.py``), and scores recall per clone kind. Nothing fetched or built is
committed: it lives under ``$DOPPEL_BENCH_CACHE`` (default ``~/.cache/doppel-bench``).

    .venv/bin/python benchmarks/bench_real_edits.py --split all --markdown benchmarks/results/real_edits.md
    .venv/bin/python benchmarks/bench_real_edits.py --split calibrate --dump-candidates /tmp/candidates.jsonl
    .venv/bin/python benchmarks/bench_real_edits.py --mode synthetic --split all
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
    CLONE_KINDS,
    Outcome,
    candidate_records,
    render_table,
    score_library,
    summarize,
    table_rows,
    verdicts_from_candidates,
    verdicts_from_findings,
)
from benchmarks.realedit.synthetic import DROP_REASONS, SyntheticOptions, build_synthetic  # noqa: E402
from embedding.extract import ExtractOptions  # noqa: E402
from embedding.precision import PRECISIONS  # noqa: E402

MODES = ("real", "synthetic")

REVIEW_TIMEOUT = 3600  # seconds for one library's review (indexing its base included)


@dataclass
class LibraryRun:
    """One library's truth, review JSON and outcomes in one mode, or the error that stopped it."""

    library: Library
    mode: str = "real"
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


PRECISION: str | None = None  # --precision: DOPPEL_INFERENCE_PRECISION for the reviews


def data_root(cache: Path) -> Path:
    """Data directories (index, embedding cache) per library; a --precision other than fp32 gets its own."""
    return cache / "data" if PRECISION in (None, "fp32") else cache / f"data-{PRECISION}"


def review_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    if PRECISION is not None:
        env["DOPPEL_INFERENCE_PRECISION"] = PRECISION
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


def repo_name(lib: Library, mode: str) -> str:
    """The repository name a mode's review indexes under: each mode has its own index, and both
    share the library's data directory (so the base's embeddings are computed once)."""
    return lib.name if mode == "real" else f"{lib.name}-{mode}"


def run_review(lib: Library, repo: Path, cache: Path, explain: bool, mode: str = "real") -> dict[str, Any]:
    command = [*doppel_command(), "review", str(repo), "--repo", repo_name(lib, mode), "--base", "HEAD~1",
               "--format", "json"]  # fmt: skip
    if explain:
        command.append("--explain")
    done = subprocess.run(
        command, cwd=ROOT, env=review_env(data_root(cache) / lib.name), capture_output=True, text=True,
        timeout=REVIEW_TIMEOUT,
    )  # fmt: skip
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])[:500]
        raise RuntimeError(f"doppel review exited {done.returncode}: {tail}")
    return json.loads(done.stdout)


def run_library(lib: Library, args: argparse.Namespace, explain: bool, mode: str = "real") -> LibraryRun:
    run = LibraryRun(lib, mode)
    options = BuildOptions(args.pair_cap, args.negative_cap, args.base_cap, args.seed)
    try:
        started = time.perf_counter()
        if mode == "real":
            repo, run.truth = build_library(lib, args.cache, options, ExtractOptions(), rebuild=args.rebuild)
        else:
            synthetic = SyntheticOptions(args.originals_cap, args.min_lines, args.seed, args.clone_docs == "keep")
            repo, run.truth = build_synthetic(
                lib, args.cache, options, synthetic, ExtractOptions(), rebuild=args.rebuild
            )
        run.build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        run.review = run_review(lib, repo, args.cache, explain, mode)
        run.review_seconds = time.perf_counter() - started
    except Exception as exc:  # one library's failure is reported, the others still run
        run.error = f"{type(exc).__name__}: {exc}"[:600]
        return run
    verdicts = {"today": verdicts_from_findings(run.review)}
    if "candidates" in run.review:
        verdicts["legacy"] = verdicts_from_candidates(run.review["candidates"])
    run.outcomes = score_library(run.truth, verdicts)
    return run


def run_modes(lib: Library, args: argparse.Namespace, explain: bool) -> list[LibraryRun]:
    """The library in each mode asked for, one after the other (they share its data directory)."""
    return [run_library(lib, args, explain, mode) for mode in args.modes]


def progress_line(index: int, total: int, run: LibraryRun) -> str:
    lib = run.library
    head = f"[{index}/{total}] {lib.name} {run.mode} ({lib.language}, {lib.split}, {lib.old} → {lib.new})"
    if run.error:
        return f"{head}: FAILED: {run.error}"
    role = "pair" if run.mode == "real" else "clone"
    parts = []
    for verdict in ("today", "legacy"):
        row = summarize(run.outcomes, lib.name, verdict, role)
        if row.pairs or row.negatives:
            kinds = "".join(f", {k} {_ratio(*row.bands[k])}" for k in CLONE_KINDS) if role == "clone" else ""
            parts.append(f"{verdict}: recall {row.recall:.2f}{kinds}, false alarms {row.false_alarms}/{row.negatives}")
    stats = (run.review.get("stats") or {}).get("index") or {}
    if role == "pair":
        placed = f"{len(run.truth['pairs'])} pairs"
    else:
        dropped = run.truth["dropped_clones"]
        placed = (
            f"{len(run.truth['clones'])} clones of {run.truth['originals']} originals (dropped "
            + ", ".join(f"{dropped[r]} {r}" for r in DROP_REASONS)
            + ")"
        )
    return (
        f"{head}: {placed}, {len(run.truth['negatives'])} negatives, "
        f"base {run.truth['base_functions']} functions; {'; '.join(parts)}; "
        f"embedded {stats.get('embedded', 0)}, cache hits {stats.get('cache_hits', 0)}; "
        f"build {run.build_seconds:.1f}s, review {run.review_seconds:.1f}s"
    )


def _ratio(hits: int, total: int) -> str:
    return f"{hits / total:.2f}" if total else "–"


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


def synthetic_table(runs: list[LibraryRun]) -> str:
    """One row per library in synthetic mode: what was cloned and placed, and today's verdict on it."""
    header = ["library", "language", "split", "originals", *CLONE_KINDS, *(f"dropped: {r}" for r in DROP_REASONS),
              "negatives", *(f"recall {k}" for k in CLONE_KINDS), "false alarms", "review s"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        lib, truth = run.library, run.truth
        if run.error:
            lines.append(f"| {lib.name} | {lib.language} | {lib.split} | failed: {run.error[:120]} |")
            continue
        row = summarize(run.outcomes, lib.name, "today", "clone")
        kinds, dropped = truth.get("kinds", {}), truth.get("dropped_clones", {})
        cells = [lib.name, lib.language, lib.split, str(truth["originals"]), *(str(kinds.get(k, 0)) for k in CLONE_KINDS),
                 *(str(dropped.get(r, 0)) for r in DROP_REASONS), str(len(truth["negatives"])),
                 *(_ratio(*row.bands[k]) for k in CLONE_KINDS), f"{row.false_alarms}/{row.negatives}",
                 f"{run.review_seconds:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_section(runs: list[LibraryRun], args: argparse.Namespace, explain: bool) -> str:
    outcomes = [o for run in runs for o in run.outcomes]
    sampled = [run.library.name for run in runs if run.truth.get("base_sampled")]
    return f"""Each library's old release is the base commit of a git repository; its head commit adds new files
(`doppel_head/…`) holding the new release's versions of functions paired by path and qualified name
(token 3-gram Jaccard with the original in 0.3–0.95, at most {args.pair_cap} per library, seeded), and
up to {args.negative_cap} *negatives*: functions of the new release whose qualified name is nowhere in the
old one and whose best Jaccard against every old function is below 0.3. `doppel review REPO --base
HEAD~1 --format json` (this checkout's CLI, defaults, base encoder) reviews it. A copy is **caught**
when it has a `duplicate` finding whose target is its original; **other target**: a `duplicate` on
something else; **related only**: a `related` finding on its original. A **false alarm** is a negative
with any `duplicate` finding. Functions are extracted with doppel's own extractor at its default
`min_function_lines`; tests, docs, examples and vendored or generated files are left out.
{_legacy_line(explain)}
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
"""


def _legacy_line(explain: bool) -> str:
    if explain:
        return (
            "The legacy verdict (0.1·cosine + 0.9·lexical, duplicate ≥ 0.76, related ≥ 0.58) is scored from "
            "the same run's `--explain` candidates."
        )
    return "This checkout's `doppel review` has no `--explain`, so only today's verdict is scored."


def synthetic_section(runs: list[LibraryRun], args: argparse.Namespace, explain: bool) -> str:
    outcomes = [o for run in runs for o in run.outcomes]
    return f"""The same libraries, the same base commit (the old release), and a head of synthetic copies:
for a seeded sample of at most {args.originals_cap} of the base's functions per library (at least
{args.min_lines} lines of code, not nested, a body found once in the base), one `renamed` clone
(locals, parameters and the function renamed) and one `renamed_edited` clone (renamed, then 1–3
statements inserted, deleted or changed) from `embedding/clones.py`, each wrapped as its original
is (a method in a class of the same name) in new files under `doppel_synth/<kind>/…`, with its
original's docstring or doc comment {"kept" if args.clone_docs == "keep" else "dropped (`--clone-docs drop`)"}, plus the real
mode's negatives. A clone is kept only when it extracts back exactly once; the rest are counted as
dropped (`clone_failed`: the clone maker raised; `unchanged`: the clone has its original's body,
e.g. PHP, whose variables the clone maker does not rename; `unplaceable`: no wrapping or no clean
extraction). Each library is its own repository (`<library>-synthetic`), reviewed as in the real
mode; a clone is caught when it has a `duplicate` finding on its original (the two clones of one
original may also be reported against each other as `intra_pr`; that does not count).
{_legacy_line(explain)}

{synthetic_table(runs)}

Recall: clones caught / clones, overall and per kind.

{render_table(table_rows(outcomes, "clone"), role="clone")}
"""


def write_markdown(path: Path, runs: list[LibraryRun], args: argparse.Namespace, explain: bool, seconds: float) -> None:
    command = "benchmarks/bench_real_edits.py " + " ".join(args.argv)
    real = [run for run in runs if run.mode == "real"]
    synthetic = [run for run in runs if run.mode == "synthetic"]
    title = "Real-edit benchmark: copies people really make" if real else "Real-edit benchmark, synthetic mode"
    parts = [
        f"# {title}\n\nGenerated by `.venv/bin/python {command.strip()}` in {seconds / 60:.1f} minutes.\n"
        f"Machine: {machine()}.\n"
    ]
    if real:
        parts.append(real_section(real, args, explain))
    if synthetic:
        parts.append(("## Synthetic clones\n\n" if real else "") + synthetic_section(synthetic, args, explain))
    parts.append(CANDIDATE_DUMP)
    path.write_text("\n".join(parts), encoding="utf-8")


CANDIDATE_DUMP = """## Candidate dump

`--dump-candidates FILE` (needs `--explain`) writes one JSON object per line for every scored
(changed function, target) pair: `library`, `split`, `language`, `mode` (`real` or `synthetic`),
`function` and `target` (as the review's candidates give them: `path`, `qualified_name`, lines),
`kind` (the review's verdict: `duplicate`, `related` or null), `features` (the review's signals:
`cosine`, `lexical`, …), `label` (1 when the target is the function's original, else 0),
`identical` (the function's and the target's body hashes are equal), `function_set` (`pair`: a real
copy, `clone`: a synthetic one, `negative`: a genuinely new function, `other`: anything else the head
changed), for pairs `jaccard` and `band`, for clones `clone_kind`.
"""


# --- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("calibrate", "report", "all"), default="report")
    parser.add_argument(
        "--mode", choices=(*MODES, "both"), default="both", help="real edits, synthetic clones, or both (default)"
    )
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
    parser.add_argument("--originals-cap", type=int, default=60, help="synthetic mode: functions cloned per library")
    parser.add_argument("--min-lines", type=int, default=5, help="synthetic mode: lines of code an original needs")
    parser.add_argument(
        "--clone-docs", choices=("keep", "drop"), default="keep",
        help="synthetic mode: clones keep their original's docstring or doc comment (default), or drop it",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=None,
        help="DOPPEL_INFERENCE_PRECISION for the reviews (default: the environment's, else the setting's default)",
    )  # fmt: skip
    parser.add_argument("--rebuild", action="store_true", help="rebuild the repositories even when cached")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.cache = (args.cache or default_cache()).expanduser().resolve()
    args.modes = MODES if args.mode == "both" else (args.mode,)
    global PRECISION
    PRECISION = args.precision
    for name in ("jobs", "pair_cap", "negative_cap", "base_cap", "originals_cap", "min_lines"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # trial placements parse broken snippets on purpose
    libraries = select(load_manifest(args.manifest), args.split, args.libraries)
    explain = supports_explain()
    if args.dump_candidates and not explain:
        print("--dump-candidates needs `doppel review --explain`, which this checkout does not have", file=sys.stderr)
        return 2
    print(
        f"{len(libraries)} libraries, modes {', '.join(args.modes)}, cache {args.cache}, "
        f"explain={'yes' if explain else 'no'}",
        flush=True,
    )
    started = time.perf_counter()
    runs: list[LibraryRun] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_modes, lib, args, explain) for lib in libraries]
        for index, future in enumerate(futures, 1):
            for run in future.result():
                runs.append(run)
                print(progress_line(index, len(libraries), run), flush=True)
    seconds = time.perf_counter() - started
    for mode in args.modes:
        role = "pair" if mode == "real" else "clone"
        outcomes = [o for run in runs if run.mode == mode for o in run.outcomes]
        print(f"\n{'Real edits' if mode == 'real' else 'Synthetic clones'}:")
        print(render_table(table_rows(outcomes, role), markdown=False, role=role))
    failed = sum(1 for r in runs if r.error)
    print(f"\n{len(libraries)} libraries, {len(runs)} reviews in {seconds:.0f}s ({failed} failed)")
    if args.dump_candidates:
        count = dump_candidates(runs, args.dump_candidates)
        print(f"wrote {count} candidates to {args.dump_candidates}")
    if args.markdown:
        write_markdown(args.markdown, runs, args, explain, seconds)
        print(f"wrote {args.markdown}")
    return 1 if any(run.error for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
