"""Upsert time and filtered top-10 query latency of the vector index, Edge beside qdrant-client local.

Stores seeded random unit vectors with realistic payloads (five languages, two adapter versions,
about 20 functions per file, function bodies of a few hundred characters), then times queries
filtered the way reviews filter them (adapter version + language). Qdrant Edge runs at --points;
qdrant-client's local mode (the stand-in for a server in tests, pure Python) runs at the smaller
--server-points, and Edge is measured at that size too so that the two compare like for like.

    python benchmarks/bench_index_latency.py                       # 50,000 Edge / 5,000 local
    python benchmarks/bench_index_latency.py --points 10000 --server-points 0
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.domain import IndexedFunction, IndexPoint, RepoRef, point_id
from embedding.index import VectorIndex

LANGUAGES = ("python", "typescript", "go", "java", "rust")
ADAPTER_VERSIONS = ("minilm-l6:base", "minilm-l6:python@3f2a9c1d")
REPO = RepoRef("bench/monorepo")
BODY = (
    "def {name}(items, limit=10):\n"
    '    """Return the first items that pass the check."""\n'
    "    result = []\n"
    "    for item in items:\n"
    "        if item is not None and len(result) < limit:\n"
    "            result.append(transform(item, key={n}))\n"
    "    return result\n"
)


@dataclass
class Row:
    backend: str
    points: int
    upsert_s: float
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float
    cpu_p95_ms: float


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)  # (n, dim)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_points(vectors: np.ndarray) -> list[IndexPoint]:
    points = []
    for i, vector in enumerate(vectors):
        path = f"src/pkg{i // 2000}/module_{i // 20}.py"
        name = f"Handler{i // 20}.method_{i % 20}"
        payload = IndexedFunction(
            repo=REPO.slug,
            language=LANGUAGES[i % len(LANGUAGES)],
            path=path,
            qualified_name=name,
            start_line=1 + (i % 20) * 12,
            end_line=10 + (i % 20) * 12,
            commit="9f1c2e7a" * 5,
            body_hash=f"{i:064x}",
            adapter_version=ADAPTER_VERSIONS[0] if i % 4 else ADAPTER_VERSIONS[1],
            code=BODY.format(name=f"method_{i % 20}", n=i),
        )
        points.append(IndexPoint(id=point_id(REPO, path, name), vector=vector, payload=payload))
    return points


def measure(label: str, index: VectorIndex, vectors: np.ndarray, queries: np.ndarray) -> Row:
    name = REPO.collection_name
    index.ensure_collection(name, vectors.shape[1])
    points = make_points(vectors)
    started = time.perf_counter()
    index.upsert(name, points)
    upsert_s = time.perf_counter() - started
    return Row(label, len(points), upsert_s, *query_latency(label, index, queries))


def query_latency(label: str, index: VectorIndex, queries: np.ndarray) -> tuple[float, float, float, float]:
    """Wall-clock and CPU p50/p95 in milliseconds of filtered top-10 searches (adapter version + language).

    CPU time (all threads of this process) does not grow when other processes crowd the machine,
    so it tells the cost of a query apart from the wait for a core.
    """
    name = REPO.collection_name
    timings, cpu = [], []
    for i, query in enumerate(queries):
        started, started_cpu = time.perf_counter(), time.process_time()
        matches = index.search(
            name, query, adapter_version=ADAPTER_VERSIONS[0], language=LANGUAGES[i % len(LANGUAGES)], limit=10
        )
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if len(matches) != 10:
            raise SystemExit(f"{label}: query {i} returned {len(matches)} matches, expected 10")
    wall = statistics.quantiles(timings, n=100, method="inclusive")
    used = statistics.quantiles(cpu, n=100, method="inclusive")
    return wall[49], wall[94], used[49], used[94]


def run_edge(vectors: np.ndarray, queries: np.ndarray, root: Path) -> Row:
    from embedding.index.edge import EdgeIndex

    with EdgeIndex(root) as index:
        return measure("Qdrant Edge", index, vectors, queries)


def run_local(vectors: np.ndarray, queries: np.ndarray) -> Row:
    from qdrant_client import QdrantClient

    from embedding.index.server import ServerIndex

    warnings.filterwarnings("ignore", message="Payload indexes have no effect")
    with ServerIndex(QdrantClient(location=":memory:"), location="local mode") as index:
        return measure("qdrant-client local mode", index, vectors, queries)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    """The 1-minute load average: latencies mean little when it is far above the CPU count."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000, help="points stored in Qdrant Edge (default 50000)")
    parser.add_argument("--dim", type=int, default=384, help="vector dimension (default 384, all-MiniLM-L6-v2)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per run (default 200)")
    parser.add_argument(
        "--server-points",
        type=int,
        default=5_000,
        help="points for qdrant-client local mode, which is slow; Edge is timed at this size too (default 5000, 0: skip)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.points < 100 or args.queries < 2 or args.dim < 2:
        parser.error("--points must be at least 100, --queries at least 2, --dim at least 2")

    rng = np.random.default_rng(args.seed)
    vectors = unit_vectors(args.points, args.dim, rng)
    # queries near stored functions, as a review's are: a stored vector plus noise
    picks = rng.integers(0, args.points, size=args.queries)
    queries = vectors[picks] + 0.5 * unit_vectors(args.queries, args.dim, rng)

    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}, load {load()}")
    small = min(args.server_points, args.points)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="doppel-bench-index-") as tmp:
        rows.append(run_edge(vectors, queries, Path(tmp) / "edge-full"))
        edge_small = rows[0]
        if 0 < small < args.points:
            edge_small = run_edge(vectors[:small], queries, Path(tmp) / "edge-small")
            rows.append(edge_small)
    local = run_local(vectors[:small], queries) if small > 0 else None
    if local is not None:
        rows.append(local)

    print()
    print("| backend | points | upsert (s) | query p50 (ms) | query p95 (ms) | CPU p50 (ms) | CPU p95 (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.backend} | {row.points:,} | {row.upsert_s:.2f} | {row.p50_ms:.2f} | {row.p95_ms:.2f} "
            f"| {row.cpu_p50_ms:.2f} | {row.cpu_p95_ms:.2f} |"
        )
    if local is not None:
        print()
        print(
            f"at {local.points:,} points, local mode / Edge: upsert x{local.upsert_s / edge_small.upsert_s:.1f}, "
            f"p50 x{local.p50_ms / edge_small.p50_ms:.1f}, p95 x{local.p95_ms / edge_small.p95_ms:.1f}"
        )
    full = rows[0]
    verdict = "meets" if full.p95_ms <= 20 else "MISSES"
    print(f"Edge p95 at {full.points:,} points: {full.p95_ms:.2f} ms ({verdict} the 20 ms target), load {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
