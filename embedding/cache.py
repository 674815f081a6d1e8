"""Content-addressed embedding cache: a vector is computed once per (base model, adapter, text).

Keys are ``(base, adapter_version, text_hash)``, so an unchanged function is never embedded
twice, whichever commit, branch or repository it turns up in, and a retrained adapter (a new
version) never reuses stale vectors. Storage is one SQLite file in WAL mode with vectors as
little-endian float32 blobs: several worker processes may read and write it at once, SQLite
serialising the writers (each waits up to ``timeout`` seconds for the lock).

The cache is an optimisation: a failed read or write is logged and treated as a miss, never as
an error that stops indexing.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_VECTOR_DTYPE = np.dtype("<f4")
_MAX_PARAMS = 500  # SQLite's bound-parameter limit is 999 on old builds; stay well below it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    base TEXT NOT NULL,
    adapter_version TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (base, adapter_version, text_hash)
) WITHOUT ROWID
"""


class EmbeddingCache:
    """Vectors by ``(base, adapter_version, text_hash)`` in a SQLite file, safe across processes.

    One connection per process and thread is opened lazily, so an instance survives a fork
    (Celery prefork workers) and use from several threads.
    """

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            # WAL lets readers proceed while one process writes; NORMAL sync is durable enough
            # for a cache (a crash can lose the last writes, never corrupt the file).
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def get_many(self, base: str, adapter_version: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes`` (float32, writable copies); missing ones are absent."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        try:
            with self._connection() as conn:
                for start in range(0, len(wanted), _MAX_PARAMS):
                    chunk = wanted[start : start + _MAX_PARAMS]
                    marks = ",".join("?" * len(chunk))
                    rows = conn.execute(
                        "SELECT text_hash, vector FROM embeddings "
                        f"WHERE base = ? AND adapter_version = ? AND text_hash IN ({marks})",
                        (base, adapter_version, *chunk),
                    )
                    for text_hash, blob in rows:
                        found[text_hash] = np.frombuffer(blob, dtype=_VECTOR_DTYPE).astype(np.float32)
        except sqlite3.Error as exc:
            log.warning("embedding cache %s: read failed, treating as misses: %s", self.path, exc)
            return {}
        return found

    def put_many(self, base: str, adapter_version: str, items: Mapping[str, np.ndarray]) -> None:
        """Store vectors by text hash (replacing any already there), in one transaction."""
        if not items:
            return
        rows = [
            (base, adapter_version, text_hash, np.ascontiguousarray(vector, dtype=_VECTOR_DTYPE).tobytes())
            for text_hash, vector in items.items()
        ]
        try:
            with self._connection() as conn, conn:  # the inner `conn` commits or rolls back
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (base, adapter_version, text_hash, vector) VALUES (?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            log.warning("embedding cache %s: write of %d vectors failed, skipped: %s", self.path, len(rows), exc)

    def count(self, base: str | None = None, adapter_version: str | None = None) -> int:
        """Number of cached vectors, optionally for one base model and adapter version."""
        query = "SELECT COUNT(*) FROM embeddings WHERE 1=1"
        params: list[str] = []
        if base is not None:
            query, params = query + " AND base = ?", [*params, base]
        if adapter_version is not None:
            query, params = query + " AND adapter_version = ?", [*params, adapter_version]
        with self._connection() as conn:
            return int(conn.execute(query, params).fetchone()[0])

    def close(self) -> None:
        """Close this thread's connection (others close when their thread or process ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            # A connection inherited through fork must not be used by the child: open a new one.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level="DEFERRED")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        yield conn
