"""``ServerIndex``: collections on a Qdrant server through qdrant-client, shared by many processes.

Each collection's meta lives in the collection's own metadata (one JSON string under
``doppel_meta``), so it is visible to every process and goes away with the collection. Tests run
this class against qdrant-client's local mode (``QdrantClient(":memory:")`` or ``path=``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.domain import IndexedFunction, IndexPoint, Match
from core.errors import CollectionNotFoundError, ConfigError, DoppelError, VectorIndexError
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

_META_KEY = "doppel_meta"  # one JSON string: replaced whole, whatever the server's merge rules
_UPSERT_BATCH = 256
_DELETE_BATCH = 512
_SCROLL_PAGE = 256


class ServerIndex(VectorIndex):
    """Collections on a Qdrant server (or qdrant-client's local mode, for tests)."""

    def __init__(self, client: QdrantClient, *, location: str = "the Qdrant server") -> None:
        self._client = client
        self._location = location
        self._dims: dict[str, int] = {}
        self._indexed: set[str] = set()  # collections whose payload indexes this instance made sure of

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerIndex:
        if not settings.qdrant_url:
            raise ConfigError("the server index needs DOPPEL_QDRANT_URL (e.g. http://localhost:6333)")
        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return cls(client, location=settings.qdrant_url)

    # --- collections -----------------------------------------------------------------------

    def ensure_collection(self, name: str, dim: int) -> None:
        check_collection_name(name)
        check_dim(dim)
        with self._translate(name, "create the collection"):
            if not self._client.collection_exists(name):
                try:
                    self._client.create_collection(
                        name, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
                    )
                    logger.info("index.server.created", extra={"collection": name, "dim": dim})
                except Exception:
                    if not self._client.collection_exists(name):  # else another process just made it
                        raise
            info = self._client.get_collection(name)
            stored = _vector_size(info)
            if stored is not None and stored != dim:
                raise VectorIndexError(
                    f"collection {name!r} exists with {stored}-dimensional vectors, not {dim}: "
                    "the encoder's model changed; drop the collection and re-index"
                )
            self._dims[name] = dim
            if name not in self._indexed:
                existing = set(info.payload_schema or {})
                for field in KEYWORD_INDEX_FIELDS:
                    if field not in existing:
                        self._client.create_payload_index(
                            name, field, field_schema=models.PayloadSchemaType.KEYWORD, wait=True
                        )
                self._indexed.add(name)

    def collection_exists(self, name: str) -> bool:
        check_collection_name(name)
        with self._translate(name, "look up the collection", missing_is_error=False):
            return bool(self._client.collection_exists(name))

    def drop_collection(self, name: str) -> None:
        check_collection_name(name)
        self._dims.pop(name, None)
        self._indexed.discard(name)
        with self._translate(name, "drop the collection", missing_is_error=False):
            if self._client.collection_exists(name):
                self._client.delete_collection(name)

    def list_collections(self) -> list[str]:
        with self._translate("*", "list collections", missing_is_error=False):
            return sorted(c.name for c in self._client.get_collections().collections)

    # --- points ------------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        check_collection_name(name)
        if not points:
            self._require(name)
            return
        dim = self._dim(name)
        for batch in chunks(points, _UPSERT_BATCH):
            structs = []
            for point in batch:
                vector = as_floats(point.vector)
                check_vector_dim(name, vector, dim)
                structs.append(models.PointStruct(id=point.id, vector=vector, payload=point.payload.to_payload()))
            with self._translate(name, "upsert points"):
                self._client.upsert(name, points=structs, wait=True)

    def delete_paths(self, name: str, paths: Iterable[str]) -> None:
        check_collection_name(name)
        unique = sorted(set(paths))
        if not unique:
            self._require(name)
            return
        for batch in chunks(unique, _DELETE_BATCH):
            selector = models.Filter(must=[models.FieldCondition(key="path", match=models.MatchAny(any=list(batch)))])
            with self._translate(name, "delete points"):
                self._client.delete(name, points_selector=models.FilterSelector(filter=selector), wait=True)

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
        check_collection_name(name)
        selector = _server_filter(search_filter(adapter_version, language, exclude_paths))
        check_limit(limit)
        query = as_floats(vector)
        check_vector_dim(name, query, self._dim(name))
        with self._translate(name, "search"):
            hits = self._client.query_points(
                name, query=query, query_filter=selector, limit=limit, with_payload=True
            ).points
        return [Match(target=IndexedFunction.from_payload(hit.payload or {}), score=float(hit.score)) for hit in hits]

    def count(self, name: str, *, adapter_version: str | None = None) -> int:
        check_collection_name(name)
        selector = (
            _server_filter(SearchFilter(must=(("adapter_version", adapter_version),))) if adapter_version else None
        )
        with self._translate(name, "count points"):
            return int(self._client.count(name, count_filter=selector, exact=True).count)

    def functions_in_path(self, name: str, path: str) -> list[IndexedFunction]:
        check_collection_name(name)
        selector = _server_filter(SearchFilter(must=(("path", path),)))
        found: list[IndexedFunction] = []
        offset: Any = None
        while True:
            with self._translate(name, "scroll points"):
                records, offset = self._client.scroll(
                    name,
                    scroll_filter=selector,
                    limit=_SCROLL_PAGE,
                    offset=offset,
                    with_payload=True,
                    with_vectors=False,
                )
            found.extend(IndexedFunction.from_payload(record.payload or {}) for record in records)
            if offset is None:
                return sorted_functions(found)

    # --- meta --------------------------------------------------------------------------------

    def get_meta(self, name: str) -> dict[str, Any]:
        check_collection_name(name)
        with self._translate(name, "read the collection meta"):
            metadata = self._client.get_collection(name).config.metadata or {}
        text = metadata.get(_META_KEY)
        return parse_meta(text, f"collection {name!r} metadata") if isinstance(text, str) else {}

    def set_meta(self, name: str, meta: dict[str, Any]) -> None:
        check_collection_name(name)
        text = check_meta(meta)
        with self._translate(name, "write the collection meta"):
            self._client.update_collection(name, metadata={_META_KEY: text})

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._translate("*", "close the client", missing_is_error=False):
            self._client.close()

    # --- internals ---------------------------------------------------------------------------

    def _dim(self, name: str) -> int | None:
        """The collection's vector size, fetched once per instance (a collection's size never changes)."""
        dim = self._dims.get(name)
        if dim is None:
            with self._translate(name, "read the collection"):
                dim = _vector_size(self._client.get_collection(name))
            if dim is not None:
                self._dims[name] = dim
        return dim

    def _require(self, name: str) -> None:
        if not self.collection_exists(name):
            raise CollectionNotFoundError(self._not_found(name))

    def _not_found(self, name: str) -> str:
        return f"collection {name!r} does not exist on {self._location}: index the repository first (doppel index)"

    @contextlib.contextmanager
    def _translate(self, name: str, action: str, *, missing_is_error: bool = True) -> Iterator[None]:
        """Turn qdrant-client errors into doppel errors; a failure on a missing collection is ``CollectionNotFoundError``."""
        try:
            yield
        except DoppelError:
            raise
        except ResponseHandlingException as exc:
            raise VectorIndexError(
                f"could not reach {self._location} to {action}: {exc}. "
                "Check DOPPEL_QDRANT_URL and that the server is running"
            ) from exc
        except Exception as exc:
            if isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403):
                raise VectorIndexError(
                    f"{self._location} refused to {action} ({exc.status_code}): check DOPPEL_QDRANT_API_KEY"
                ) from exc
            if missing_is_error and not self._exists_quietly(name):
                raise CollectionNotFoundError(self._not_found(name)) from exc
            raise VectorIndexError(f"Qdrant could not {action} {name!r} on {self._location}: {exc}") from exc

    def _exists_quietly(self, name: str) -> bool:
        """Whether the collection exists; ``True`` when that cannot be told (the original error stands)."""
        try:
            return bool(self._client.collection_exists(name))
        except Exception:  # noqa: BLE001 - only used to classify another error
            return True


def _server_filter(spec: SearchFilter) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key=key, match=models.MatchValue(value=value)) for key, value in spec.must
    ]
    must_not: list[models.Condition] = [
        models.FieldCondition(key=key, match=models.MatchAny(any=list(values))) for key, values in spec.must_not_any
    ]
    return models.Filter(must=must or None, must_not=must_not or None)


def _vector_size(info: models.CollectionInfo) -> int | None:
    vectors = info.config.params.vectors
    return getattr(vectors, "size", None)
