"""The default-branch index as one base commit sees it, without writing to it.

A repository's collection holds its default branch at some commit (``IndexState.commit``), kept
there by pushes and the reconciler. A pull request is judged against its own base, which may be
older or newer. ``open_view`` lays the difference over the collection, in memory:

* ``index``: the collection holds the base itself; it is searched alone;
* ``overlay``: files that differ between the indexed commit and the base (and files an update in
  progress is rewriting) are dropped from the collection's hits, and the base's versions of them
  are extracted with the plan's options, embedded (the embedding cache makes a repeat free) and
  searched by cosine in memory alongside;
* ``memory``: there is no usable collection yet (none, a first index in progress, another model
  or adapters): every file of the base that the plan reads is searched in memory.

The files read from the base are capped (``ReviewPlan.max_overlay_files``); beyond the cap the
indexed versions stand in (files gone at the base are still dropped) and ``warnings`` says so. So
a review or a ``/similar`` costs reads and cache look-ups, never a write, and two pull requests on
different bases are each judged against their own base at the same time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.domain import CodeFunction, IndexedFunction, Match, RepoRef
from core.errors import CollectionNotFoundError, DoppelError
from embedding.extract import extract_source

if TYPE_CHECKING:
    from embedding.encoder import Encoder
    from embedding.index import VectorIndex
    from embedding.source import GitSource
    from workers.services.indexing import IndexService, IndexState
    from workers.services.plan import ReviewPlan

log = logging.getLogger(__name__)

EMBED_CHUNK = 512  # functions embedded at a time


@dataclass
class ViewStats:
    """How a view was made: which mode, against which commits, what it read and embedded."""

    mode: str = "index"  # "index" | "overlay" | "memory"
    base: str = ""
    indexed_commit: str | None = None
    reason: str | None = None  # why there was no usable index ("memory" mode)
    overlay_files: int = 0  # files read from the base and searched in memory
    overlay_functions: int = 0
    left_out_files: int = 0  # differing files over the cap: their indexed versions stood in
    embedded: int = 0
    cache_hits: int = 0
    seconds: float = 0.0

    @property
    def needs_index(self) -> bool:
        """No usable collection: the job should ask for an index run."""
        return self.mode == "memory"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["commit"] = self.base  # what the search was judged against
        return data


class MemoryFunctions:
    """Functions with their L2-normalised vectors, searched by cosine (a matrix product)."""

    def __init__(self, functions: Sequence[IndexedFunction], vectors: np.ndarray) -> None:
        self._functions = list(functions)
        self._vectors = np.asarray(vectors, dtype=np.float32)  # (N, dim)
        if self._vectors.ndim != 2 or len(self._vectors) != len(self._functions):
            raise ValueError(
                f"{len(self._functions)} functions need {len(self._functions)} vectors, got {self._vectors.shape}"
            )
        self._by_path: dict[str, list[IndexedFunction]] = {}
        for fn in self._functions:
            self._by_path.setdefault(fn.path, []).append(fn)

    def __len__(self) -> int:
        return len(self._functions)

    @property
    def paths(self) -> set[str]:
        return set(self._by_path)

    def in_path(self, path: str) -> list[IndexedFunction]:
        return sorted(self._by_path.get(path, []), key=lambda f: (f.start_line, f.qualified_name))

    def search(
        self,
        vector: Any,
        *,
        adapter_version: str,
        limit: int,
        language: str | None = None,
        exclude_paths: Collection[str] = (),
    ) -> list[Match]:
        if not self._functions:
            return []
        rows = [
            i
            for i, fn in enumerate(self._functions)
            if fn.adapter_version == adapter_version
            and (language is None or fn.language == language)
            and fn.path not in exclude_paths
        ]
        if not rows:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)  # (dim,)
        scores = self._vectors[rows] @ query  # (R,)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [Match(target=self._functions[rows[i]], score=float(scores[i])) for i in order]


@dataclass
class BaseView:
    """Read-only search over the collection with the base's differing files laid over it."""

    index: VectorIndex
    state: IndexState
    plan: ReviewPlan
    memory: MemoryFunctions
    dropped: frozenset[str]  # paths whose collection points do not hold the base's version
    stats: ViewStats
    warnings: list[str] = field(default_factory=list)

    def search(
        self,
        vector: Any,
        *,
        adapter_version: str,
        limit: int,
        language: str | None = None,
        exclude_paths: Collection[str] = (),
    ) -> list[Match]:
        """The ``limit`` best matches at the base, from the collection and the overlay together."""
        hits: list[Match] = []
        if self.state.usable:
            excluded = set(exclude_paths) | self.dropped
            asked = limit if self.state.same_options else 2 * limit
            try:
                hits = self.index.search(
                    self.state.collection, vector, adapter_version=adapter_version, limit=asked,
                    language=language, exclude_paths=excluded,
                )  # fmt: skip
            except CollectionNotFoundError:  # dropped meanwhile (an uninstall): the overlay still answers
                hits = []
            if not self.state.same_options:  # built with other options: keep only what this plan reads
                hits = [m for m in hits if self.plan.skips(m.target.path) is None]
        hits += self.memory.search(
            vector, adapter_version=adapter_version, limit=limit, language=language, exclude_paths=exclude_paths
        )
        hits.sort(key=lambda m: (-m.score, m.target.path, m.target.start_line, m.target.qualified_name))
        return hits[:limit]

    def functions_in_path(self, path: str) -> list[IndexedFunction]:
        """The base's functions of ``path`` (from the overlay when it was read from the base)."""
        if path in self.memory.paths:
            return self.memory.in_path(path)
        if path in self.dropped or not self.state.usable:
            return []
        try:
            return self.index.functions_in_path(self.state.collection, path)
        except CollectionNotFoundError:
            return []


