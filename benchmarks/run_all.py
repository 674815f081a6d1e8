"""Run every benchmark once with its defaults, one after another (``make bench``).

Each script prints its own side-by-side figures and writes its Markdown under
``benchmarks/results/``; ``benchmarks/RESULTS.md`` summarises them with the machine described.
Not part of the test run: they take minutes each on a 2-core CPU.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_index_latency.py",
    "bench_batching.py",
    "bench_reindex_cache.py",
    "bench_clone_recall.py",
    "bench_webhook_receiver.py",
    "bench_review_latency.py",
    "bench_train_stdlib.py",
    "bench_train_throughput.py",
)


def main(argv: list[str]) -> int:
    chosen = [s for s in SCRIPTS if not argv or any(a in s for a in argv)]
    failed = []
    for script in chosen:
        print(f"\n=== {script}", flush=True)
        started = time.monotonic()
        rc = subprocess.run([sys.executable, str(HERE / script)], cwd=HERE.parent).returncode
        print(f"=== {script}: exit {rc} after {time.monotonic() - started:.0f}s", flush=True)
        if rc:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
