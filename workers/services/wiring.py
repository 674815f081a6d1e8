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
    from workers.services.indexing import IndexService
    from workers.services.review import ReviewService


@dataclass
class EmbeddingServices:
    """The encoder, the index and the services built on them; ``close()`` releases the index."""

    settings: Settings
    encoder: Encoder
    index: VectorIndex
    indexer: IndexService
    reviewer: ReviewService

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> EmbeddingServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_services(settings: Settings, *, progress: bool | None = None) -> EmbeddingServices:
    """Load the encoder (with the adapters in ``settings.adapter_dir``) and open the index."""
    from embedding.encoder import Encoder
    from embedding.index import open_index
    from workers.services.indexing import IndexService
    from workers.services.review import ReviewService

    encoder = Encoder.from_settings(settings)
    index = open_index(settings)
    indexer = IndexService(settings, encoder, index, progress=progress)
    reviewer = ReviewService(settings, encoder, index, indexer)
    return EmbeddingServices(settings, encoder, index, indexer, reviewer)


def local_repo_ref(path: Path, name: str | None = None) -> RepoRef:
    """A tenant for a local checkout: its directory name plus a short hash of its absolute path,
    so that two checkouts with the same name never share a collection."""
    resolved = path.resolve()
    if name:
        return RepoRef(slug=name)
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return RepoRef(slug=f"{resolved.name or 'repo'}-{digest}")
