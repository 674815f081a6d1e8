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
REPO_IDS_KEY = "doppel:repo-ids"  # hash: a served repository's entry in REPOS_KEY → its numeric id
REFUSAL_SECONDS = 90 * 24 * 3600  # how long "this user was told they may not" is remembered per PR
INDEX_REQUEST_SECONDS = 300  # a repository's index is asked for at most once in this long


class SetRedis(Protocol):
    def sadd(self, name: str, *values: str) -> Any: ...

    def srem(self, name: str, *values: str) -> Any: ...

    def smembers(self, name: str) -> Any: ...

    def sismember(self, name: str, value: str) -> Any: ...

    def delete(self, *names: str) -> Any: ...

    def set(self, name: str, value: str, *, nx: bool = ..., ex: int | None = ...) -> Any: ...

    def hset(self, name: str, key: str, value: str) -> Any: ...

    def hdel(self, name: str, *keys: str) -> Any: ...

    def hgetall(self, name: str) -> Any: ...


def _ignore_key(repo: RepoRef) -> str:
    return f"doppel:ignored:{repo.installation_id}:{repo.slug}"


class RepoRegistry:
    def __init__(self, redis: SetRedis) -> None:
        self._redis = redis

    def add(self, repo: RepoRef) -> None:
        """Serve ``repo``; its numeric id, when known, is kept beside it (it names the collections)."""
        self._redis.sadd(REPOS_KEY, _encode(repo))
        if repo.repo_id is not None:
            self._redis.hset(REPO_IDS_KEY, _encode(repo), str(repo.repo_id))

    def remove(self, repo: RepoRef) -> None:
        self._redis.srem(REPOS_KEY, _encode(repo))
        self._redis.hdel(REPO_IDS_KEY, _encode(repo))
        self._redis.delete(_ignore_key(repo))

    def contains(self, repo: RepoRef) -> bool:
        return bool(self._redis.sismember(REPOS_KEY, _encode(repo)))

    def claim_index_request(self, repo: RepoRef, *, seconds: int = INDEX_REQUEST_SECONDS) -> bool:
        """True for the first caller in ``seconds`` that asks for ``repo``'s index job."""
        key = f"doppel:index-requested:{repo.installation_id}:{repo.slug}"
        return bool(self._redis.set(key, "1", nx=True, ex=seconds))

    def repositories(self) -> list[RepoRef]:
        """Every served repository, sorted for a stable order."""
        ids = {_text(k): _text(v) for k, v in (self._redis.hgetall(REPO_IDS_KEY) or {}).items()}
        refs = [_decode(raw, ids.get(raw)) for raw in self._members(REPOS_KEY)]
        return sorted(refs, key=lambda r: (r.installation_id or 0, r.slug))

    def first_refusal(self, repo: RepoRef, number: int, login: str | None) -> bool:
        """True the first time ``login`` is refused a command on pull request ``number`` (then
        the bot says so once); False afterwards, for ``REFUSAL_SECONDS``."""
        if not login:
            return False
        key = f"doppel:refused:{repo.installation_id}:{repo.slug}#{number}:{login.lower()[:200]}"
        return bool(self._redis.set(key, "1", nx=True, ex=REFUSAL_SECONDS))

    def ignore(self, repo: RepoRef, number: int) -> None:
        self._redis.sadd(_ignore_key(repo), str(number))

    def is_ignored(self, repo: RepoRef, number: int) -> bool:
        return bool(self._redis.sismember(_ignore_key(repo), str(number)))

    def _members(self, key: str) -> list[str]:
        return [_text(m) for m in self._redis.smembers(key)]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _encode(repo: RepoRef) -> str:
    return json.dumps({"installation_id": repo.installation_id, "repo": repo.slug}, sort_keys=True)


def _decode(raw: str, repo_id: str | None = None) -> RepoRef:
    data = json.loads(raw)
    number = int(repo_id) if repo_id and repo_id.isdigit() else None
    return RepoRef(slug=data["repo"], installation_id=data["installation_id"], repo_id=number)
