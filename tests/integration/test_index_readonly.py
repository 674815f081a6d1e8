"""The index belongs to the default branch and has one writer; reviews and searches only read it.

Real git, real extraction, the hashing encoder and the memory index (which records every write in
``calls``). The repository's main moves from ``M1`` to ``M2``: ``M2`` deletes ``shop/old.py`` and
adds ``shop/new.py``. The index holds ``M2``; pull requests on ``M1`` and ``M2`` copy the function
that exists only on the other base, so each must be judged against its own base. The writer's
lease is checked against the real Redis (database 15).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from git import Repo

from core.domain import FindingKind, RepoRef
from core.settings import Settings
from embedding.source import GitSource
from tests.conftest_bot import real_redis as real_redis  # noqa: F401 - fixture
from tests.factories import blend_verdict_file, commit, make_repo
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from tests.samples import ORDER_TOTAL, PARSE_DURATION, SLUGIFY
from workers.services.index_lock import IndexBusyError, IndexLeaseLostError, RedisIndexLock
from workers.services.indexing import IndexService
from workers.services.review import ReviewService

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

REPO = RepoRef("acme/shop")

# Only on the older main (M1): deleted by M2.
OLD_ONLY = PARSE_DURATION
# Only on the newer main (M2): added by it.
NEW_ONLY = textwrap.dedent(
    """\
    def median_of(values):
        ordered = sorted(values)
        if not ordered:
            raise ValueError("no values")
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2
    """
)
FILES = {
    "shop/billing.py": ORDER_TOTAL + "\n\n" + SLUGIFY,
    "shop/old.py": OLD_ONLY,
    "README.md": "# shop\n",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    return Settings(data_dir=tmp_path / "data", verdict_path=verdict)


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    """main at M1, then M2 (old.py deleted, new.py added); the repository checked out at M2."""
    repo = make_repo(tmp_path, FILES)
    m1 = repo.head.commit.hexsha
    m2 = commit(repo, {"shop/new.py": NEW_ONLY}, "replace old.py by new.py", delete=["shop/old.py"])
    return {"repo": repo, "m1": m1, "m2": m2, "source": GitSource(Path(repo.working_tree_dir or ""))}


class _Env:
    def __init__(self, settings: Settings, *, lock: Any = None) -> None:
        self.encoder = HashEncoder(dim=256)
        self.index = MemoryIndex()
        self.indexer = IndexService(settings, self.encoder, self.index, progress=False, lock=lock)
        self.service = ReviewService(settings, self.encoder, self.index, self.indexer)

    def snapshot(self) -> tuple[Any, ...]:
        """The collection's points and meta, as a reader must leave them."""
        name = self.indexer.collection(REPO)
        return (self.index.point_ids(name), self.index.get_meta(name), len(self.index.calls))


def _pull(repo: Repo, base: str, branch: str, files: dict[str, str]) -> str:
    repo.git.checkout("-q", "-b", branch, base)
    head = commit(repo, files, f"pull request {branch}")
    repo.git.checkout("-q", "main")
    return head


def _targets(result: Any, kind: FindingKind = FindingKind.DUPLICATE) -> set[tuple[str, str]]:
    return {(f.function.path, f.target.path) for f in result.findings if f.kind is kind}


def test_pull_requests_on_two_bases_are_each_judged_against_their_own_base_and_never_write(
    settings: Settings, history: dict[str, Any]
) -> None:
    env = _Env(settings)
    source, repo = history["source"], history["repo"]
    env.indexer.update(source, REPO, history["m2"])
    copies = {"shop/a.py": OLD_ONLY, "shop/b.py": NEW_ONLY}
    on_m1 = _pull(repo, history["m1"], "on-m1", copies)
    on_m2 = _pull(repo, history["m2"], "on-m2", copies)
    before = env.snapshot()

    old_base = env.service.review(source, REPO, history["m1"], on_m1)
    new_base = env.service.review(source, REPO, history["m2"], on_m2)

    # The index (at M2) never moved: same points, same meta, no write at all.
    assert env.snapshot() == before
    assert _targets(old_base) == {("shop/a.py", "shop/old.py")}  # old.py exists only at M1
    assert _targets(new_base) == {("shop/b.py", "shop/new.py")}  # new.py exists only at M2
    assert old_base.stats.index is not None and old_base.stats.index["mode"] == "overlay"
    assert old_base.stats.index["indexed_commit"] == history["m2"]
    assert old_base.stats.index["overlay_files"] == 1  # old.py read from M1; new.py dropped
    assert new_base.stats.index is not None and new_base.stats.index["mode"] == "index"
    assert not old_base.needs_index and not new_base.needs_index


