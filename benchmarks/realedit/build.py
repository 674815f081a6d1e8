"""One library end to end up to the review: fetch both releases, pair, place, commit, write the truth.

The repository and its ``truth.json`` live under ``cache/repos/<library>``; a later run with the
same library entry and options reuses them (and, since their commits are deterministic, doppel's
index and embedding cache too).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import embedding.extract
from benchmarks.realedit.fetch import source_files
from benchmarks.realedit.layout import build_repo, place_functions
from benchmarks.realedit.manifest import Library
from benchmarks.realedit.match import (
    GramIndex,
    match_functions,
    sample_base,
    select_negatives,
    select_pairs,
    shingles,
    units,
)
from core.domain import CodeFunction
from embedding.extract import ExtractOptions, extract_source

LAYOUT_VERSION = 1  # bump when the layout or selection rules change: cached repositories are rebuilt


@dataclass(frozen=True)
class BuildOptions:
    """Caps that bound a library's cost; the seed fixes every sample."""

    pair_cap: int = 150
    negative_cap: int = 60
    base_cap: int = 3000  # functions in the base before it is sampled down
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("pair_cap", "negative_cap", "base_cap"):
            if getattr(self, name) < 1:
                raise ValueError(f"BuildOptions.{name} must be at least 1, got {getattr(self, name)}")


def extract_release(files: Mapping[str, bytes], options: ExtractOptions) -> dict[str, list[CodeFunction]]:
    """Every function doppel extracts from each file, by path (files without any left out)."""
    found: dict[str, list[CodeFunction]] = {}
    for path, data in files.items():
        functions = extract_source(path, data, options).functions
        if functions:
            found[path] = functions
    return found


def extractor_version() -> str:
    """A hash of the extractor's own source: a changed extractor finds other functions, so the
    cached repositories it built are rebuilt."""
    package = Path(embedding.extract.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def fingerprint(lib: Library, options: BuildOptions, extract: ExtractOptions) -> str:
    key = json.dumps(
        [LAYOUT_VERSION, extractor_version(), lib.to_dict(), asdict(options), extract.min_function_lines],
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _ref(path: str, qualified_name: str) -> dict[str, str]:
    return {"path": path, "qualified_name": qualified_name}


def build_library(
    lib: Library, cache: Path, options: BuildOptions, extract: ExtractOptions, *, rebuild: bool = False
) -> tuple[Path, dict[str, Any]]:
    """The library's repository (base = old release, head = placed functions) and its truth."""
    home = cache / "repos" / lib.name
    repo, truth_file = home / "repo", home / "truth.json"
    stamp = fingerprint(lib, options, extract)
    if not rebuild and truth_file.exists() and (repo / ".git").exists():
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        if truth.get("fingerprint") == stamp:
            return repo, truth

    old_files = source_files(lib, lib.old, cache, extract)
    new_files = source_files(lib, lib.new, cache, extract)
    old_by_path, new_by_path = extract_release(old_files, extract), extract_release(new_files, extract)
    old_all = [fn for fns in old_by_path.values() for fn in fns]
    new_units = units([fn for fns in new_by_path.values() for fn in fns])
    matches = match_functions(units(old_all), new_units)
    pairs = select_pairs(matches, options.pair_cap, options.seed)
    grams = GramIndex([shingles(fn.language, fn.code) for fn in old_all])
    negatives = select_negatives(old_all, new_units, options.negative_cap, options.seed, grams=grams)

    base_paths, sampled = sample_base(old_by_path, {p.old.path for p in pairs}, options.base_cap, options.seed)
    head, placed, dropped = place_functions([p.new for p in pairs] + negatives, new_files, extract)
    by_new = {(p.new.path, p.new.qualified_name): p for p in pairs}
    negative_keys = {(fn.path, fn.qualified_name) for fn in negatives}

    truth_pairs, truth_negatives = [], []
    for spot in placed:
        fn_key = (spot.function.path, spot.function.qualified_name)
        head_ref = _ref(spot.head_path, spot.head_qualified_name)
        if fn_key in by_new:
            pair = by_new[fn_key]
            truth_pairs.append(
                {"head": head_ref, "base": _ref(pair.old.path, pair.old.qualified_name), "jaccard": round(pair.jaccard, 4),
                 "band": pair.band, "language": pair.new.language, "head_line": spot.start_line}
            )  # fmt: skip
        elif fn_key in negative_keys:
            truth_negatives.append({"head": head_ref, "language": spot.function.language, "head_line": spot.start_line})

    base = {path: old_files[path] for path in base_paths}
    base_sha, head_sha = build_repo(repo, base, head, f"{lib.name} {lib.old} → {lib.new}")
    counts: dict[str, int] = defaultdict(int)
    for pair in truth_pairs:
        counts[pair["band"]] += 1
    truth = {
        "library": lib.name,
        "split": lib.split,
        "language": lib.language,
        "registry": lib.registry,
        "old": lib.old,
        "new": lib.new,
        "fingerprint": stamp,
        "base_commit": base_sha,
        "head_commit": head_sha,
        "old_files": len(old_files),
        "old_functions": len(old_all),
        "new_functions": sum(len(fns) for fns in new_by_path.values()),
        "matched": len(matches),
        "base_files": len(base_paths),
        "base_functions": sum(len(old_by_path[p]) for p in base_paths),
        "base_sampled": sampled,
        "dropped_unplaceable": len(dropped),
        "bands": dict(sorted(counts.items())),
        "pairs": truth_pairs,
        "negatives": truth_negatives,
    }
    truth_file.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return repo, truth
