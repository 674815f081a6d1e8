"""One library end to end up to the review: fetch both releases, pair, place, commit, write the truth.

The repository and its ``truth.json`` live under ``cache/repos/<library>``; a later run with the
same library entry and options reuses them (and, since their commits are deterministic, doppel's
index and embedding cache too).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import embedding.extract
from benchmarks.realedit.fetch import source_files
from benchmarks.realedit.layout import Placed, build_repo, place_functions
from benchmarks.realedit.manifest import Library
from benchmarks.realedit.match import (
    GramIndex,
    Pair,
    match_functions,
    sample_base,
    select_negatives,
    select_pairs,
    shingles,
    units,
)
from core.domain import CodeFunction
from embedding.extract import ExtractOptions, extract_source

LAYOUT_VERSION = 2  # bump when the layout or selection rules change: cached repositories are rebuilt


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


@dataclass(frozen=True)
class Selection:
    """What both modes of a library start from: its two releases' sources and functions, the pairs,
    the negatives and the base's files (the same for both modes, so they share embeddings)."""

    old_files: dict[str, bytes]
    new_files: dict[str, bytes]
    old_by_path: dict[str, list[CodeFunction]]
    new_by_path: dict[str, list[CodeFunction]]
    matches: int
    pairs: list[Pair]
    negatives: list[CodeFunction]
    base_paths: list[str]
    base_sampled: bool

    @property
    def base(self) -> dict[str, bytes]:
        return {path: self.old_files[path] for path in self.base_paths}

    def base_functions(self) -> list[CodeFunction]:
        return [fn for path in self.base_paths for fn in self.old_by_path[path]]


def select_library(lib: Library, cache: Path, options: BuildOptions, extract: ExtractOptions) -> Selection:
    """Fetch and extract both releases, pair them, pick the negatives and the base (seeded)."""
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
    return Selection(
        old_files, new_files, old_by_path, new_by_path, len(matches), pairs, negatives, base_paths, sampled
    )


def function_hashes(by_path: Mapping[str, Sequence[CodeFunction]]) -> list[list[Any]]:
    """``[path, qualified name, start line, body hash]`` of every function: what a candidate's
    ``function`` or ``target`` (path, name, start line) resolves to, to tell identical bodies."""
    return [[fn.path, fn.qualified_name, fn.start_line, fn.body_hash] for fns in by_path.values() for fn in fns]


def head_hashes(head: Mapping[str, str], extract: ExtractOptions) -> list[list[Any]]:
    """``function_hashes`` of the head files as doppel extracts them (inner functions included)."""
    return function_hashes(
        {path: extract_source(path, text.encode("utf-8"), extract).functions for path, text in head.items()}
    )


def release_summary(lib: Library, selection: Selection) -> dict[str, Any]:
    """The truth's description of the library and its base, the same in both modes."""
    return {
        "library": lib.name,
        "split": lib.split,
        "language": lib.language,
        "registry": lib.registry,
        "old": lib.old,
        "new": lib.new,
        "old_files": len(selection.old_files),
        "old_functions": sum(len(fns) for fns in selection.old_by_path.values()),
        "new_functions": sum(len(fns) for fns in selection.new_by_path.values()),
        "matched": selection.matches,
        "base_files": len(selection.base_paths),
        "base_functions": len(selection.base_functions()),
        "base_sampled": selection.base_sampled,
    }


def repo_message(lib: Library) -> str:
    """The commit message of a library's base (its SHA, hence the index, is shared by both modes)."""
    return f"{lib.name} {lib.old} → {lib.new}"


def negative_truth(placed: Sequence[Placed], negatives: Sequence[CodeFunction]) -> list[dict[str, Any]]:
    keys = {(fn.path, fn.qualified_name) for fn in negatives}
    return [
        {"head": _ref(spot.head_path, spot.head_qualified_name), "language": spot.function.language,
         "head_line": spot.start_line}
        for spot in placed
        if (spot.function.path, spot.function.qualified_name) in keys
    ]  # fmt: skip


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

    selection = select_library(lib, cache, options, extract)
    pairs, negatives = selection.pairs, selection.negatives
    head, placed, dropped = place_functions([p.new for p in pairs] + negatives, selection.new_files, extract)
    by_new = {(p.new.path, p.new.qualified_name): p for p in pairs}

    truth_pairs = []
    for spot in placed:
        pair = by_new.get((spot.function.path, spot.function.qualified_name))
        if pair is not None:
            truth_pairs.append(
                {"head": _ref(spot.head_path, spot.head_qualified_name), "base": _ref(pair.old.path, pair.old.qualified_name),
                 "jaccard": round(pair.jaccard, 4), "band": pair.band, "language": pair.new.language,
                 "head_line": spot.start_line}
            )  # fmt: skip

    base_sha, head_sha = build_repo(repo, selection.base, head, repo_message(lib))
    counts: dict[str, int] = defaultdict(int)
    for pair in truth_pairs:
        counts[pair["band"]] += 1
    truth = {
        **release_summary(lib, selection),
        "mode": "real",
        "fingerprint": stamp,
        "base_commit": base_sha,
        "head_commit": head_sha,
        "dropped_unplaceable": len(dropped),
        "bands": dict(sorted(counts.items())),
        "pairs": truth_pairs,
        "negatives": negative_truth(placed, negatives),
        "base_hashes": function_hashes({p: selection.old_by_path[p] for p in selection.base_paths}),
        "head_hashes": head_hashes(head, extract),
    }
    truth_file.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return repo, truth
