"""Hostile repository names: every repository gets collections and adapter directories of its own,
and dropping one repository deletes exactly its own.

Before the fix a collection was named by a lossy slug (``acme/foo.bar`` and ``acme/foo_bar``
both became ``doppel_i1_acme_foo_bar``; ``acme/.x`` and ``acme/x`` both ``doppel_i1_acme_x``), and
an uninstall dropped every collection whose name started with the repository's, so removing
``acme/x`` also deleted ``acme/x__y``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.domain import RepoRef
from core.settings import Settings
from embedding.generation import collection_for
from embedding.registry import AdapterRegistry
from embedding.source import GitSource
from tests.conftest_bot import TEST_REDIS_URL, real_redis  # noqa: F401  (the fixture)
from tests.factories import make_repo
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from workers.services.indexing import IndexService

COLLIDING = [("acme/foo.bar", "acme/foo_bar"), ("acme/.x", "acme/x"), ("acme/x.y", "acme/x_y.")]


@pytest.mark.parametrize(("one", "other"), COLLIDING)
def test_slugs_that_collided_get_separate_collections(one: str, other: str) -> None:
    a, b = RepoRef(one, 1), RepoRef(other, 1)
    assert a.collection_name != b.collection_name
    # A promoted adapter's generation of one repository is never the other's either.
    adapters = {"python": "v0001-0123abcd"}
    assert collection_for(a, adapters) != collection_for(b, adapters)
    assert not b.owns_collection(a.collection_name) and not b.owns_collection(collection_for(a, adapters))


def test_a_repository_id_names_the_collection_across_renames_and_recreations() -> None:
    original = RepoRef("acme/x", 1, repo_id=101)
    assert RepoRef("acme/renamed", 1, repo_id=101).collection_name == original.collection_name
    # Deleted and created again under the same name: another repository, another collection.
    assert RepoRef("acme/x", 1, repo_id=202).collection_name != original.collection_name
    # The same repository without its id (local use) has a lossless name of its own.
    assert RepoRef("acme/x", 1).collection_name != original.collection_name


def test_every_collection_name_is_one_the_index_accepts() -> None:
    from embedding.index.base import check_collection_name

    for slug in ("a/" + "x" * 100, "acme/.x", "Ünï/cödé", "acme/x__y", "o/" + "-" * 90):
        for ref in (RepoRef(slug), RepoRef(slug, 7), RepoRef(slug, 7, repo_id=2**40)):
            check_collection_name(ref.collection_name)
            check_collection_name(collection_for(ref, {"shared": "v0001-0123abcd"}))


@pytest.mark.integration
def test_indexing_one_of_two_colliding_repositories_leaves_the_other_alone(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    index = MemoryIndex()
    indexer = IndexService(settings, HashEncoder(), index, progress=False)
    dotted, underscored = RepoRef("acme/foo.bar", 1), RepoRef("acme/foo_bar", 1)
    body = "(value):\n    total = value * 2\n    total += 3\n    return total\n"
    for ref, name in ((dotted, "dotted"), (underscored, "underscored")):
        repo = make_repo(tmp_path / name, {f"{name}.py": f"def {name}{body}"})
        indexer.index_commit(GitSource(Path(str(repo.working_tree_dir))), ref)

    assert len(index.list_collections()) == 2
    for ref, name in ((dotted, "dotted"), (underscored, "underscored")):
        assert [f.qualified_name for f in index.functions_in_path(ref.collection_name, f"{name}.py")] == [name]
        assert index.get_meta(ref.collection_name)["commit"]


def test_adapter_registry_directories_of_colliding_slugs_are_separate(tmp_path: Path) -> None:
    registry = AdapterRegistry(tmp_path)
    for one, other in COLLIDING:
        assert registry.repo_dir(RepoRef(one, 1)) != registry.repo_dir(RepoRef(other, 1))


# --- the uninstall path: DROP_REPOSITORY's flow over the production runtime ----------------------


@pytest.fixture
def runtime(tmp_path: Path, real_redis: Any) -> Iterator[Any]:  # noqa: F811
    """The production runtime on an Edge index under ``tmp_path`` (a token stands in for an App)."""
    from tests.tiny_models import build_tiny_roberta
    from workers.tasks.production import ProductionRuntime

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        base_model=str(build_tiny_roberta(tmp_path / "tiny")),
        device="cpu",
        redis_url=TEST_REDIS_URL,
        github_token="ghp_not_used_by_a_drop",
    )
    rt = ProductionRuntime(settings)
    yield rt
    rt.services.close()


def _install(rt: Any, ref: RepoRef) -> set[str]:
    """Collections and an adapter directory for ``ref``: its base collection and one generation."""
    names = {ref.collection_name, collection_for(ref, {"python": "v0001-0123abcd"})}
    for name in names:
        rt.services.index.ensure_collection(name, 8)
    adapters = AdapterRegistry(rt.settings.adapter_registry_root).repo_dir(ref) / "python"
    adapters.mkdir(parents=True)
    (adapters / "marker").write_text(ref.slug)
    rt.registry.add(ref)
    return names


@pytest.mark.integration
@pytest.mark.parametrize(
    ("dropped", "kept"),
    [("acme/x", "acme/x__y"), ("acme/foo.bar", "acme/foo_bar"), ("acme/.x", "acme/x")],
)
def test_an_uninstall_drops_exactly_one_repositorys_collections(runtime: Any, dropped: str, kept: str) -> None:
    from workers.jobs import DropJob
    from workers.services import flows

    gone, stays = RepoRef(dropped, 1), RepoRef(kept, 1)
    _install(runtime, gone)
    kept_names = _install(runtime, stays)

    assert flows.drop_repository(runtime, DropJob(installation_id=1, repo=dropped)) == "dropped"

    assert set(runtime.services.index.list_collections()) == kept_names
    registry = AdapterRegistry(runtime.settings.adapter_registry_root)
    assert (registry.repo_dir(stays) / "python" / "marker").read_text() == kept
    assert not registry.repo_dir(gone).exists()
    assert [r.slug for r in runtime.registry.repositories()] == [kept]
