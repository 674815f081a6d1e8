"""``EdgeIndex``: the Qdrant engine in-process (qdrant-edge-py), one shard directory per collection.

Layout under ``root`` (``<data_dir>/index``): ``<name>/`` is the Edge shard, ``<name>.meta.json``
the collection's meta, written atomically. An Edge shard is locked to one process while open, so
shards stay open (cached here) until ``close()``; several processes need the server backend.

Qdrant Edge runs no background optimizer, so a shard's points stay in plain segments and every
search is an exact scan narrowed by the keyword payload indexes. At the sizes of a code repository
(tens of thousands of functions) that is fast enough (``benchmarks/results/index_latency.md``), and
exact results keep reviews reproducible. (``EdgeShard.optimize()`` would build an HNSW graph; in a
trial at 50,000 points it took minutes on two cores and a filtered search then returned fewer than
``limit`` hits, so doppel does not call it.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from core.domain import IndexedFunction, IndexPoint, Match
from core.errors import CollectionNotFoundError, DoppelError, VectorIndexError
from core.settings import Settings
from embedding.index.base import (
    KEYWORD_INDEX_FIELDS,
    SearchFilter,
    VectorIndex,
    as_floats,
    check_collection_name,
    check_dim,
    check_limit,
    check_meta,
    check_vector_dim,
    chunks,
    parse_meta,
    search_filter,
    sorted_functions,
)

logger = logging.getLogger(__name__)

_CONFIG_FILE = "edge_config.json"  # written by Qdrant Edge into every shard directory
_META_SUFFIX = ".meta.json"
_UPSERT_BATCH = 1024
_DELETE_BATCH = 512
_SCROLL_PAGE = 256


class _Shard:
    """An open Edge shard and the vector dimension it was created with."""

    def __init__(self, shard: qe.EdgeShard, dim: int | None) -> None:
        self.shard = shard
        self.dim = dim


class EdgeIndex(VectorIndex):
    """Collections as Qdrant Edge shards under one directory of this machine."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeIndex:
        return cls(settings.data_dir / "index")

    # --- collections -----------------------------------------------------------------------

    def ensure_collection(self, name: str, dim: int) -> None:
        check_collection_name(name)
        check_dim(dim)
        with self._lock:
            if self._is_shard(name):
                opened = self._open(name)
                if opened.dim is not None and opened.dim != dim:
                    raise VectorIndexError(
                        f"collection {name!r} exists with {opened.dim}-dimensional vectors, not {dim}: "
                        "the encoder's model changed; drop the collection and re-index"
                    )
            else:
                config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine))
                with self._translate(name, "create the collection"):
                    self.root.mkdir(parents=True, exist_ok=True)
                    shard = qe.EdgeShard.create(str(self._path(name)), config)
                opened = self._shards[name] = _Shard(shard, dim)
                logger.info("index.edge.created", extra={"collection": name, "dim": dim})
            with self._translate(name, "create payload indexes"):
                existing = set(opened.shard.info().payload_schema)
                for field in KEYWORD_INDEX_FIELDS:
                    if field not in existing:
                        opened.shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))

    def collection_exists(self, name: str) -> bool:
        check_collection_name(name)
        return name in self._shards or self._is_shard(name)

    def drop_collection(self, name: str) -> None:
        check_collection_name(name)
        with self._lock:
            if self._is_shard(name):
                # Take the shard's lock first: deleting files another process has open would corrupt
                # its view silently, whereas opening fails with a clear "another process" error.
                opened = self._open(name)
                del self._shards[name]
                with self._translate(name, "close the collection"):
                    opened.shard.close()
            try:
                if self._path(name).exists():
                    shutil.rmtree(self._path(name))
                self._meta_path(name).unlink(missing_ok=True)
            except OSError as exc:
                raise VectorIndexError(f"could not remove collection {name!r} at {self._path(name)}: {exc}") from exc

    def list_collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if (entry / _CONFIG_FILE).is_file())

    # --- points ------------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        opened = self._get(name)
        for batch in chunks(points, _UPSERT_BATCH):
            edge_points = []
            for point in batch:
                vector = as_floats(point.vector)
                check_vector_dim(name, vector, opened.dim)
                edge_points.append(qe.Point(point.id, vector, point.payload.to_payload()))
            with self._translate(name, "upsert points"):
                opened.shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def delete_paths(self, name: str, paths: Iterable[str]) -> None:
        opened = self._get(name)
        for batch in chunks(sorted(set(paths)), _DELETE_BATCH):
            selector = qe.Filter(must=[qe.FieldCondition("path", match=qe.MatchAny(list(batch)))])
            with self._translate(name, "delete points"):
                opened.shard.update(qe.UpdateOperation.delete_points_by_filter(selector))

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
        selector = _edge_filter(search_filter(adapter_version, language, exclude_paths))
        check_limit(limit)
        opened = self._get(name)
        query = as_floats(vector)
        check_vector_dim(name, query, opened.dim)
        request = qe.QueryRequest(limit=limit, query=qe.Query.Nearest(query), filter=selector, with_payload=True)
        with self._translate(name, "search"):
            hits = opened.shard.query(request)
        return [Match(target=IndexedFunction.from_payload(hit.payload or {}), score=float(hit.score)) for hit in hits]

    def count(self, name: str, *, adapter_version: str | None = None) -> int:
        opened = self._get(name)
        selector = _edge_filter(SearchFilter(must=(("adapter_version", adapter_version),))) if adapter_version else None
        with self._translate(name, "count points"):
            return int(opened.shard.count(qe.CountRequest(exact=True, filter=selector)))

    def functions_in_path(self, name: str, path: str) -> list[IndexedFunction]:
        opened = self._get(name)
        selector = _edge_filter(SearchFilter(must=(("path", path),)))
        found: list[IndexedFunction] = []
        offset: Any = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=_SCROLL_PAGE, filter=selector, with_payload=True)
            with self._translate(name, "scroll points"):
                records, offset = opened.shard.scroll(request)
            found.extend(IndexedFunction.from_payload(record.payload or {}) for record in records)
            if offset is None:
                return sorted_functions(found)

    # --- meta --------------------------------------------------------------------------------

    def get_meta(self, name: str) -> dict[str, Any]:
        self._require(name)
        path = self._meta_path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise VectorIndexError(f"could not read the meta of collection {name!r} at {path}: {exc}") from exc
        return parse_meta(text, str(path))

    def set_meta(self, name: str, meta: dict[str, Any]) -> None:
        text = check_meta(meta)
        self._require(name)
        path = self._meta_path(name)
        try:
            _write_atomically(path, text)
        except OSError as exc:
            raise VectorIndexError(f"could not write the meta of collection {name!r} at {path}: {exc}") from exc

    # --- lifecycle ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Persist pending changes of every open shard (the write-ahead log already has them)."""
        with self._lock:
            for name, opened in self._shards.items():
                with self._translate(name, "flush the collection"):
                    opened.shard.flush()

    def close(self) -> None:
        with self._lock:
            shards, self._shards = self._shards, {}
            errors: list[str] = []
            for name, opened in shards.items():
                try:
                    opened.shard.flush()
                    opened.shard.close()
                except Exception as exc:  # noqa: BLE001 - close every shard, then report
                    errors.append(f"{name}: {exc}")
            if errors:
                raise VectorIndexError("could not close collections cleanly: " + "; ".join(errors))

    # --- internals ---------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.root / name

    def _meta_path(self, name: str) -> Path:
        return self.root / f"{name}{_META_SUFFIX}"

    def _is_shard(self, name: str) -> bool:
        return (self._path(name) / _CONFIG_FILE).is_file()

    def _require(self, name: str) -> None:
        if not self.collection_exists(name):
            raise CollectionNotFoundError(
                f"collection {name!r} does not exist under {self.root}: index the repository first (doppel index)"
            )

    def _get(self, name: str) -> _Shard:
        """The open shard of an existing collection, opening it on first use."""
        self._require(name)
        with self._lock:
            return self._open(name)

    def _open(self, name: str) -> _Shard:
        opened = self._shards.get(name)
        if opened is None:
            with self._translate(name, "open the collection"):
                shard = qe.EdgeShard.load(str(self._path(name)))
            opened = self._shards[name] = _Shard(shard, _stored_dim(self._path(name)))
        return opened

    @contextlib.contextmanager
    def _translate(self, name: str, action: str) -> Iterator[None]:
        """Turn Qdrant Edge's plain ``Exception``s into doppel errors a user can act on."""
        try:
            yield
        except DoppelError:
            raise
        except Exception as exc:
            message = str(exc)
            if "WouldBlock" in message:
                raise VectorIndexError(
                    f"could not {action} {name!r}: another process (or another open EdgeIndex) holds the "
                    f"embedded index at {self._path(name)}. Qdrant Edge allows one process per index; stop "
                    "the other process, or run several processes against a Qdrant server by setting "
                    "DOPPEL_QDRANT_URL"
                ) from exc
            raise VectorIndexError(f"Qdrant Edge could not {action} {name!r} at {self._path(name)}: {message}") from exc


def _edge_filter(spec: SearchFilter) -> qe.Filter:
    must: list[Any] = [qe.FieldCondition(key, match=qe.MatchValue(value)) for key, value in spec.must]
    must_not: list[Any] = [qe.FieldCondition(key, match=qe.MatchAny(list(values))) for key, values in spec.must_not_any]
    return qe.Filter(must=must or None, must_not=must_not or None)


def _stored_dim(path: Path) -> int | None:
    """The dimension recorded in a shard's config, or ``None`` when the format is not the one known."""
    try:
        config = json.loads((path / _CONFIG_FILE).read_text(encoding="utf-8"))
        return int(config["vectors"][""]["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