def open_view(
    indexer: IndexService,
    index: VectorIndex,
    encoder: Encoder,
    source: GitSource,
    repo: RepoRef,
    base_sha: str,
    plan: ReviewPlan,
) -> BaseView:
    """The view of ``repo``'s collection from ``base_sha`` under ``plan`` (see the module docstring)."""
    started = time.perf_counter()
    state = indexer.state(source, repo, plan=plan)
    stats = ViewStats(base=base_sha, indexed_commit=state.commit)
    warnings: list[str] = []
    if state.usable:
        assert state.commit is not None
        changes = source.changes(state.commit, base_sha) if state.commit != base_sha else None
        differing = set(state.in_flux)
        if changes is not None:
            differing |= set(changes.removed_paths) | set(changes.new_paths)
        present = set(source.list_files(base_sha)) if differing else set()
        wanted = sorted(p for p in differing if p in present and plan.skips(p) is None)
        stats.mode = "overlay" if differing else "index"
    else:
        differing = set()
        wanted = sorted(p for p in source.list_files(base_sha) if plan.skips(p) is None)
        stats.mode, stats.reason = "memory", state.reason
    cap = plan.max_overlay_files
    kept, left_out = wanted[:cap], wanted[cap:]
    stats.left_out_files = len(left_out)
    dropped = frozenset(differing - set(left_out))  # over the cap, the indexed version stands in
    memory = _read(encoder, source, repo, base_sha, kept, plan, stats)
    if stats.mode == "memory":
        warnings.append(
            f"no usable index of {repo.slug} yet ({state.reason}): judged against the base in memory"
            + (f", {len(kept)} of its {len(wanted)} files" if left_out else "")
        )
    elif left_out:
        warnings.append(
            f"{len(wanted)} files differ between the indexed commit {str(state.commit)[:12]} and the base "
            f"{base_sha[:12]}: {len(kept)} were read from the base, the indexed versions of {len(left_out)} stood in"
        )
    stats.seconds = time.perf_counter() - started
    log.info(
        "review.view repo=%s mode=%s base=%s indexed=%s overlay_files=%d functions=%d embedded=%d",
        repo.slug, stats.mode, base_sha[:12], (state.commit or "-")[:12], stats.overlay_files,
        stats.overlay_functions, stats.embedded,
    )  # fmt: skip
    return BaseView(index, state, plan, memory, dropped, stats, warnings)


def _read(
    encoder: Encoder,
    source: GitSource,
    repo: RepoRef,
    commit: str,
    paths: Sequence[str],
    plan: ReviewPlan,
    stats: ViewStats,
) -> MemoryFunctions:
    """Extract ``paths`` at ``commit`` with the plan's options and embed their functions."""
    options = plan.extract_options
    functions: list[CodeFunction] = []
    for path in paths:
        try:
            extracted = extract_source(path, source.read(commit, path), options)
        except DoppelError as exc:  # unreadable or unparsable: it has no functions to offer
            log.info("review.view_skip path=%s: %s", path, exc)
            continue
        stats.overlay_files += 1
        if extracted.skipped is None:
            functions += extracted.functions
    found: list[IndexedFunction] = []
    blocks: list[np.ndarray] = []
    before_embedded, before_hits = encoder.stats.embedded, encoder.stats.cache_hits
    for start in range(0, len(functions), EMBED_CHUNK):
        chunk = functions[start : start + EMBED_CHUNK]
        blocks.append(np.asarray(encoder.embed_functions(chunk), dtype=np.float32))  # (n, dim)
        found += [
            IndexedFunction.from_function(repo, fn, commit=commit, adapter_version=encoder.adapter_version(fn.language))
            for fn in chunk
        ]
    stats.embedded += encoder.stats.embedded - before_embedded
    stats.cache_hits += encoder.stats.cache_hits - before_hits
    stats.overlay_functions = len(found)
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, encoder.dim), dtype=np.float32)
    return MemoryFunctions(found, vectors)
