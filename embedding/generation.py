"""Adapter generations: the one owner of which adapters a repository's search uses.

A *generation* is a set of adapter versions (adapter name → version in the registry) together
with the index collection built with exactly those adapters. Vectors of two generations are never
searched together, so everything that decides about generations lives here and nowhere else:

* reading the current one: ``Generations.current`` (one read of the registry's pointer, so the
  adapters and the collection always match);
* the encoder that carries exactly a generation's adapters (never ``DOPPEL_ADAPTER_DIR``'s, never
  another repository's): ``encoder_for`` / ``encoder_with_adapters``;
* naming a generation's collection (``collection_for``: the repository's name plus a hash of the
  versions) and resolving which collection a repository's searches use (``Generation.collection_of``);
* switching to a new generation (``Generations.switch``: build the new collection, then point the
  registry at adapters and collection in one atomic write, then drop the old collection; a failed
  build drops the half-built one and leaves the pointer as it was);
* dropping a repository's generations when it leaves (``Generations.drop_repository``).

The registry (``embedding.registry``) stores versions and the pointer file; the wiring, the
retraining's promoter and the production runtime call this module.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.domain import RepoRef
from embedding.registry import AdapterRegistry, Pointer

if TYPE_CHECKING:
    from core.settings import Settings
    from embedding.encoder import Encoder
    from embedding.index.base import VectorIndex

log = logging.getLogger(__name__)

Build = Callable[[Mapping[str, Path], str], None]  # (adapter name → directory, collection) → built
Drop = Callable[[str], None]  # collection → dropped


def collection_for(repo: RepoRef, adapters: Mapping[str, str], precision: str = "fp32") -> str:
    """The collection of one generation: the repository's name plus a hash of its versions (and
    of the inference precision when it is not fp32: a bf16/int8 vector space is another one)."""
    key = ",".join(f"{k}={v}" for k, v in sorted(adapters.items())) + ("" if precision == "fp32" else f";{precision}")
    return repo.generation_collection(hashlib.sha256(key.encode()).hexdigest()[:8])


@dataclass(frozen=True)
class Generation:
    """What ``repo``'s search uses: the pointer's adapters (their directories) and their collection.

    Without adapters of its own (``own`` False) the repository uses the shared encoder and its
    base collection ``repo.collection_name``."""

    repo: RepoRef
    pointer: Pointer
    paths: Mapping[str, Path]  # adapter name → directory of the version pointed at

    @property
    def own(self) -> bool:
        return bool(self.pointer.adapters)

    @property
    def collection(self) -> str:
        """The collection ``repo``'s reviews, searches and index updates go to."""
        if self.own and self.pointer.collection:
            return self.pointer.collection
        return self.repo.collection_name

    def collection_of(self, other: RepoRef) -> str:
        """Collection resolver for an ``IndexService``: this generation's for ``repo``, the base
        collection for any other repository (never this repository's vectors for another)."""
        if other.collection_name == self.repo.collection_name:
            return self.collection
        return other.collection_name


class Generations:
    """Reads, switches and drops repositories' generations over one ``AdapterRegistry``."""

    def __init__(self, registry: AdapterRegistry) -> None:
        self.registry = registry

    @classmethod
    def from_settings(cls, settings: Settings) -> Generations:
        return cls(AdapterRegistry(settings.adapter_registry_root))

    # --- reading -------------------------------------------------------------------------------
    def current(self, repo: RepoRef) -> Generation:
        return self.of(repo, self.registry.pointer(repo))

    def of(self, repo: RepoRef, pointer: Pointer) -> Generation:
        """The generation ``pointer`` (one already read, e.g. a job plan's) describes for ``repo``."""
        paths = {name: self.registry.language_dir(repo, name) / version for name, version in pointer.adapters.items()}
        return Generation(repo=repo, pointer=pointer, paths=paths)

    # --- switching -----------------------------------------------------------------------------
    def switch(
        self,
        repo: RepoRef,
        winners: Mapping[str, str],
        *,
        build: Build | None = None,
        drop: Drop | None = None,
        precision: str = "fp32",
    ) -> Pointer | None:
        """Make ``winners`` (adapter name → version, merged over the current generation's) the
        generation ``repo``'s search uses; ``None`` when there are no winners.

        With ``build``: the new collection is built first (search still uses the old one), the
        pointer then switches to adapters and collection in one write, and only then is the old
        collection (the pointer's, or ``repo.collection_name`` before the first promotion) dropped.
        A failed build drops the half-built collection and leaves the pointer as it was. Without
        ``build`` the pointer names no collection: search uses ``repo.collection_name``, which the
        next index run rebuilds with the new adapters."""
        if not winners:
            return None
        before = self.registry.pointer(repo)
        adapters = {**before.adapters, **winners}
        if build is None:
            return self.registry.switch(repo, adapters, None)
        collection = collection_for(repo, adapters, precision)
        paths = self.of(repo, Pointer(adapters=adapters)).paths
        try:
            build(paths, collection)
        except BaseException:
            log.exception("generation.build_failed repo=%s collection=%s", repo.slug, collection)
            if drop is not None:
                drop(collection)
            raise
        pointer = self.registry.switch(repo, adapters, collection)
        old = before.collection or repo.collection_name
        if old != collection and drop is not None:
            drop(old)
        log.info("generation.switched repo=%s collection=%s adapters=%s", repo.slug, collection, adapters)
        return pointer

    # --- dropping ------------------------------------------------------------------------------
    def drop_repository(self, repo: RepoRef, index: VectorIndex) -> list[str]:
        """Drop every collection ``repo`` owns (its base one and every generation, by exact name)
        and its adapters; returns the collections dropped."""
        dropped = index.drop_repository(repo)
        shutil.rmtree(self.registry.repo_dir(repo), ignore_errors=True)
        return dropped


def encoder_with_adapters(settings: Settings, adapters: Mapping[str, Path]) -> Encoder:
    """The settings' encoder carrying exactly ``adapters`` (name → directory), not ``DOPPEL_ADAPTER_DIR``'s."""
    from embedding.encoder import Encoder

    encoder = Encoder.from_settings(settings.model_copy(update={"adapter_dir": None}))
    for name, path in sorted(adapters.items()):
        encoder.load_adapter(name, path)
    return encoder


def encoder_for(settings: Settings, generation: Generation | None) -> Encoder:
    """The encoder for a generation: exactly its adapters when it has some of its own, else the
    settings' shared encoder (``DOPPEL_ADAPTER_DIR``'s adapters, or the base model)."""
    if generation is not None and generation.own:
        return encoder_with_adapters(settings, generation.paths)
    from embedding.encoder import Encoder

    return Encoder.from_settings(settings)
