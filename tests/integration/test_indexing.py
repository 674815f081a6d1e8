"""IndexService on real git repositories, real extraction and both a memory and the Edge index.

The central property: after any sequence of ``update`` calls the collection holds exactly what a
fresh full index of the same commit holds, with no duplicates, while unchanged functions are
never embedded again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from git import Repo

from core.domain import RepoRef
from core.errors import GitError
from core.settings import Settings
from embedding.index import VectorIndex
from embedding.source import GitSource
from tests.factories import commit, make_repo
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from workers.services.indexing import IndexService, IndexStats

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

REPO = RepoRef("acme/widgets")
NAME = REPO.collection_name


def _fn(name: str, offset: int) -> str:
    return f"def {name}(value):\n    total = value * {offset}\n    total += {offset + 1}\n    return total\n"


FILES: dict[str, str] = {
    "pkg/alpha.py": _fn("alpha_one", 1) + "\n\n" + _fn("alpha_two", 2),
    "pkg/beta.py": _fn("beta", 3),
    "pkg/gamma.py": "class Gamma:\n    def run(self, x):\n        y = x + 4\n        return y\n\n\n" + _fn("gamma", 5),
    "pkg/delta.py": _fn("delta", 6),
    "pkg/twice.py": _fn("same", 7) + "\n\n" + _fn("same", 8),  # same qualname twice: two points
    "vendor/lib.py": _fn("vendored", 9),  # excluded by the default globs
    "README.md": "# widgets\n",
}


def _open_memory(tmp_path: Path) -> VectorIndex:
    return MemoryIndex()


def _open_edge(tmp_path: Path) -> VectorIndex:
    from embedding.index.edge import EdgeIndex

    return EdgeIndex(tmp_path)


@pytest.fixture(params=["memory", "edge"])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], VectorIndex]]:
    """A factory of empty indexes of one backend, each in its own directory; closed afterwards."""
    opener = _open_memory if request.param == "memory" else _open_edge
    opened: list[VectorIndex] = []

    def make() -> VectorIndex:
        index = opener(tmp_path / f"index{len(opened)}")
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path, FILES)


def _source(repo: Repo) -> GitSource:
    return GitSource(Path(repo.working_tree_dir or ""))


def _snapshot(index: VectorIndex, paths: set[str]) -> list[tuple[str, str, str, str, int]]:
    """Every stored function of the given paths as (path, qualname, body_hash, adapter version, start line)."""
    rows = []
    for path in sorted(paths):
        for fn in index.functions_in_path(NAME, path):
            rows.append((fn.path, fn.qualified_name, fn.body_hash, fn.adapter_version, fn.start_line))
    return sorted(rows)


def _fresh_full(settings: Settings, source: GitSource, index: VectorIndex, commit_sha: str) -> IndexStats:
    return IndexService(settings, HashEncoder(), index, progress=False).index_commit(source, REPO, commit_sha)


def test_full_index_stores_each_function_once(settings: Settings, repo: Repo, open_index) -> None:
    index = open_index()
    with _source(repo) as source:
        stats = IndexService(settings, HashEncoder(), index, progress=False).index_commit(source, REPO)
        head = source.resolve("HEAD")
    rows = _snapshot(index, set(FILES))
    names = sorted((path, qualname) for path, qualname, *_ in rows)
    assert names == [
        ("pkg/alpha.py", "alpha_one"),
        ("pkg/alpha.py", "alpha_two"),
        ("pkg/beta.py", "beta"),
        ("pkg/delta.py", "delta"),
        ("pkg/gamma.py", "Gamma.run"),
        ("pkg/gamma.py", "gamma"),
        ("pkg/twice.py", "same"),
        ("pkg/twice.py", "same"),
    ]
    assert index.count(NAME) == len(rows) == stats.functions == stats.embedded
    assert (stats.files_seen, stats.files_skipped, stats.deleted, stats.commit) == (len(FILES), 2, 0, head)
    meta = index.get_meta(NAME)
    assert meta["commit"] == head
    assert (meta["base_model"], meta["dim"]) == ("test/hash-encoder", 64)
    assert meta["adapter_versions"] == {"python": "hash64:base"}
    assert set(stats.to_dict()) >= {"files_seen", "files_skipped", "functions", "embedded", "cache_hits", "commit"}


def test_update_matches_a_fresh_full_index(settings: Settings, repo: Repo, open_index) -> None:
    index = open_index()
    encoder = HashEncoder()
    service = IndexService(settings, encoder, index, progress=False)
    with _source(repo) as source:
        service.index_commit(source, REPO, "HEAD")
        new = commit(
            repo,
            {
                "pkg/alpha.py": _fn("alpha_one", 1) + "\n\n" + _fn("alpha_two", 200),  # one function changed
                "pkg/epsilon.py": _fn("epsilon", 10),  # added
            },
            "change",
            delete=["pkg/beta.py"],
            rename={"pkg/gamma.py": "pkg/sub/gamma.py"},
        )
        stats = service.update(source, REPO, "HEAD")

        fresh = open_index()
        _fresh_full(settings, source, fresh, new)
        paths = set(FILES) | {"pkg/epsilon.py", "pkg/sub/gamma.py"}
        updated_rows = _snapshot(index, paths)
        assert updated_rows == _snapshot(fresh, paths)
        assert len(updated_rows) == len(set(updated_rows)) == index.count(NAME)
        assert not index.functions_in_path(NAME, "pkg/beta.py")
        assert not index.functions_in_path(NAME, "pkg/gamma.py")

    assert stats.mode == "update"
    assert stats.commit == new
    assert stats.deleted == 2  # beta.py deleted, gamma.py renamed away
    assert stats.files_seen == 3  # alpha (modified), epsilon (added), sub/gamma (renamed to)
    # Only the changed alpha_two and the new epsilon go through the encoder; the rest is cached.
    assert stats.embedded == 2
    assert stats.cache_hits == stats.functions - 2 == 3
    assert index.get_meta(NAME)["commit"] == new


def test_update_touches_only_changed_files(settings: Settings, repo: Repo) -> None:
    index = MemoryIndex()
    service = IndexService(settings, HashEncoder(), index, progress=False)
    with _source(repo) as source:
        service.index_commit(source, REPO)
        index.calls.clear()
        commit(repo, {"pkg/delta.py": _fn("delta", 60)})
        service.update(source, REPO, "HEAD")
    deleted = [paths for method, _, paths in index.calls if method == "delete_paths"]
    upserted = [ids for method, _, ids in index.calls if method == "upsert"]
    assert deleted == [["pkg/delta.py"]]
    assert [len(ids) for ids in upserted] == [1]


def test_second_full_index_reembeds_only_the_changed_function(settings: Settings, repo: Repo, open_index) -> None:
    index = open_index()
    service = IndexService(settings, HashEncoder(), index, progress=False)
    with _source(repo) as source:
        first = service.index_commit(source, REPO)
        # Change one function and drop another from a file that stays; turn a file binary.
        new = commit(repo, {"pkg/alpha.py": _fn("alpha_one", 100), "pkg/delta.py": b"\x00binary"})
        second = service.index_commit(source, REPO, new)
        fresh = open_index()
        _fresh_full(settings, source, fresh, new)
        assert _snapshot(index, set(FILES)) == _snapshot(fresh, set(FILES))
    assert (second.embedded, second.cache_hits) == (1, first.functions - 3)
    assert second.functions == first.functions - 2
    assert index.functions_in_path(NAME, "pkg/delta.py") == []


def test_ensure_indexed_is_a_noop_at_the_indexed_commit(settings: Settings, repo: Repo) -> None:
    index = MemoryIndex()
    service = IndexService(settings, HashEncoder(), index, progress=False)
    with _source(repo) as source:
        first = service.ensure_indexed(source, REPO, "HEAD")
        index.calls.clear()
        again = service.ensure_indexed(source, REPO, "main")
        assert again.mode == "noop" and again.commit == first.commit
        assert index.calls == []
        commit(repo, {"pkg/zeta.py": _fn("zeta", 11)})
        moved = service.ensure_indexed(source, REPO, "HEAD")
    assert first.mode == "full"
    assert (moved.mode, moved.functions, moved.embedded) == ("update", 1, 1)


def test_update_without_meta_or_after_a_model_change_is_a_full_index(settings: Settings, repo: Repo) -> None:
    index = MemoryIndex()
    with _source(repo) as source:
        stats = IndexService(settings, HashEncoder(), index, progress=False).update(source, REPO, "HEAD")
        assert stats.mode == "full" and stats.functions == 8
        # A base model of another dimension: the collection is dropped and rebuilt at the new size.
        bigger = HashEncoder(dim=32, base_model_id="test/other")
        rebuilt = IndexService(settings, bigger, index, progress=False).update(source, REPO, "HEAD")
    assert rebuilt.mode == "full"
    assert ("drop_collection", NAME, None) in index.calls
    assert index.count(NAME) == 8
    assert index.get_meta(NAME)["dim"] == 32


def test_new_adapter_version_replaces_every_vector_of_its_language(settings: Settings, repo: Repo) -> None:
    index = MemoryIndex()
    with _source(repo) as source:
        IndexService(settings, HashEncoder(adapters={"python": "v1"}), index, progress=False).index_commit(source, REPO)
        stats = IndexService(settings, HashEncoder(adapters={"python": "v2"}), index, progress=False).ensure_indexed(
            source, REPO
        )
    assert stats.mode == "full"
    assert {fn.adapter_version for fn in index.payloads(NAME)} == {"hash64:python@v2"}
    assert index.count(NAME) == 8
    assert index.get_meta(NAME)["adapter_versions"] == {"python": "hash64:python@v2"}


def test_an_interrupted_run_is_rebuilt_not_trusted(settings: Settings, repo: Repo) -> None:
    index = MemoryIndex()
    service = IndexService(settings, HashEncoder(), index, progress=False)
    with _source(repo) as source:
        service.index_commit(source, REPO)
        # What a crash half-way through a run leaves: meta without a commit, stale points.
        meta = index.get_meta(NAME)
        index.set_meta(NAME, {**meta, "commit": None})
        commit(repo, {"pkg/beta.py": _fn("beta_renamed", 3)})
        stats = service.ensure_indexed(source, REPO)
    assert stats.mode == "full"
    assert ("drop_collection", NAME, None) in index.calls
    assert [fn.qualified_name for fn in index.functions_in_path(NAME, "pkg/beta.py")] == ["beta_renamed"]


def test_files_turning_unindexable_lose_their_points(settings: Settings, repo: Repo) -> None:
    index = MemoryIndex()
    service = IndexService(settings, HashEncoder(), index, progress=False)
    with _source(repo) as source:
        service.index_commit(source, REPO)
        commit(repo, {"pkg/delta.py": b"\x00\x01binary now"})
        service.update(source, REPO, "HEAD")
        assert index.functions_in_path(NAME, "pkg/delta.py") == []
        commit(repo, {"pkg/delta.py": _fn("delta", 6)})
        service.update(source, REPO, "HEAD")
        assert [fn.qualified_name for fn in index.functions_in_path(NAME, "pkg/delta.py")] == ["delta"]


def test_extraction_warnings_are_collected(settings: Settings, repo: Repo) -> None:
    commit(repo, {"pkg/broken.py": _fn("fine", 12) + "\n\ndef broken(:\n    pass\n"})
    with _source(repo) as source:
        stats = IndexService(settings, HashEncoder(), MemoryIndex(), progress=False).index_commit(source, REPO)
    assert stats.warning_count >= 1
    assert any("pkg/broken.py" in warning for warning in stats.warnings)


def test_unknown_ref_is_a_git_error(settings: Settings, repo: Repo) -> None:
    service = IndexService(settings, HashEncoder(), MemoryIndex(), progress=False)
    with _source(repo) as source, pytest.raises(GitError, match="unknown revision 'no-such-branch'"):
        service.index_commit(source, REPO, "no-such-branch")


def test_progress_bar_writes_to_stderr_only_when_asked(
    settings: Settings, repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    with _source(repo) as source:
        IndexService(settings, HashEncoder(), MemoryIndex(), progress=True).index_commit(source, REPO)
        shown = capsys.readouterr()
        IndexService(settings, HashEncoder(), MemoryIndex()).index_commit(source, REPO)  # stderr is no TTY here
        hidden = capsys.readouterr()
    assert "indexing acme/widgets" in shown.err and shown.out == ""
    assert hidden.err == "" and hidden.out == ""
