"""How much of a re-index the embedding cache saves, on real code, the real encoder and index.

Copies N files of the running interpreter's standard library into a fresh git repository,
indexes it cold (real ``Encoder`` with its SQLite cache, Qdrant Edge index, both under a fresh
data directory), then changes one function, commits, and runs a second FULL ``index_commit``:
every file is extracted again, but only the changed function should reach the model. Then it
changes another function and runs the incremental ``update`` path. Prints, for each run,
functions, forward passes, cache hits and the share of functions not re-embedded (target for
the second full run: at least 99%).

    python benchmarks/bench_reindex_cache.py                 # 40 files, MiniLM, CPU
    python benchmarks/bench_reindex_cache.py --files 300 --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core.domain import RepoRef
from core.settings import Settings
from embedding.encoder import Encoder
from embedding.extract import ExtractOptions, extract_source, skip_reason
from embedding.index import open_index
from embedding.source import GitSource
from workers.services.indexing import IndexService, IndexStats

_EXCLUDED_PARTS = {"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__", "ensurepip"}
_EDIT = "_doppel_bench_edit"


@dataclass
class Row:
    run: str
    stats: IndexStats

    @property
    def saved_share(self) -> float:
        """Share of the functions written whose vector came from the cache, not the model."""
        return 1.0 - self.stats.embedded / self.stats.functions if self.stats.functions else 1.0


def stdlib_sample(count: int, seed: int, max_kb: int) -> list[tuple[str, Path]]:
    """``count`` standard-library .py files (no tests, at most ``max_kb``) as (repo path, file)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        path
        for path in root.rglob("*.py")
        if not _EXCLUDED_PARTS & set(path.relative_to(root).parts) and path.stat().st_size <= max_kb * 1024
    )
    random.Random(seed).shuffle(files)
    return [("lib/" + path.relative_to(root).as_posix(), path) for path in files[:count]]


def edit_one_function(root: Path, paths: list[str], rng: random.Random, tag: int) -> tuple[str, str]:
    """Add a statement at the end of one function's body; return (path, qualified name).

    The edit is checked by extracting the file again: the same functions must come out and
    exactly one of them must have a new body hash, else another function is tried.
    """
    options = ExtractOptions()
    candidates = [p for p in paths if skip_reason(p, options) is None]
    rng.shuffle(candidates)
    for path in candidates:
        data = (root / path).read_bytes()
        before = extract_source(path, data, options)
        if before.warnings or before.skipped or not before.functions:
            continue
        lines = data.decode("utf-8").splitlines(keepends=True)
        for fn in rng.sample(before.functions, min(len(before.functions), 5)):
            def_line = lines[fn.start_line - 1]
            indent = def_line[: len(def_line) - len(def_line.lstrip())] + "    "
            edited = lines[: fn.end_line] + [f"{indent}{_EDIT}_{tag} = {tag}\n"] + lines[fn.end_line :]
            new_data = "".join(edited).encode("utf-8")
            after = extract_source(path, new_data, options)
            old = {(f.qualified_name, f.start_line): f.body_hash for f in before.functions}
            changed = [f for f in after.functions if old.get((f.qualified_name, f.start_line)) != f.body_hash]
            if after.warnings or len(after.functions) != len(before.functions) or len(changed) != 1:
                continue
            if changed[0].qualified_name != fn.qualified_name:
                continue
            (root / path).write_bytes(new_data)
            return path, fn.qualified_name
    raise SystemExit("could not find a function to edit safely; try another --seed")


