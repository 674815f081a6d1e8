"""Keep a repository's vector collection in step with a commit: full index, incremental update.

The collection holds one point per extracted function, keyed by ``point_id(repo, path, qualname,
ordinal)``, and a small meta record::

    {"commit": sha, "base_model": id, "dim": n, "adapter_versions": {language: version},
     "options": fingerprint of the extraction options}

``update`` moves the collection from its meta commit to a new one touching only changed files;
anything that makes the stored vectors or the file selection incomparable (no meta, another base
model or dimension, other extraction options, a meta commit git no longer knows) leads to a full
index instead. The embedding cache makes re-embedding unchanged functions free, so a full index
of an already-indexed repository costs extraction, not forward passes.

While a run is in progress the meta ``commit`` is ``None``: a run that dies half-way leaves a
collection that the next run rebuilds from scratch rather than trusts.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from core.domain import CodeFunction, IndexedFunction, IndexPoint, RepoRef, point_id, text_hash
from core.errors import ExtractionError, GitError
from core.settings import Settings
from embedding.extract import ExtractOptions, extract_source, skip_reason

if TYPE_CHECKING:
    from embedding.encoder import Encoder
    from embedding.index import VectorIndex
    from embedding.source import GitSource

logger = logging.getLogger(__name__)

UPSERT_BATCH = 256  # points per upsert call
EMBED_CHUNK = 512  # functions embedded and written at a time: bounds memory on large repositories
PATH_BATCH = 512  # paths per delete_paths call
_MAX_KEPT_WARNINGS = 200  # warnings kept in IndexStats; all of them are counted and logged


@dataclass
class IndexStats:
    """What an index run did. ``embedded`` counts forward passes; ``cache_hits`` vectors reused."""

    files_seen: int = 0
    files_skipped: int = 0
    functions: int = 0
    embedded: int = 0
    cache_hits: int = 0
    deleted: int = 0  # paths whose points were removed because the file is gone or renamed away
    seconds: float = 0.0
    commit: str = ""
    mode: str = "full"  # "full", "update" or "noop"
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


def options_fingerprint(options: ExtractOptions) -> str:
    """A short, stable id of the extraction options: other options select other functions."""
    return text_hash(json.dumps(asdict(options), sort_keys=True, default=list))[:16]


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class IndexService:
    """Builds and updates one collection per repository from a ``GitSource``.

    The collection is ``repo.collection_name`` unless ``collection_of`` (a repository's current
    collection, e.g. from the adapter registry's pointer) or a call's ``collection`` names another:
    re-indexing with new adapters builds a fresh collection beside the one in use.
    """

    def __init__(
        self,
        settings: Settings,
        encoder: Encoder,
        index: VectorIndex,
        *,
        progress: bool | None = None,
        collection_of: Callable[[RepoRef], str] | None = None,
    ) -> None:
        self._settings = settings
        self._collection_of = collection_of
        self._encoder = encoder
        self._index = index
        self._options = ExtractOptions.from_settings(settings)
        self._fingerprint = options_fingerprint(self._options)
        self._progress = sys.stderr.isatty() if progress is None else progress

    # --- public API -----------------------------------------------------------------------------
    def collection(self, repo: RepoRef, collection: str | None = None) -> str:
        """The collection a call works on: ``collection`` if given, else the repository's current one."""
        if collection:
            return collection
        return self._collection_of(repo) if self._collection_of is not None else repo.collection_name

    def index_commit(
        self, source: GitSource, repo: RepoRef, commit: str = "HEAD", *, collection: str | None = None
    ) -> IndexStats:
        """Index every file at ``commit`` and make the collection match it exactly."""
        started = time.perf_counter()
        sha = source.resolve(commit)
        name = self.collection(repo, collection)
        meta = self._meta(name)
        previous_files = self._previous_files(source, meta) if self._same_space(meta) else None
        if previous_files is None and self._index.collection_exists(name):
            # Nothing trustworthy to diff against (or incomparable vectors): start from empty.
            logger.info("index.rebuild repo=%s reason=%s", repo.slug, self._rebuild_reason(meta))
            self._index.drop_collection(name)
            meta = {}
        self._index.ensure_collection(name, self._encoder.dim)
        self._mark_in_progress(name, sha, meta)

        stats = IndexStats(commit=sha, mode="full")
        files = source.list_files(sha)
        gone = sorted(set(previous_files or ()) - set(files))
        self._delete_paths(name, gone)
        stats.deleted = len(gone)
        versions = self._index_paths(source, repo, name, sha, files, stats, replace=previous_files is not None)
        self._finish(name, sha, versions, stats, started)
        return stats

    def update(self, source: GitSource, repo: RepoRef, new_commit: str, *, collection: str | None = None) -> IndexStats:
        """Move the collection from its meta commit to ``new_commit``, re-indexing changed files only."""
        started = time.perf_counter()
        name = self.collection(repo, collection)
        new = source.resolve(new_commit)
        meta = self._meta(name)
        old = self._resolve_meta_commit(source, meta)
        if old is None or not self._compatible(meta):
            logger.info("index.full_instead repo=%s reason=%s", repo.slug, self._rebuild_reason(meta))
            return self.index_commit(source, repo, new, collection=name)
        if old == new:
            return IndexStats(commit=new, mode="noop", seconds=time.perf_counter() - started)

        changes = source.changes(old, new)
        self._mark_in_progress(name, new, meta)
        stats = IndexStats(commit=new, mode="update")
        self._delete_paths(name, changes.removed_paths)
        stats.deleted = len(changes.deleted) + len(changes.renamed)
        present = set(source.list_files(new))
        paths = sorted({p for p in changes.new_paths if p in present})  # symlinks, submodules: never indexed
        versions = dict(meta.get("adapter_versions") or {})
        versions.update(self._index_paths(source, repo, name, new, paths, stats, replace=False))
        self._finish(name, new, versions, stats, started)
        return stats

    def ensure_indexed(
        self, source: GitSource, repo: RepoRef, commit: str = "HEAD", *, collection: str | None = None
    ) -> IndexStats:
        """Make the collection match ``commit``: nothing when it already does, else update or full."""
        sha = source.resolve(commit)
        name = self.collection(repo, collection)
        meta = self._meta(name)
        if meta.get("commit") == sha and self._compatible(meta):
            return IndexStats(commit=sha, mode="noop")
        return self.update(source, repo, sha, collection=name)

    # --- meta -----------------------------------------------------------------------------------
    def _meta(self, name: str) -> dict[str, Any]:
        if not self._index.collection_exists(name):
            return {}
        return dict(self._index.get_meta(name) or {})

    def _same_space(self, meta: dict[str, Any]) -> bool:
        """Stored vectors are comparable to ours and the same files were selected."""
        return (
            meta.get("base_model") == self._encoder.base_model_id
            and meta.get("dim") == self._encoder.dim
            and meta.get("options") == self._fingerprint
        )

    def _compatible(self, meta: dict[str, Any]) -> bool:
        """Same space and every stored language still embedded with the same adapter version."""
        versions = meta.get("adapter_versions") or {}
        return self._same_space(meta) and all(
            self._encoder.adapter_version(language) == version for language, version in versions.items()
        )

    def _rebuild_reason(self, meta: dict[str, Any]) -> str:
        if not meta:
            return "no_collection"
        if not meta.get("commit"):
            return "no_commit"
        if meta.get("base_model") != self._encoder.base_model_id or meta.get("dim") != self._encoder.dim:
            return "model_changed"
        if meta.get("options") != self._fingerprint:
            return "options_changed"
        if not self._compatible(meta):
            return "adapter_changed"
        return "commit_unknown"

    @staticmethod
    def _resolve_meta_commit(source: GitSource, meta: dict[str, Any]) -> str | None:
        commit = meta.get("commit")
        if not commit:
            return None
        try:
            return source.resolve(commit)
        except GitError:  # history rewritten or another clone: the stored commit is gone
            return None

    def _previous_files(self, source: GitSource, meta: dict[str, Any]) -> list[str] | None:
        old = self._resolve_meta_commit(source, meta)
        return None if old is None else source.list_files(old)

    def _mark_in_progress(self, name: str, target: str, meta: dict[str, Any]) -> None:
        self._index.set_meta(name, {**meta, "commit": None, "indexing": target})

    def _finish(self, name: str, sha: str, versions: dict[str, str], stats: IndexStats, started: float) -> None:
        self._index.set_meta(
            name,
            {
                "commit": sha,
                "base_model": self._encoder.base_model_id,
                "dim": self._encoder.dim,
                "adapter_versions": dict(sorted(versions.items())),
                "options": self._fingerprint,
            },
        )
        stats.seconds = time.perf_counter() - started
        if stats.warning_count:
            logger.warning(
                "index.extract_warnings commit=%s count=%d first=%s",
                sha[:12],
                stats.warning_count,
                "; ".join(stats.warnings[:3]),
            )
        logger.info(
            "index.done mode=%s commit=%s files=%d skipped=%d functions=%d embedded=%d cache_hits=%d "
            "deleted=%d seconds=%.2f",
            stats.mode,
            sha[:12],
            stats.files_seen,
            stats.files_skipped,
            stats.functions,
            stats.embedded,
            stats.cache_hits,
            stats.deleted,
            stats.seconds,
        )

    # --- the work -------------------------------------------------------------------------------
    def _delete_paths(self, name: str, paths: Iterable[str]) -> None:
        for batch in _batches(sorted(set(paths)), PATH_BATCH):
            self._index.delete_paths(name, batch)

    def _extract(self, source: GitSource, commit: str, path: str, stats: IndexStats) -> list[CodeFunction] | None:
        """Functions of one file, or ``None`` when its content makes it skipped as a whole."""
        try:
            result = extract_source(path, source.read(commit, path), self._options)
        except ExtractionError as exc:
            self._warn(stats, f"{path}: {exc}")
            return None
        for warning in result.warnings:
            self._warn(stats, warning)
        if result.skipped is not None:
            return None
        return result.functions

    @staticmethod
    def _warn(stats: IndexStats, message: str) -> None:
        stats.warning_count += 1
        if len(stats.warnings) < _MAX_KEPT_WARNINGS:
            stats.warnings.append(message)

    def _index_paths(
        self,
        source: GitSource,
        repo: RepoRef,
        name: str,
        commit: str,
        paths: Sequence[str],
        stats: IndexStats,
        *,
        replace: bool,
    ) -> dict[str, str]:
        """Extract, embed and upsert the functions of ``paths``; returns {language: adapter version}.

        With ``replace`` each file's old points are deleted just before its new ones are written,
        so functions removed from a file that is still present disappear too.
        """
        versions: dict[str, str] = {}
        pending: list[tuple[str, CodeFunction]] = []  # (point id, function)
        pending_paths: list[str] = []

        def flush() -> None:
            if replace and pending_paths:
                self._delete_paths(name, pending_paths)
            if pending:
                self._write(repo, name, commit, pending, versions, stats)
            pending.clear()
            pending_paths.clear()

        for path in self._iter_progress(paths, repo):
            stats.files_seen += 1
            if skip_reason(path, self._options) is not None:
                # Skipped by name: with the same options (part of the meta) it never had points.
                stats.files_skipped += 1
                continue
            functions = self._extract(source, commit, path, stats)
            pending_paths.append(path)
            if functions is None:
                stats.files_skipped += 1
                continue
            ordinals: dict[str, int] = {}
            for fn in functions:
                ordinal = ordinals.get(fn.qualified_name, 0)
                ordinals[fn.qualified_name] = ordinal + 1
                pending.append((point_id(repo, fn.path, fn.qualified_name, ordinal), fn))
            if len(pending) >= EMBED_CHUNK or len(pending_paths) >= PATH_BATCH:
                flush()
        flush()
        return versions

    def _write(
        self,
        repo: RepoRef,
        name: str,
        commit: str,
        pending: Sequence[tuple[str, CodeFunction]],
        versions: dict[str, str],
        stats: IndexStats,
    ) -> None:
        encoder = self._encoder
        embedded_before, hits_before = encoder.stats.embedded, encoder.stats.cache_hits
        vectors = encoder.embed_functions([fn for _, fn in pending], progress=False)  # (N, dim)
        stats.embedded += encoder.stats.embedded - embedded_before
        stats.cache_hits += encoder.stats.cache_hits - hits_before
        points: list[IndexPoint] = []
        for (pid, fn), vector in zip(pending, vectors, strict=True):
            version = versions.get(fn.language)
            if version is None:
                version = versions[fn.language] = encoder.adapter_version(fn.language)
            payload = IndexedFunction.from_function(repo, fn, commit=commit, adapter_version=version)
            points.append(IndexPoint(id=pid, vector=[float(x) for x in vector], payload=payload))
        for batch in _batches(points, UPSERT_BATCH):
            self._index.upsert(name, batch)
        stats.functions += len(points)

    def _iter_progress(self, paths: Sequence[str], repo: RepoRef) -> Iterable[str]:
        if not self._progress or not paths:
            return paths
        from tqdm import tqdm

        return tqdm(paths, desc=f"indexing {repo.slug}", unit="file", file=sys.stderr, leave=False)
