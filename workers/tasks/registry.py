"""What workers remember in Redis about repositories and pull requests.

The set of repositories doppel serves (for the nightly retrain and the reconciler), the pull
requests a maintainer silenced with ``/similar ignore``, and a short-lived mark that an index job
was asked for (so that a burst of reviews of an unindexed repository queues one). All small and
idempotent: adding twice or removing something absent changes nothing, so tasks may run again.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from core.domain import RepoRef

REPOS_KEY = "doppel:repos"
INDEX_REQUEST_SECONDS = 300  # a repository's index is asked for at most once in this long


class SetRedis(Protocol):
    def sadd(self, name: str, *values: str) -> Any: ...

    def srem(self, name: str, *values: str) -> Any: ...

    def smembers(self, name: str) -> Any: ...

    def sismember(self, name: str, value: str) -> Any: ...

    def delete(self, *names: str) -> Any: ...

    def set(self, name: str, value: str, *, nx: bool = ..., ex: int | None = ...) -> Any: ...


def _ignore_key(repo: RepoRef) -> str:
    return f"doppel:ignored:{repo.installation_id}:{repo.slug}"


class RepoRegistry:
    def __init__(self, redis: SetRedis) -> None:
        self._redis = redis

    def add(self, repo: RepoRef) -> None:
        self._redis.sadd(REPOS_KEY, _encode(repo))

    def remove(self, repo: RepoRef) -> None:
        self._redis.srem(REPOS_KEY, _encode(repo))
        self._redis.delete(_ignore_key(repo))

    def contains(self, repo: RepoRef) -> bool:
        return bool(self._redis.sismember(REPOS_KEY, _encode(repo)))

    def claim_index_request(self, repo: RepoRef, *, seconds: int = INDEX_REQUEST_SECONDS) -> bool:
        """True for the first caller in ``seconds`` that asks for ``repo``'s index job."""
        key = f"doppel:index-requested:{repo.installation_id}:{repo.slug}"
        return bool(self._redis.set(key, "1", nx=True, ex=seconds))

    def repositories(self) -> list[RepoRef]:
        """Every served repository, sorted for a stable order."""
        refs = [_decode(raw) for raw in self._members(REPOS_KEY)]
        return sorted(refs, key=lambda r: (r.installation_id or 0, r.slug))

    def ignore(self, repo: RepoRef, number: int) -> None:
        self._redis.sadd(_ignore_key(repo), str(number))

    def is_ignored(self, repo: RepoRef, number: int) -> bool:
        return bool(self._redis.sismember(_ignore_key(repo), str(number)))

    def _members(self, key: str) -> list[str]:
        return [m.decode() if isinstance(m, bytes) else str(m) for m in self._redis.smembers(key)]


def _encode(repo: RepoRef) -> str:
    return json.dumps({"installation_id": repo.installation_id, "repo": repo.slug}, sort_keys=True)


def _decode(raw: str) -> RepoRef:
    data = json.loads(raw)
    return RepoRef(slug=data["repo"], installation_id=data["installation_id"])