def machine() -> dict[str, object]:
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=40, help="standard-library files to copy (default 40)")
    parser.add_argument("--max-kb", type=int, default=64, help="skip files larger than this (default 64 KiB)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the file sample and the edits")
    parser.add_argument("--device", default="cpu", help="encoder device: cpu, cuda, auto (default cpu)")
    parser.add_argument("--max-length", type=int, default=256, help="encoder token limit (default 256)")
    parser.add_argument("--batch-size", type=int, default=32, help="encoder batch size (default 32)")
    parser.add_argument("--workdir", type=Path, help="keep the repository and data here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="doppel-bench-reindex-"))
    repo_dir, data_dir = work / "repo", work / "data"
    for path in (repo_dir, data_dir):
        if path.exists():
            shutil.rmtree(path)  # a fresh cache and index: the first run must be cold
    try:
        return _run(args, repo_dir, data_dir)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, repo_dir: Path, data_dir: Path) -> int:
    from git import Repo

    sample = stdlib_sample(args.files, args.seed, args.max_kb)
    for relpath, src in sample:
        (repo_dir / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, repo_dir / relpath)
    repo = Repo.init(repo_dir, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "doppel bench")
        config.set_value("user", "email", "bench@example.invalid")
        config.set_value("commit", "gpgsign", "false")

    def commit_all(message: str) -> str:
        repo.git.add("-A")
        repo.git.commit("-q", "--no-verify", "-m", message)
        return repo.head.commit.hexsha

    commit_all("standard library sample")
    settings = Settings(data_dir=data_dir, device=args.device, max_length=args.max_length, batch_size=args.batch_size)
    repo_ref = RepoRef("bench/stdlib-sample")
    rng = random.Random(args.seed)
    paths = [relpath for relpath, _ in sample]
    rows: list[Row] = []
    started = time.perf_counter()
    encoder = Encoder.from_settings(settings)
    load_seconds = time.perf_counter() - started
    with open_index(settings) as index, GitSource(repo_dir) as source:
        service = IndexService(settings, encoder, index)
        rows.append(Row("1. full, cold cache", service.index_commit(source, repo_ref, "HEAD")))

        edited_full = edit_one_function(repo_dir, paths, rng, 1)
        commit_all(f"edit {edited_full[1]}")
        rows.append(Row("2. full again, one function changed", service.index_commit(source, repo_ref, "HEAD")))

        edited_update = edit_one_function(repo_dir, paths, rng, 2)
        commit_all(f"edit {edited_update[1]}")
        rows.append(Row("3. incremental update, one function changed", service.update(source, repo_ref, "HEAD")))
        points = index.count(repo_ref.collection_name)

    report = {
        "files": len(sample),
        "points_in_index": points,
        "encoder": {
            "base_model": encoder.base_model_id,
            "device": encoder.device,
            "load_seconds": round(load_seconds, 1),
        },
        "edits": {"full": list(edited_full), "update": list(edited_update)},
        "runs": [{"run": row.run, "not_reembedded": round(row.saved_share, 5), **row.stats.to_dict()} for row in rows],
        "machine": machine(),
    }
    for run in report["runs"]:
        run.pop("warnings")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{len(sample)} standard-library files, {points} functions indexed; encoder {encoder.base_model_id} on {encoder.device}"
    )
    print(f"edited for run 2: {edited_full[0]}::{edited_full[1]}; for run 3: {edited_update[0]}::{edited_update[1]}")
    header = f"{'run':<46}{'files':>7}{'functions':>11}{'embedded':>10}{'cache hits':>12}{'not re-embedded':>17}{'seconds':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        s = row.stats
        print(
            f"{row.run:<46}{s.files_seen:>7}{s.functions:>11}{s.embedded:>10}{s.cache_hits:>12}"
            f"{row.saved_share:>16.2%}{s.seconds:>10.1f}"
        )
    target = rows[1].saved_share
    print(
        f"\nsecond full run: {target:.2%} of functions not re-embedded (target >= 99%): {'OK' if target >= 0.99 else 'MISSED'}"
    )
    update = rows[2].stats
    print(
        f"incremental update: {update.files_seen} of {len(sample)} files re-extracted, {update.embedded} forward "
        f"pass(es) for {points} indexed functions ({1 - update.embedded / points:.2%} of the index not re-embedded)"
    )
    print(f"machine: {json.dumps(report['machine'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
