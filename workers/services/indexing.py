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
collection that the next run rebuilds from scratch rather than trusts. An update in progress also
records where it started (``from``), so that a reader knows which files are in flux meanwhile.

Writes go through ``IndexLock.hold(collection)``: one writer per collection at a time (a Redis
lease in the workers, a no-op twin in the CLI and the Action). Reading (``state``) takes no lock:
reviews and searches never write; they lay the difference between the indexed commit and their
base over the search in memory (``workers.services.overlay``).

Every call may take the job's ``ReviewPlan``: its extraction options decide which files are read
(the repository's ``languages`` and ``ignore`` globs included), and their fingerprint is part of
the meta, so a change of configuration rebuilds the collection (cheap: the embedding cache).
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
from core.progress import Progress
from core.settings import Settings
from embedding.extract import ExtractOptions, extract_source, skip_reason
from workers.services.index_lock import IndexLock, Lease, LocalIndexLock

if TYPE_CHECKING:
    from embedding.encoder import Encoder
    from embedding.index import VectorIndex
    from embedding.source import GitSource
    from workers.services.plan import ReviewPlan

logger = logging.getLogger(__name__)

UPSERT_BATCH = 256  # points per upsert call
EMBED_CHUNK = 512  # functions embedded and written at a time: bounds memory on large repositories
PATH_BATCH = 512  # paths per delete_paths call
_MAX_KEPT_WARNINGS = 200  # warnings kept in IndexStats; all of them are counted and logged
_MAX_SKIP_REASONS = 50  # distinct skip reasons counted in IndexStats; the rest count as "other"


class _NoLease:
    def renew(self) -> None:
        return None


_NO_LEASE = _NoLease()


@dataclass
class IndexStats:
    """What an index run did. ``embedded`` counts forward passes; ``cache_hits`` vectors reused.

    ``skipped``: skipped files counted by reason (``"unsupported file type '.md'"``, ``"generated"``);
    each file and its full reason is logged at INFO (``doppel -v index`` lists them).
    ``held``: the functions the collection holds after the run (a no-op run included), or ``None``
    when not counted.
    """

    files_seen: int = 0
    files_skipped: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    functions: int = 0
    embedded: int = 0
    cache_hits: int = 0
    deleted: int = 0  # paths whose points were removed because the file is gone or renamed away
    seconds: float = 0.0
    commit: str = ""
    mode: str = "full"  # "full", "update" or "noop"
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    held: int | None = None

    def skip(self, path: str, reason: str) -> None:
        """Count one skipped file under its reason's kind, and say which file and why (``-v``)."""
        self.files_skipped += 1
        kind = skip_kind(reason)
        if kind not in self.skipped and len(self.skipped) >= _MAX_SKIP_REASONS:
            kind = "other"
        self.skipped[kind] = self.skipped.get(kind, 0) + 1
        logger.info("skipped %s: %s", path, reason)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


def skip_kind(reason: str) -> str:
    """A skip reason without its per-file figures, to count files by: ``"too large (1,234 bytes >
    …)"`` → ``"too large"``, ``"extraction failed: ValueError: …"`` → ``"extraction failed"``."""
    return reason.split(" (", 1)[0].split(": ", 1)[0].strip() or reason


def options_fingerprint(options: ExtractOptions) -> str:
    """A short, stable id of the extraction options: other options select other functions."""
    return text_hash(json.dumps(asdict(options), sort_keys=True, default=list))[:16]


@dataclass(frozen=True)
class IndexState:
    """What a reader may trust of a collection, read without a lock.

    ``commit``: the commit whose functions the collection holds (``None``: nothing usable, see
    ``reason``). ``in_flux``: files an update in progress is rewriting (their points may be of
    either side). ``same_options``: the collection was built with the extraction options the
    reader's plan asks for (else it may hold files the plan ignores, or lack some it wants).
    """

    collection: str
    commit: str | None
    reason: str | None = None
    in_flux: tuple[str, ...] = ()
    same_options: bool = True

    @property
    def usable(self) -> bool:
        return self.commit is not None


@dataclass
class _Run:
    """One write's options, their fingerprint and the writer's lease."""

    options: ExtractOptions
    fingerprint: str
    lease: Lease


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class IndexService:
    """Builds and updates one collection per repository from a ``GitSource``.

    The collection is ``repo.collection_name`` unless ``collection_of`` (a repository's current
    collection, e.g. from the adapter registry's pointer) or a call's ``collection`` names another:
    re-indexing with new adapters builds a fresh collection beside the one in use. ``lock`` gives
    the writer's lease per collection (default: ``LocalIndexLock``, for a single process).
    """

    def __init__(
        self,
        settings: Settings,
        encoder: Encoder,
        index: VectorIndex,
        *,
        progress: bool | None = None,
        collection_of: Callable[[RepoRef], str] | None = None,
        lock: IndexLock | None = None,
    ) -> None:
        self._settings = settings
        self._collection_of = collection_of
        self._encoder = encoder
        self._index = index
        self._options = ExtractOptions.from_settings(settings)
        self._lock: IndexLock = lock or LocalIndexLock()
        self._progress = sys.stderr.isatty() if progress is None else progress

    @property
    def encoder(self) -> Encoder:
        return self._encoder

    def options(self, plan: ReviewPlan | None = None) -> ExtractOptions:
        """The extraction options of a call: the plan's, else those of the settings."""
        return plan.extract_options if plan is not None else self._options

    # --- public API -----------------------------------------------------------------------------
    def collection(self, repo: RepoRef, collection: str | None = None) -> str:
        """The collection a call works on: ``collection`` if given, else the repository's current one."""
        if collection:
            return collection
        return self._collection_of(repo) if self._collection_of is not None else repo.collection_name

    def index_commit(
        self,
        source: GitSource,
        repo: RepoRef,
        commit: str = "HEAD",
        *,
        collection: str | None = None,
        plan: ReviewPlan | None = None,
    ) -> IndexStats:
        """Index every file at ``commit`` and make the collection match it exactly (under the lock)."""
        name = self.collection(repo, collection)
        with self._lock.hold(name) as lease:
            return self._index_commit(source, repo, commit, name, self._run(plan, lease))

    def update(
        self,
        source: GitSource,
        repo: RepoRef,
        new_commit: str,
        *,
        collection: str | None = None,
        plan: ReviewPlan | None = None,
    ) -> IndexStats:
        """Move the collection from its meta commit to ``new_commit``, re-indexing changed files only."""
        name = self.collection(repo, collection)
        with self._lock.hold(name) as lease:
            return self._update(source, repo, new_commit, name, self._run(plan, lease))

    def ensure_indexed(
        self,
        source: GitSource,
        repo: RepoRef,
        commit: str = "HEAD",
        *,
        collection: str | None = None,
        plan: ReviewPlan | None = None,
    ) -> IndexStats:
        """Make the collection match ``commit``: nothing when it already does, else update or full.

        For writers only (an index job, ``doppel index``): a review never moves the index."""
        sha = source.resolve(commit)
        name = self.collection(repo, collection)
        run = self._run(plan, None)
        meta = self._meta(name)
        if meta.get("commit") == sha and self._compatible(meta, run):
            return IndexStats(commit=sha, mode="noop", held=self._held(name))
        with self._lock.hold(name) as lease:
            run.lease = lease
            return self._update(source, repo, sha, name, run)

    def state(
        self,
        source: GitSource,
        repo: RepoRef,
        *,
        collection: str | None = None,
        plan: ReviewPlan | None = None,
    ) -> IndexState:
        """What the collection holds, for a reader: its commit, what is in flux, whether it fits."""
        name = self.collection(repo, collection)
        meta = self._meta(name)
        run = self._run(plan, None)
        in_flux: tuple[str, ...] = ()
        commit = self._resolve_meta_commit(source, meta)
        if commit is None and meta.get("from") and meta.get("indexing"):
            # An update is in progress: files it does not touch are as they were at "from".
            started_from = self._resolve_meta_commit(source, {"commit": meta["from"]})
            target = self._resolve_meta_commit(source, {"commit": meta["indexing"]})
            if started_from is not None and target is not None:
                commit = started_from
                changes = source.changes(started_from, target)
                in_flux = tuple(sorted(set(changes.removed_paths) | set(changes.new_paths)))
        if not meta:
            return IndexState(name, None, reason="no_collection")
        if commit is None:
            return IndexState(name, None, reason="commit_unknown" if meta.get("commit") else "no_commit")
        if not self._same_model(meta):
            return IndexState(name, None, reason="model_changed")
        if not self._adapters_match(meta):
            return IndexState(name, None, reason="adapter_changed")
        return IndexState(name, commit, in_flux=in_flux, same_options=meta.get("options") == run.fingerprint)

    def referenced_commits(self, repo: RepoRef, *, collection: str | None = None) -> list[str]:
        """The commits the collection's meta names (held, or an update's two ends): a reader's
        clone needs them to diff its base against."""
        meta = self._meta(self.collection(repo, collection))
        return sorted({str(meta[k]) for k in ("commit", "from", "indexing") if meta.get(k)})

    # --- the runs -------------------------------------------------------------------------------
    def _run(self, plan: ReviewPlan | None, lease: Lease | None) -> _Run:
        options = self.options(plan)
        return _Run(options, options_fingerprint(options), lease or _NO_LEASE)

    def _index_commit(self, source: GitSource, repo: RepoRef, commit: str, name: str, run: _Run) -> IndexStats:
        started = time.perf_counter()
        sha = source.resolve(commit)
        meta = self._meta(name)
        previous_files = self._previous_files(source, meta) if self._same_space(meta, run) else None
        if previous_files is None and self._index.collection_exists(name):
            # Nothing trustworthy to diff against (or incomparable vectors): start from empty.
            logger.info("index.rebuild repo=%s reason=%s", repo.slug, self._rebuild_reason(meta, run))
            self._index.drop_collection(name)
            meta = {}
        self._index.ensure_collection(name, self._encoder.dim)
        self._mark_in_progress(name, sha, meta)

        stats = IndexStats(commit=sha, mode="full")
        files = source.list_files(sha)
        gone = sorted(set(previous_files or ()) - set(files))
        self._delete_paths(name, gone)
        stats.deleted = len(gone)
        versions = self._index_paths(source, repo, name, sha, files, stats, run, replace=previous_files is not None)
        self._finish(name, sha, versions, stats, started, run)
        return stats

    def _update(self, source: GitSource, repo: RepoRef, new_commit: str, name: str, run: _Run) -> IndexStats:
        started = time.perf_counter()
        new = source.resolve(new_commit)
        meta = self._meta(name)
        old = self._resolve_meta_commit(source, meta)
        if old is None or not self._compatible(meta, run):
            logger.info("index.full_instead repo=%s reason=%s", repo.slug, self._rebuild_reason(meta, run))
            return self._index_commit(source, repo, new, name, run)
        if old == new:
            return IndexStats(commit=new, mode="noop", seconds=time.perf_counter() - started, held=self._held(name))

        changes = source.changes(old, new)
        self._mark_in_progress(name, new, meta, started_from=old)
        stats = IndexStats(commit=new, mode="update")
        self._delete_paths(name, changes.removed_paths)
        stats.deleted = len(changes.deleted) + len(changes.renamed)
        present = set(source.list_files(new))
        paths = sorted({p for p in changes.new_paths if p in present})  # symlinks, submodules: never indexed
        versions = dict(meta.get("adapter_versions") or {})
        versions.update(self._index_paths(source, repo, name, new, paths, stats, run, replace=False))
        self._finish(name, new, versions, stats, started, run)
        return stats

    # --- meta -----------------------------------------------------------------------------------
    def _held(self, name: str) -> int:
        """How many functions the collection holds (what a no-op run reports)."""
        return self._index.count(name) if self._index.collection_exists(name) else 0

    def _meta(self, name: str) -> dict[str, Any]:
        if not self._index.collection_exists(name):
            return {}
        return dict(self._index.get_meta(name) or {})

    def _same_model(self, meta: dict[str, Any]) -> bool:
        return meta.get("base_model") == self._encoder.base_model_id and meta.get("dim") == self._encoder.dim

    def _adapters_match(self, meta: dict[str, Any]) -> bool:
        """Every stored language is still embedded with the same adapter version."""
        versions = meta.get("adapter_versions") or {}
        return all(self._encoder.adapter_version(language) == version for language, version in versions.items())

    def _same_space(self, meta: dict[str, Any], run: _Run) -> bool:
        """Stored vectors are comparable to ours and the same files were selected."""
        return self._same_model(meta) and meta.get("options") == run.fingerprint

    def _compatible(self, meta: dict[str, Any], run: _Run) -> bool:
        """Same space and every stored language still embedded with the same adapter version."""
        return self._same_space(meta, run) and self._adapters_match(meta)

    def _rebuild_reason(self, meta: dict[str, Any], run: _Run) -> str:
        if not meta:
            return "no_collection"
        if not meta.get("commit"):
            return "no_commit"
        if not self._same_model(meta):
            return "model_changed"
        if not self._adapters_match(meta):
            return "adapter_changed"
        if meta.get("options") != run.fingerprint:
            return "options_changed"
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

    def _mark_in_progress(
        self, name: str, target: str, meta: dict[str, Any], *, started_from: str | None = None
    ) -> None:
        marked = {k: v for k, v in meta.items() if k not in ("from", "indexing")}
        marked.update({"commit": None, "indexing": target})
        if started_from is not None:
            marked["from"] = started_from
        self._index.set_meta(name, marked)

    def _finish(
        self, name: str, sha: str, versions: dict[str, str], stats: IndexStats, started: float, run: _Run
    ) -> None:
        run.lease.renew()  # a writer that lost its lease must not claim the collection is complete
        self._index.set_meta(
            name,
            {
                "commit": sha,
                "base_model": self._encoder.base_model_id,
                "dim": self._encoder.dim,
                "adapter_versions": dict(sorted(versions.items())),
                "options": run.fingerprint,
            },
        )
        stats.seconds = time.perf_counter() - started
        stats.held = self._held(name)
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

    def _extract(
        self, source: GitSource, commit: str, path: str, stats: IndexStats, options: ExtractOptions
    ) -> list[CodeFunction] | None:
        """Functions of one file, or ``None`` when its content makes it skipped as a whole."""
        try:
            result = extract_source(path, source.read(commit, path), options)
        except ExtractionError as exc:
            self._warn(stats, f"{path}: {exc}")
            stats.skip(path, f"extraction failed: {exc}")
            return None
        for warning in result.warnings:
            self._warn(stats, warning)
        if result.skipped is not None:
            stats.skip(path, result.skipped)
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
        run: _Run,
        *,
        replace: bool,
    ) -> dict[str, str]:
        """Extract, embed and upsert the functions of ``paths``; returns {language: adapter version}.

        With ``replace`` each file's old points are deleted just before its new ones are written,
        so functions removed from a file that is still present disappear too.
        """
        versions: dict[str, str] = {}
        if not paths:
            return versions
        pending: list[tuple[str, CodeFunction]] = []  # (point id, function)
        pending_paths: list[str] = []
        progress = Progress(f"indexing {repo.slug}", terminal=self._progress)

        def counted() -> None:
            # Functions written so far; within a chunk the encoder's batches move the count on.
            cached = f" · {stats.cache_hits} from the embedding cache" if stats.cache_hits else ""
            progress.update(stats.functions, detail=f"files {stats.files_seen}/{len(paths)}{cached}")

        def flush() -> None:
            run.lease.renew()
            if replace and pending_paths:
                self._delete_paths(name, pending_paths)
            if pending:
                self._write(repo, name, commit, pending, versions, stats, progress.advance)
            pending.clear()
            pending_paths.clear()
            counted()

        with progress:
            for path in paths:
                stats.files_seen += 1
                reason = skip_reason(path, run.options)
                if reason is not None:
                    # Skipped by name: with the same options (part of the meta) it never had points.
                    stats.skip(path, reason)
                    continue
                functions = self._extract(source, commit, path, stats, run.options)
                pending_paths.append(path)
                if functions is None:
                    continue
                ordinals: dict[str, int] = {}
                for fn in functions:
                    ordinal = ordinals.get(fn.qualified_name, 0)
                    ordinals[fn.qualified_name] = ordinal + 1
                    pending.append((point_id(repo, fn.path, fn.qualified_name, ordinal), fn))
                if len(pending) >= EMBED_CHUNK or len(pending_paths) >= PATH_BATCH:
                    flush()
                else:
                    counted()
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
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        encoder = self._encoder
        embedded_before, hits_before = encoder.stats.embedded, encoder.stats.cache_hits
        # The encoder tells ``on_batch`` of each forward batch, so progress moves within a chunk.
        vectors = encoder.embed_functions([fn for _, fn in pending], progress=on_batch or False)  # (N, dim)
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
