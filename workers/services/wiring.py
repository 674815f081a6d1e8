"""Builds the embedding-side services from settings, in one place for the CLI, workers and the Action."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.domain import RepoRef
from core.settings import Settings

if TYPE_CHECKING:
    from embedding.encoder import Encoder
    from embedding.index.base import VectorIndex
    from embedding.registry import Pointer
    from workers.services.index_lock import IndexLock
    from workers.services.indexing import IndexService
    from workers.services.review import ReviewService


@dataclass
class EmbeddingServices:
    """The encoder, the index and the services built on them; ``close()`` releases the index
    when these services opened it (not when it was lent by ``build_services(index=...)``)."""

    settings: Settings
    encoder: Encoder
    index: VectorIndex
    indexer: IndexService
    reviewer: ReviewService
    pointer: Pointer | None = None  # the registry pointer the encoder and collection were taken from
    owns_index: bool = True

    def close(self) -> None:
        if self.owns_index:
            self.index.close()

    def __enter__(self) -> EmbeddingServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_services(
    settings: Settings,
    *,
    progress: bool | None = None,
    repo: RepoRef | None = None,
    index: VectorIndex | None = None,
    pointer: Pointer | None = None,
    lock: IndexLock | None = None,
) -> EmbeddingServices:
    """Load the encoder and open the index (or use ``index``, which the caller keeps owning).

    Without ``repo``, or when the registry has no adapters for it, the encoder carries the
    adapters in ``settings.adapter_dir`` and every repository uses ``repo.collection_name``.
    With ``repo`` and a registry pointer (``settings.adapter_registry_root``) naming adapters,
    the encoder carries exactly those adapters (never another repository's) and ``repo``'s
    reviews, searches and index updates go to the collection the pointer names, which was built
    with them. Both come from one read of the pointer, so they always match; a job passes the
    ``pointer`` its ``ReviewPlan`` holds, so that the plan and the services agree too.
    ``lock`` is the index writers' lock (default: the single-process ``LocalIndexLock``).
    What a pointer means (which encoder, which collection) is decided by ``embedding.generation``.
    """
    from embedding.generation import Generations, encoder_for
    from embedding.index import open_index
    from workers.services.indexing import IndexService
    from workers.services.review import ReviewService

    generation = None
    if repo is not None:
        generations = Generations.from_settings(settings)
        generation = generations.of(repo, pointer) if pointer is not None else generations.current(repo)
        pointer = generation.pointer
    encoder = encoder_for(settings, generation)
    owns_index = index is None
    index = open_index(settings) if index is None else index
    collection_of = generation.collection_of if generation is not None else None
    indexer = IndexService(settings, encoder, index, progress=progress, collection_of=collection_of, lock=lock)
    reviewer = ReviewService(settings, encoder, index, indexer)
    return EmbeddingServices(settings, encoder, index, indexer, reviewer, pointer=pointer, owns_index=owns_index)


def local_repo_ref(path: Path, name: str | None = None) -> RepoRef:
    """A tenant for a local checkout: its directory name plus a short hash of its absolute path,
    so that two checkouts with the same name never share a collection."""
    resolved = path.resolve()
    if name:
        return RepoRef(slug=name)
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return RepoRef(slug=f"{resolved.name or 'repo'}-{digest}")
