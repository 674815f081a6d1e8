"""The vector index: one ``VectorIndex`` interface, an embedded and a server implementation.

``open_index(settings)`` picks the implementation; the libraries behind each (qdrant-edge-py,
qdrant-client) are imported only when that implementation is opened.
"""

from __future__ import annotations

from core.settings import Settings
from embedding.index.base import VectorIndex

__all__ = ["VectorIndex", "open_index"]


def open_index(settings: Settings) -> VectorIndex:
    """The index the settings select: Qdrant Edge under ``data_dir/index``, or the server at ``qdrant_url``.

    Edge holds its shards for one process; several processes (workers, the bot) need the server.
    """
    if settings.index_backend == "server":
        from embedding.index.server import ServerIndex

        return ServerIndex.from_settings(settings)
    from embedding.index.edge import EdgeIndex

    return EdgeIndex.from_settings(settings)
