"""What workers remember in Redis about repositories and pull requests.

The set of repositories doppel serves (for the nightly retrain and the reconciler), and the
pull requests a maintainer silenced with ``/similar ignore``. Both are small and idempotent:
adding twice or removing something absent changes nothing, so tasks may run again safely.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from core.domain import RepoRef

REPOS_KEY = "doppel:repos"


class SetRedis(Protocol):
    def sadd(self, name: str, *values: str) -> Any: ...

    def srem(self, name: str, *values: str) -> Any: ...

    def smembers(self, name: str) -> Any: ...

    def sismember(self, name: str, value: str) -> Any: ...

    def delete(self, *names: str) -> Any: ...


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