def test_similar_on_a_pull_request_searches_its_base_and_leaves_the_index_unchanged(
    settings: Settings, history: dict[str, Any]
) -> None:
    env = _Env(settings)
    source, repo = history["source"], history["repo"]
    env.indexer.update(source, REPO, history["m2"])
    fork_only = OLD_ONLY.replace("parse_duration", "fork_duration")
    head = _pull(repo, history["m1"], "fork", {"fork/only.py": fork_only})
    before = env.snapshot()

    found = env.service.similar(source, REPO, function="fork_duration", commit=head, base=history["m1"])
    unrelated = env.service.similar(source, REPO, query="duration units seconds minutes hours", commit=history["m2"])

    assert env.snapshot() == before
    assert found and (found[0].target.path, found[0].target.qualified_name) == ("shop/old.py", "parse_duration")
    assert all(m.target.path != "fork/only.py" for m in found + unrelated)
    assert env.index.functions_in_path(env.indexer.collection(REPO), "fork/only.py") == []


def test_without_an_index_the_review_runs_in_memory_and_asks_for_one(
    settings: Settings, history: dict[str, Any]
) -> None:
    env = _Env(settings)
    source, repo = history["source"], history["repo"]
    head = _pull(repo, history["m2"], "early", {"shop/c.py": NEW_ONLY})

    result = env.service.review(source, REPO, history["m2"], head)

    assert env.index.calls == []  # nothing created, nothing written
    assert result.needs_index and result.stats.index is not None and result.stats.index["mode"] == "memory"
    assert result.stats.index["reason"] == "no_collection"
    assert _targets(result) == {("shop/c.py", "shop/new.py")}
    assert any("no usable index" in w for w in result.warnings)


def test_the_overlay_is_capped_and_the_indexed_versions_stand_in(tmp_path: Path, history: dict[str, Any]) -> None:
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    capped = Settings(data_dir=tmp_path / "capped", verdict_path=verdict, review_max_overlay_files=0)
    env = _Env(capped)
    source, repo = history["source"], history["repo"]
    env.indexer.update(source, REPO, history["m2"])
    head = _pull(repo, history["m1"], "capped", {"shop/a.py": OLD_ONLY})

    result = env.service.review(source, REPO, history["m1"], head)

    assert result.stats.index is not None and result.stats.index["overlay_files"] == 0
    assert result.stats.index["left_out_files"] == 1
    assert any("stood in" in w for w in result.warnings)


def test_a_review_during_an_update_reads_the_files_in_flux_from_its_base(
    settings: Settings, history: dict[str, Any]
) -> None:
    env = _Env(settings)
    source, repo = history["source"], history["repo"]
    env.indexer.update(source, REPO, history["m1"])
    name = env.indexer.collection(REPO)
    # An update from M1 to M2 in progress (as IndexService marks it): old.py may already be gone.
    meta = env.index.get_meta(name)
    env.index.set_meta(name, {**meta, "commit": None, "indexing": history["m2"], "from": history["m1"]})
    env.index.delete_paths(name, ["shop/old.py"])
    head = _pull(repo, history["m1"], "during", {"shop/a.py": OLD_ONLY})

    state = env.indexer.state(source, REPO)
    result = env.service.review(source, REPO, history["m1"], head)

    assert (state.commit, set(state.in_flux)) == (history["m1"], {"shop/old.py", "shop/new.py"})
    assert _targets(result) == {("shop/a.py", "shop/old.py")}  # read from M1, not lost with the update
    assert not result.needs_index


# --- one writer -------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_writer_per_collection_at_a_time(real_redis: Any) -> None:
    lock = RedisIndexLock(real_redis, ttl_seconds=30)
    with lock.hold("doppel_local_shop"):
        with pytest.raises(IndexBusyError) as busy:
            with lock.hold("doppel_local_shop"):
                pass
        assert busy.value.retry_after is not None and 1 <= busy.value.retry_after <= 30
        with lock.hold("doppel_local_geo"):  # another collection has its own writer
            pass
    with lock.hold("doppel_local_shop"):  # given back
        pass


def test_a_writer_whose_lease_ran_out_stops_and_never_frees_the_next_writers_lease(real_redis: Any) -> None:
    clock = _Clock()
    lock = RedisIndexLock(real_redis, ttl_seconds=30, clock=clock)
    key = RedisIndexLock.key("doppel_local_shop")
    with lock.hold("doppel_local_shop") as first:
        real_redis.delete(key)  # the lease ran out ...
        with lock.hold("doppel_local_shop"):  # ... and the next writer took it
            taken = real_redis.get(key)
            clock.now += 60
            with pytest.raises(IndexLeaseLostError):
                first.renew()
        assert real_redis.get(key) is None  # the second gave its own back
        real_redis.set(key, b"someone-else")
    assert real_redis.get(key) == b"someone-else"  # the first's release left it alone
    assert taken is not None and taken != b"someone-else"


def test_an_index_job_that_finds_the_lease_held_writes_nothing(
    settings: Settings, history: dict[str, Any], real_redis: Any
) -> None:
    lock = RedisIndexLock(real_redis, ttl_seconds=30)
    env = _Env(settings, lock=lock)
    source = history["source"]
    env.indexer.update(source, REPO, history["m1"])
    before = env.snapshot()
    with lock.hold(env.indexer.collection(REPO)):  # another worker is writing
        with pytest.raises(IndexBusyError):
            env.indexer.update(source, REPO, history["m2"])
    assert env.snapshot() == before
    assert env.indexer.update(source, REPO, history["m2"]).mode == "update"
