"""Plain, frozen domain types passed between extraction, encoding, indexing and review.

They hold data only (no I/O) and are JSON-friendly through ``to_dict``/``from_dict`` so that
Celery tasks, the CLI's ``--format json`` and index payloads all speak the same shapes.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# Namespace for deterministic point ids: re-indexing the same function replaces its point.
_POINT_NAMESPACE = uuid.UUID("5b0c1f7e-3f1d-4c59-9d1e-6f1f0c0d0e11")
# The readable part of a collection name: runs of anything else become one "_", so that it never
# holds "__", the separator of a collection's adapter generations.
_READABLE = re.compile(r"[^a-z0-9]+")
_READABLE_CHARS = 40
_GENERATION = r"__[0-9a-f]{8}"


@dataclass(frozen=True)
class RepoRef:
    """One repository as a tenant: ``slug`` is ``owner/name`` (or a local name).

    ``installation_id`` is the GitHub App installation that owns it (``None`` for local use);
    ``repo_id`` is GitHub's numeric repository id (``repository.id`` of a webhook), which survives
    renames and is never reused, unlike the slug. Every collection and adapter belongs to exactly
    one ``RepoRef``.
    """

    slug: str
    installation_id: int | None = None
    repo_id: int | None = None

    def __post_init__(self) -> None:
        if not self.slug or self.slug.strip() != self.slug:
            raise ValueError(f"RepoRef.slug must be a non-empty name without surrounding spaces, got {self.slug!r}")
        if self.repo_id is not None and (isinstance(self.repo_id, bool) or not isinstance(self.repo_id, int)):
            raise ValueError(f"RepoRef.repo_id must be GitHub's integer repository id, got {self.repo_id!r}")

    @property
    def collection_name(self) -> str:
        """Collection base name for this repository, distinct for distinct repositories.

        With a ``repo_id``: ``doppel_i<installation>_r<id>`` (``doppel_r<id>`` without an
        installation), so a rename keeps the index and a repository created again under an old
        name gets a new one. Without (local use): a readable prefix of the slug plus a hash of the
        exact slug, because no mapping of names onto safe characters is one to one
        (``foo.bar``/``foo_bar``, ``.x``/``x``). Never contains ``__``: that separates the adapter
        generations (``generation_collection``).
        """
        owner = f"i{self.installation_id}_" if self.installation_id is not None else ""
        if self.repo_id is not None:
            return f"doppel_{owner}r{self.repo_id}"
        readable = _READABLE.sub("_", self.slug.lower()).strip("_")[:_READABLE_CHARS].strip("_") or "repo"
        digest = hashlib.sha256(self.slug.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"doppel_{owner or 'local_'}{readable}_{digest}"

    def generation_collection(self, digest8: str) -> str:
        """The collection of one adapter generation: the base name, ``__`` and 8 hex digits."""
        name = f"{self.collection_name}__{digest8}"
        if not re.fullmatch(re.escape(self.collection_name) + _GENERATION, name):
            raise ValueError(f"an adapter generation is named by 8 lowercase hex digits, got {digest8!r}")
        return name

    def owns_collection(self, name: str) -> bool:
        """Whether ``name`` is this repository's base collection or one of its generations (an
        exact pattern, never a prefix: ``acme/x`` does not own ``acme/x__y``'s collections)."""
        return re.fullmatch(re.escape(self.collection_name) + f"(?:{_GENERATION})?", name) is not None


@dataclass(frozen=True)
class PullRef:
    """A pull request of a repository, at a head commit."""

    repo: RepoRef
    number: int
    head_sha: str
    base_sha: str | None = None


@dataclass(frozen=True)
class CodeFunction:
    """A function or method extracted from one file.

    ``code`` is the function's source as written, minus its docstring or doc comment, which is
    split out into ``docstring`` (markers like ``/**``, ``///`` or ``#`` removed). Lines are
    1-based and inclusive and cover the function node in the file (a Python docstring lies inside
    them; a preceding doc comment does not). ``body_hash`` is a hash of the whitespace- and
    comment-normalised body (identifiers kept), equal for copies that differ only in layout and
    comments.
    """

    language: str
    path: str
    qualified_name: str
    start_line: int
    end_line: int
    signature: str
    code: str
    docstring: str | None
    body_hash: str

    @property
    def name(self) -> str:
        """The last component of the qualified name."""
        return self.qualified_name.rsplit(".", 1)[-1]

    @property
    def line_count(self) -> int:
        return self.end_line - self.start_line + 1

    def contains_line(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeFunction:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def text_hash(text: str) -> str:
    """Content hash used for cache keys and payloads (hex SHA-256)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def point_id(repo: RepoRef, path: str, qualified_name: str, ordinal: int = 0) -> str:
    """Deterministic point id for a function: the same function re-indexed replaces its point.

    ``ordinal`` tells apart functions with the same qualified name in one file (overloads). A
    repository with a ``repo_id`` is keyed by it, so that a rename keeps its point ids.
    """
    owner = f"r{repo.repo_id}" if repo.repo_id is not None else repo.slug
    key = f"{repo.installation_id}|{owner}|{path}|{qualified_name}|{ordinal}"
    return str(uuid.uuid5(_POINT_NAMESPACE, key))


@dataclass(frozen=True)
class IndexedFunction:
    """A function as stored in the vector index (the point's payload)."""

    repo: str
    language: str
    path: str
    qualified_name: str
    start_line: int
    end_line: int
    commit: str
    body_hash: str
    adapter_version: str
    code: str = ""

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> IndexedFunction:
        return cls(**{k: payload[k] for k in cls.__dataclass_fields__ if k in payload})

    @classmethod
    def from_function(cls, repo: RepoRef, fn: CodeFunction, *, commit: str, adapter_version: str) -> IndexedFunction:
        return cls(
            repo=repo.slug,
            language=fn.language,
            path=fn.path,
            qualified_name=fn.qualified_name,
            start_line=fn.start_line,
            end_line=fn.end_line,
            commit=commit,
            body_hash=fn.body_hash,
            adapter_version=adapter_version,
            code=fn.code,
        )


@dataclass(frozen=True)
class IndexPoint:
    """One vector with its payload, ready to upsert."""

    id: str
    vector: tuple[float, ...] | list[float]
    payload: IndexedFunction


@dataclass(frozen=True)
class Match:
    """A search hit: the stored function and its cosine similarity to the query."""

    target: IndexedFunction
    score: float


class FindingKind(StrEnum):
    DUPLICATE = "duplicate"  # near-duplicate of existing code: worth an inline comment
    RELATED = "related"  # similar enough to be worth a look: summary only
    INTRA_PR = "intra_pr"  # two functions added by the same change copy each other


@dataclass(frozen=True)
class Finding:
    """A changed function and something it resembles, with the evidence for the verdict.

    ``score`` is the combined verdict score; ``embedding_score`` the cosine; ``lexical_score``
    the identifier-normalised token similarity.
    """

    kind: FindingKind
    function: CodeFunction
    target: IndexedFunction
    score: float
    embedding_score: float
    lexical_score: float
    adapter_version: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Identity of the finding independent of line numbers: survives re-pushes and rebases."""
        key = "|".join(
            (self.function.qualified_name, self.function.body_hash, self.target.path, self.target.qualified_name)
        )
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "function": self.function.to_dict(),
            "target": self.target.to_payload(),
            "score": round(self.score, 4),
            "embedding_score": round(self.embedding_score, 4),
            "lexical_score": round(self.lexical_score, 4),
            "adapter_version": self.adapter_version,
            "fingerprint": self.fingerprint,
            **({"extra": self.extra} if self.extra else {}),
        }
