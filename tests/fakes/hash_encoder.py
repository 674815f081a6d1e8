"""``HashEncoder``: a deterministic stand-in for ``embedding.encoder.Encoder`` without a model.

Vectors are signed feature hashes of the text's tokens, L2-normalised, so that identical texts
get identical vectors and texts sharing most tokens score high. It has the Encoder's public
surface that services use (``dim``, ``base_model_id``, ``stats``, ``adapter_for``,
``adapter_version``, ``embed_texts``, ``embed_functions``, ``embed_query``) and a dict cache
keyed like the real one, so tests can count forward passes and cache hits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

import numpy as np

from core.domain import CodeFunction, text_hash
from core.errors import AdapterError
from embedding.encoder import EncoderStats, function_text

_TOKEN = re.compile(r"\w+|[^\w\s]")
SHARED = "shared"


class HashEncoder:
    """Feature-hashing encoder. ``adapters`` maps adapter name (a language or "shared") → version.

    ``cache``: a dict shared between instances to imitate the persistent SQLite cache; ``None``
    gives each instance its own; pass ``use_cache=False`` to embed everything every time.
    """

    def __init__(
        self,
        dim: int = 64,
        *,
        base_model_id: str = "test/hash-encoder",
        adapters: Mapping[str, str] | None = None,
        cache: dict[tuple[str, str, str], np.ndarray] | None = None,
        use_cache: bool = True,
    ) -> None:
        self.dim = dim
        self.base_model_id = base_model_id
        self.adapters = dict(adapters or {})
        self.cache: dict[tuple[str, str, str], np.ndarray] | None = (
            (cache if cache is not None else {}) if use_cache else None
        )
        self.stats = EncoderStats()

    def adapter_for(self, language: str | None) -> str | None:
        if language is not None and language in self.adapters:
            return language
        return SHARED if SHARED in self.adapters else None

    def _version_of(self, adapter: str | None) -> str:
        if adapter is None:
            return f"hash{self.dim}:base"
        if adapter not in self.adapters:
            raise AdapterError(f"adapter {adapter!r} is not loaded; loaded: {sorted(self.adapters)}")
        return f"hash{self.dim}:{adapter}@{self.adapters[adapter]}"

    def adapter_version(self, language: str | None) -> str:
        return self._version_of(self.adapter_for(language))

    def _vector(self, text: str, version: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for token in _TOKEN.findall(text):
            digest = hashlib.blake2b(f"{version}|{token}".encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def embed_texts(self, texts: Sequence[str], *, adapter: str | None = None, progress: bool = False) -> np.ndarray:
        version = self._version_of(adapter)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        fresh: dict[str, np.ndarray] = {}
        for row, text in enumerate(texts):
            key = (self.base_model_id, version, text_hash(text))
            if self.cache is not None and key in self.cache:
                out[row] = self.cache[key]
                self.stats.cache_hits += 1
                continue
            if key[2] not in fresh:
                fresh[key[2]] = self._vector(text, version)
                self.stats.embedded += 1
            out[row] = fresh[key[2]]
        if self.cache is not None:
            for digest, vector in fresh.items():
                self.cache[(self.base_model_id, version, digest)] = vector
        if fresh:
            self.stats.batches += 1
        return out

    def embed_functions(self, functions: Sequence[CodeFunction], *, progress: bool = False) -> np.ndarray:
        out = np.empty((len(functions), self.dim), dtype=np.float32)
        for row, fn in enumerate(functions):
            out[row] = self.embed_texts([function_text(fn)], adapter=self.adapter_for(fn.language))[0]
        return out

    def embed_query(self, text: str, *, language: str | None = None) -> np.ndarray:
        return self.embed_texts([text], adapter=self.adapter_for(language))[0]
