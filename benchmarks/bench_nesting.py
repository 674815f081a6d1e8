"""Extraction time on deeply nested input, before and after the linear walk, side by side in one run.

Issue 10 measured ``function f(){`` nested 1,000 times (16 KB) at 29 s: extraction was roughly
cubic in depth. This script builds the same input at several depths (and the Rust and Python
equivalents), then runs ``extract_source`` on it twice per depth, each in its own subprocess:
"before" with the extractor of the commit before the change (checked out with ``git worktree``
into a temporary folder), "after" with this working tree's. Each run has a timeout, and a run
past it prints ``>N s``. Times are the best of ``--repeat`` runs inside one subprocess, the
extraction call alone (imports and parser loading excluded). Both sides use
``min_function_lines=1`` so that every level counts, and the table shows that both found the
same number of functions.

    .venv/bin/python benchmarks/bench_nesting.py                     # JS, Rust, Python; timeout 60 s
    .venv/bin/python benchmarks/bench_nesting.py --languages javascript --timeout 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The commit before "Extraction linear in nesting depth, with per-file budgets" (2b19edf).
BEFORE = "c2a88f932828473288fe232668f9b62dede0d848"
DEPTHS = {"javascript": (250, 500, 1000, 2000), "rust": (250, 500, 1000, 2000), "python": (125, 250, 500)}
OUT = ROOT / "benchmarks" / "results" / "nesting.md"

# Runs inside the subprocess: builds the input, extracts it --repeat times, prints one JSON line.
_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from embedding.extract import ExtractOptions, extract_source
language, depth, repeat = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if language == "javascript":
    path, source = "deep.js", b"function f(){\n" * depth + b"}\n" * depth
elif language == "rust":
    path, source = "deep.rs", b"fn f() {\n" * depth + b"}\n" * depth
else:
    path = "deep.py"
    source = "".join(" " * i + "def f():\n" for i in range(depth)).encode() + b" " * depth + b"return 1\n"
options = ExtractOptions(min_function_lines=1, max_file_bytes=max(len(source), 1))
best = None
for _ in range(repeat):
    start = time.perf_counter()
    result = extract_source(path, source, options)
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
print(json.dumps({"seconds": best, "functions": len(result.functions), "skipped": result.skipped,
                  "bytes": len(source), "code": sum(len(fn.code) for fn in result.functions)}))
"""


@dataclass
class Run:
    seconds: float | None  # None: past the timeout
    functions: int | None
    skipped: str | None
    size: int | None  # bytes of input
    code: int | None  # characters of all the functions' code together (nested code counted again)

    def cell(self, timeout: float) -> str:
        if self.seconds is None:
            return f">{timeout:g} s"
        return f"{self.seconds:.3f} s" if self.seconds < 10 else f"{self.seconds:.1f} s"


def run_once(tree: Path, language: str, depth: int, repeat: int, timeout: float) -> Run:
    command = [sys.executable, "-c", _CHILD, str(tree), language, str(depth), str(repeat)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return Run(None, None, None, None, None)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"the extractor in {tree} failed:\n{exc.stderr[-2000:]}") from exc
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(data["seconds"], data["functions"], data["skipped"], data["bytes"], data["code"])


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = ", load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = ""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import tree_sitter

    version = getattr(tree_sitter, "__version__", "?")
    return (
        f"{platform.system()} {platform.machine()}, {model}, {usable} usable cores{load}; "
        f"Python {platform.python_version()}, py-tree-sitter {version}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="commit whose extractor is 'before' (default: %(default).12s)")
    parser.add_argument("--languages", nargs="+", default=list(DEPTHS), choices=list(DEPTHS))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run and side (default: 60)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per subprocess, best kept (default: 3)")
    parser.add_argument("--out", type=Path, default=OUT, help="markdown file to write (default: %(default)s)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="doppel-extract-before-") as scratch:
        before = Path(scratch) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(before), args.before], check=True
        )
        try:
            rows = []
            for language in args.languages:
                for depth in DEPTHS[language]:
                    old = run_once(before, language, depth, args.repeat, args.timeout)
                    new = run_once(ROOT, language, depth, args.repeat, args.timeout)
                    rows.append((language, depth, old, new))
                    print(f"{language:<10} depth {depth:>5}: before {old.cell(args.timeout):>9}  "
                          f"after {new.cell(args.timeout):>9}", flush=True)  # fmt: skip
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False)

    lines = [
        "# Extraction time on nested input (`benchmarks/bench_nesting.py`)",
        "",
        "`function f(){` nested *depth* times (and the Rust `fn f() {` and Python `def f():` equivalents,",
        "Python with one space of indent per level), extracted by `extract_source` with `min_function_lines=1`.",
        f"*Before*: the extractor at commit `{args.before[:12]}` (the commit before the linear walk), run",
        "from a `git worktree`; *after*: this working tree. Each side runs in its own subprocess with a",
        f"{args.timeout:g} s timeout (`>{args.timeout:g} s`: still running when stopped); times are the best of",
        f"{args.repeat} runs of the extraction call alone. *Code out*: the characters of all the functions'",
        "code together (each nested function is also part of every function around it).",
        "",
        f"Machine: {machine()}.",
        "",
        "Command:",
        "",
        "    .venv/bin/python benchmarks/bench_nesting.py",
        "",
        "| language | depth | file size | functions | code out | before | after | before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for language, depth, old, new in rows:
        found = (
            new.functions
            if old.functions is None or old.functions == new.functions
            else f"{old.functions} vs {new.functions}"
        )
        ratio = (
            f"{old.seconds / new.seconds:,.0f}×"
            if old.seconds is not None and new.seconds
            else (f">{args.timeout / new.seconds:,.0f}×" if new.seconds else "")
        )
        size = f"{new.size / 1000:,.1f} KB" if new.size is not None else ""
        code = f"{new.code / 1e6:,.1f} MB" if new.code is not None else ""
        note = f" (skipped: {new.skipped})" if new.skipped else ""
        lines.append(
            f"| {language} | {depth:,} | {size} | {found}{note} | {code} | {old.cell(args.timeout)} | "
            f"{new.cell(args.timeout)} | {ratio} |"
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    args.out.write_text(text if not args.out.exists() else _keep_notes(args.out.read_text(), text), encoding="utf-8")
    print(f"written to {args.out}")
    return 0


def _keep_notes(previous: str, table: str) -> str:
    """The new table, followed by the notes section of the previous file (hand-written, kept)."""
    marker = "\n## Notes"
    return table + (previous[previous.index(marker) :] if marker in previous else "")


if __name__ == "__main__":
    raise SystemExit(main())
