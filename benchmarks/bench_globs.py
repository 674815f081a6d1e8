"""Glob matching on hostile patterns, before and after the non-backtracking matcher, side by side.

A reviewer of issue 10 timed ``a*a*/a*a*/a*a*/a*a*/a*a*/a*a*/z`` against 8 segments of 30 ``a``
at 13 s and ``*a*a*a*a*b`` against a 200-character name at 3 s: the globs were regular
expressions, and ``ignore`` globs come unbounded from ``.github/doppel.yml``. This script runs
``first_match`` on those cases, on a few harder ones, and on an ordinary workload (the default
exclude globs against 20,000 realistic paths, to show that ordinary matching did not get slower
than a regex), each in its own subprocess with a timeout: "before" with
``embedding/extract/globs.py`` as of ``--before`` (``git show`` written to a temporary file),
"after" with this working tree's. Times are the best of ``--repeat`` calls, imports excluded; a
case past the timeout prints ``>N s``. Both sides must give the same answer, and the table says so.

    .venv/bin/python benchmarks/bench_globs.py                   # timeout 60 s per case and side
    .venv/bin/python benchmarks/bench_globs.py --timeout 20 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The commit before "Globs matched without backtracking" (abf41b3).
BEFORE = "e1402a03634460c319b04f4929d54d5a9c2a9a96"
MODULE = "embedding/extract/globs.py"

# name: (pattern, how the child builds the path; a Python expression)
CASES: dict[str, tuple[str, str]] = {
    "a*a*/ x6 /z vs 8 x 30 a (probe)": ("a*a*/a*a*/a*a*/a*a*/a*a*/a*a*/z", "'/'.join(['a' * 30] * 8)"),
    "a*a*/ x7 /z vs 9 x 30 a": ("/".join(["a*a*"] * 7 + ["z"]), "'/'.join(['a' * 30] * 9)"),
    "*a*a*a*a*b vs 200 a (probe)": ("*a*a*a*a*b", "'a' * 200"),
    "*a*a*a*a*b vs 400 a": ("*a*a*a*a*b", "'a' * 400"),
    "*a*a*a*a*b vs 199 a + b (match)": ("*a*a*a*a*b", "'a' * 199 + 'b'"),
    "**/ x12 /z vs 40 x a": ("/".join(["**"] * 12 + ["z"]), "'/'.join(['a'] * 40)"),
}
ORDINARY = "default globs x 20,000 paths"

# Runs inside the subprocess: loads the module from a file, times first_match, prints one JSON line.
_CHILD = r"""
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("globs_under_test", sys.argv[1])
globs = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = globs  # dataclasses look their module up there
spec.loader.exec_module(globs)
kind, pattern, path_expr, repeat = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
if kind == "ordinary":
    sys.path.insert(0, sys.argv[6])
    from core.settings import DEFAULT_EXCLUDE_GLOBS as patterns
    folders = ["src", "src/app/models", "web/node_modules/react/lib", "pkg/api/v1", "vendor/github.com/x/y",
               "tests/unit", "docs", "build/lib/pkg", "static/js", "services/billing/internal/store"]
    names = ["main.py", "index.js", "app.min.js", "service_pb2.py", "handler_test.go", "README.md",
             "Form1.designer.cs", "store.go", "util.ts", "schema.generated.ts"]
    paths = [f"{folders[i % 10]}/d{i % 97}/{names[(i * 7) % 10]}" for i in range(20000)]
else:
    patterns, paths = (pattern,), [eval(path_expr)]
best = None
for _ in range(repeat):
    start = time.perf_counter()
    answer = [globs.first_match(p, patterns) for p in paths]
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
print(json.dumps({"seconds": best, "answer": answer if len(answer) == 1 else sum(a is not None for a in answer)}))
"""


def run_once(module: Path, kind: str, pattern: str, path_expr: str, repeat: int, timeout: float) -> dict | None:
    command = [sys.executable, "-c", _CHILD, str(module), kind, pattern, path_expr, str(repeat), str(ROOT)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"{module} failed:\n{exc.stderr[-2000:]}") from exc
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(run: dict | None, timeout: float) -> str:
    if run is None:
        return f">{timeout:g} s"
    seconds = run["seconds"]
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="commit whose globs.py is 'before' (default: %(default).12s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case and side (default: 60)")
    parser.add_argument("--repeat", type=int, default=3, help="calls per subprocess, best kept (default: 3)")
    args = parser.parse_args(argv)

    old_source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{args.before}:{MODULE}"], capture_output=True, text=True, check=True
    ).stdout
    cases = [(name, "one", pattern, expr) for name, (pattern, expr) in CASES.items()]
    cases.append((ORDINARY, "ordinary", "", ""))
    with tempfile.TemporaryDirectory(prefix="doppel-globs-before-") as scratch:
        old_module = Path(scratch) / "globs_before.py"
        old_module.write_text(old_source, encoding="utf-8")
        print(f"before: {MODULE} at {args.before[:12]}; after: this working tree; timeout {args.timeout:g} s")
        print(f"{'case':<34} {'before':>12} {'after':>12} {'before/after':>13}  same answer")
        for name, kind, pattern, expr in cases:
            # A hostile case is run once on the old side: its time is the point, not its spread.
            old = run_once(old_module, kind, pattern, expr, 1 if kind == "one" else args.repeat, args.timeout)
            new = run_once(ROOT / MODULE, kind, pattern, expr, args.repeat, args.timeout)
            if new is not None and new["seconds"]:
                top = old["seconds"] if old is not None else args.timeout
                ratio = f"{'>' if old is None else ''}{top / new['seconds']:,.1f}×"
            else:
                ratio = ""
            same = "?" if old is None or new is None else ("yes" if old["answer"] == new["answer"] else "NO")
            print(f"{name:<34} {_cell(old, args.timeout):>12} {_cell(new, args.timeout):>12} {ratio:>13}  {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
