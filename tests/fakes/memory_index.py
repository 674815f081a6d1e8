"""``MemoryIndex``: the ``VectorIndex`` contract held in dictionaries, for fast tests.

Behaves like the real implementations where tests can see it (cosine scores, adapter-version
filtering, ``CollectionNotFoundError``, dimension checks, JSON-only meta) and records every mutating
call in ``calls`` so that tests can assert what a service wrote without a MagicMock.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.domain import IndexedFunction, IndexPoint, Match
from core.errors import CollectionNotFoundError, VectorIndexError
from embedding.index.base import (
    VectorIndex,
    as_floats,
    check_collection_name,
    check_dim,
    check_limit,
    check_meta,
    check_vector_dim,
    parse_meta,
    search_filter,
    sorted_functions,
)


@dataclass
class _Collection:
    dim: int
    points: dict[str, tuple[list[float], IndexedFunction]] = field(default_factory=dict)
    meta_json: str = "{}"


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class MemoryIndex(VectorIndex):
    """A dict-backed ``VectorIndex``. ``calls`` lists (method, collection, detail) per mutation."""

    def __init__(self) -> None:
        self._collections: dict[str, _Collection] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.closed = False

    def _get(self, name: str) -> _Collection:
        check_collection_name(name)
        collection = self._collections.get(name)
        if collection is None:
            raise CollectionNotFoundError(f"collection {name!r} does not exist: run `doppel index` first")
        return collection

    def ensure_collection(self, name: str, dim: int) -> None:
        check_collection_name(name)
        check_dim(dim)
        existing = self._collections.get(name)
        if existing is None:
            self._collections[name] = _Collection(dim=dim)
            self.calls.append(("ensure_collection", name, dim))
        elif existing.dim != dim:
            raise VectorIndexError(
                f"collection {name!r} holds {existing.dim}-dimensional vectors, not {dim}: "
                "drop the collection and re-index"
            )

    def collection_exists(self, name: str) -> bool:
        return check_collection_name(name) in self._collections

    def drop_collection(self, name: str) -> None:
        check_collection_name(name)
        if self._collections.pop(name, None) is not None:
            self.calls.append(("drop_collection", name, None))

    def list_collections(self) -> list[str]:
        return sorted(self._collections)

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        collection = self._get(name)
        for point in points:
            vector = as_floats(point.vector)
            check_vector_dim(name, vector, collection.dim)
            collection.points[str(point.id)] = (vector, point.payload)
        self.calls.append(("upsert", name, [str(point.id) for point in points]))

    def delete_paths(self, name: str, paths: Iterable[str]) -> None:
        collection = self._get(name)
        doomed = set(paths)
        for pid in [pid for pid, (_, fn) in collection.points.items() if fn.path in doomed]:
            del collection.points[pid]
        self.calls.append(("delete_paths", name, sorted(doomed)))

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
        collection = self._get(name)
        check_limit(limit)
        query = as_floats(vector)
        check_vector_dim(name, query, collection.dim)
        flt = search_filter(adapter_version, language, exclude_paths)
        matches: list[Match] = []
        for stored, fn in collection.points.values():
            payload = fn.to_payload()
            if any(payload.get(key) != value for key, value in flt.must):
                continue
            if any(payload.get(key) in values for key, values in flt.must_not_any):
                continue
            matches.append(Match(target=fn, score=_cosine(query, stored)))
        matches.sort(key=lambda m: (-m.score, m.target.path, m.target.start_line, m.target.qualified_name))
        return matches[:limit]

    def count(self, name: str, *, adapter_version: str | None = None) -> int:
        points = self._get(name).points.values()
        return sum(1 for _, fn in points if adapter_version is None or fn.adapter_version == adapter_version)

    def functions_in_path(self, name: str, path: str) -> list[IndexedFunction]:
        return sorted_functions(fn for _, fn in self._get(name).points.values() if fn.path == path)

    def get_meta(self, name: str) -> dict[str, Any]:
        return parse_meta(self._get(name).meta_json, f"memory:{name}")

    def set_meta(self, name: str, meta: dict[str, Any]) -> None:
        collection = self._get(name)
        collection.meta_json = check_meta(meta)
        self.calls.append(("set_meta", name, meta))

    def close(self) -> None:
        self.closed = True

    # --- test helpers (not part of VectorIndex) -------------------------------------------------
    def payloads(self, name: str) -> list[IndexedFunction]:
        """Every stored function of a collection, in a stable order."""
        return sorted_functions(fn for _, fn in self._get(name).points.values())

    def point_ids(self, name: str) -> set[str]:
        return set(self._get(name).points)
