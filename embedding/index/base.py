"""The ``VectorIndex`` contract and the pure pieces both implementations share.

One collection per repository (its ``RepoRef.collection_name``), cosine distance, payloads that
are ``IndexedFunction.to_payload()``. ``EdgeIndex`` (Qdrant Edge, in-process) and ``ServerIndex``
(qdrant-client) implement it; one contract suite runs the same assertions on both.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from core.domain import IndexedFunction, IndexPoint, Match, RepoRef
from core.errors import VectorIndexError

# Keyword payload indexes every collection gets: the fields searches, deletes and scrolls filter on.
KEYWORD_INDEX_FIELDS: tuple[str, ...] = ("repo", "language", "path", "adapter_version", "body_hash")

# Collection names become directory names (edge) and URL segments (server): keep them plain.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class VectorIndex(ABC):
    """A store of function vectors, one collection per repository, searched by cosine similarity.

    Every method but ``ensure_collection``, ``collection_exists``, ``drop_collection`` and
    ``list_collections`` raises ``CollectionNotFoundError`` when the collection does not exist; any
    other refusal of the underlying engine surfaces as ``VectorIndexError``.
    """

    @abstractmethod
    def ensure_collection(self, name: str, dim: int) -> None:
        """Create the collection (cosine, ``dim``) with its keyword payload indexes, unless it exists.

        Raises ``VectorIndexError`` when it exists with another dimension (the encoder changed).
        """

    @abstractmethod
    def collection_exists(self, name: str) -> bool: ...

    @abstractmethod
    def drop_collection(self, name: str) -> None:
        """Remove the collection, its points and its meta; a missing collection is not an error."""

    @abstractmethod
    def list_collections(self) -> list[str]:
        """Names of the collections (sorted), without any internal companions."""

    def drop_repository(self, repo: RepoRef) -> list[str]:
        """Drop ``repo``'s collections, its base one and its adapter generations, matched by exact
        name (``RepoRef.owns_collection``), never by prefix; returns the names dropped."""
        dropped = [name for name in self.list_collections() if repo.owns_collection(name)]
        for name in dropped:
            self.drop_collection(name)
        return dropped

    @abstractmethod
    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        """Insert or replace points by id (ids are ``core.domain.point_id`` UUID strings)."""

    @abstractmethod
    def delete_paths(self, name: str, paths: Iterable[str]) -> None:
        """Delete every point whose ``payload.path`` is one of ``paths``."""

    @abstractmethod
    def search(
        self,
        name: str,
        vector: Sequence[float],
        *,
        adapter_version: str,
        limit: int = 10,
        language: str | None = None,
        exclude_paths: Collection[str] = (),
    ) -> list[Match]:
        """The ``limit`` nearest points of one adapter version, best first, with cosine scores.

        Only points stored with ``adapter_version`` are searched: vectors of two adapter versions
        live in different spaces and are never compared.
        """

    @abstractmethod
    def count(self, name: str, *, adapter_version: str | None = None) -> int:
        """Number of points, optionally only those of one adapter version."""

    @abstractmethod
    def functions_in_path(self, name: str, path: str) -> list[IndexedFunction]:
        """The stored functions of one file, ordered by start line."""

    @abstractmethod
    def get_meta(self, name: str) -> dict[str, Any]:
        """The collection's small JSON state (e.g. the indexed commit); ``{}`` when never set."""

    @abstractmethod
    def set_meta(self, name: str, meta: dict[str, Any]) -> None:
        """Replace the collection's JSON state (not a merge)."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release what the index holds open; safe to call twice."""

    def __enter__(self) -> VectorIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class SearchFilter:
    """Backend-neutral filter of a search: every ``must`` pair matches, no ``must_not_any`` value does."""

    must: tuple[tuple[str, str], ...]
    must_not_any: tuple[tuple[str, tuple[str, ...]], ...] = ()


def search_filter(
    adapter_version: str, language: str | None = None, exclude_paths: Collection[str] = ()
) -> SearchFilter:
    """The filter every search uses: always one adapter version, optionally one language, minus paths."""
    if not adapter_version:
        raise VectorIndexError(
            "search needs an adapter_version: vectors of different adapter versions are not comparable"
        )
    must: list[tuple[str, str]] = [("adapter_version", adapter_version)]
    if language:
        must.append(("language", language))
    excluded = tuple(sorted(set(exclude_paths)))
    return SearchFilter(must=tuple(must), must_not_any=(("path", excluded),) if excluded else ())


def check_collection_name(name: str) -> str:
    """Return ``name`` when it is a safe collection name (letters, digits, ``_``, ``-``), else raise."""
    if not isinstance(name, str) or not _COLLECTION_NAME.match(name):
        raise VectorIndexError(
            f"invalid collection name {name!r}: use 1-200 letters, digits, '_' or '-' "
            "(RepoRef.collection_name produces such names)"
        )
    return name


def check_dim(dim: int) -> int:
    if not isinstance(dim, int) or dim < 1:
        raise VectorIndexError(f"invalid vector dimension {dim!r}: must be a positive integer")
    return dim


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1:
        raise VectorIndexError(f"invalid search limit {limit!r}: must be a positive integer")
    return limit


def as_floats(vector: Sequence[float]) -> list[float]:
    """A plain list of floats from a list, tuple or 1-D numpy array (numpy's ``tolist`` is fastest)."""
    tolist = getattr(vector, "tolist", None)
    values = tolist() if callable(tolist) else vector
    return [float(x) for x in values]


def check_vector_dim(name: str, vector: Sequence[float], dim: int | None) -> None:
    """Raise an actionable error when a vector does not fit the collection's dimension."""
    if dim is not None and len(vector) != dim:
        raise VectorIndexError(
            f"collection {name!r} holds {dim}-dimensional vectors but got one of {len(vector)}: "
            "the encoder's model changed since the repository was indexed; drop the collection and re-index"
        )


def check_meta(meta: dict[str, Any]) -> str:
    """Serialise collection meta to JSON, refusing what JSON cannot hold."""
    if not isinstance(meta, dict):
        raise VectorIndexError(f"collection meta must be a dict, got {type(meta).__name__}")
    try:
        return json.dumps(meta, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise VectorIndexError(f"collection meta must be JSON-serialisable: {exc}") from exc


def parse_meta(text: str, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise VectorIndexError(
            f"collection meta at {where} is not valid JSON ({exc}); set it again or re-index"
        ) from exc
    if not isinstance(meta, dict):
        raise VectorIndexError(f"collection meta at {where} is not a JSON object; set it again or re-index")
    return meta


def sorted_functions(functions: Iterable[IndexedFunction]) -> list[IndexedFunction]:
    """Functions of a file in a stable order: by line, then name."""
    return sorted(functions, key=lambda fn: (fn.start_line, fn.end_line, fn.qualified_name))


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
