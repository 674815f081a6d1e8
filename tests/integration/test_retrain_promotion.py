"""Promotion for real: a promoted adapter is indexed into a new collection, the registry pointer
switches to it, the old collection is dropped, and reviews and searches then use the new one with
the repository's own adapters. A rejected adapter changes nothing. Tiny model, memory index."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.domain import RepoRef
from core.settings import Settings
from embedding.generation import collection_for
from embedding.registry import AdapterRecord, AdapterRegistry, GateDecision
from embedding.source import GitSource
from tests.factories import make_repo
from tests.fakes.memory_index import MemoryIndex
from workers.services.indexing import IndexService
from workers.services.retrain import AdapterOutcome, IndexReindexer, Promoter
from workers.services.wiring import build_services

pytestmark = pytest.mark.integration

REPO = RepoRef("acme/shop")
OTHER = RepoRef("acme/other")
FILES = {
    "shop/totals.py": textwrap.dedent(
        '''\
        def order_total(items, tax_rate):
            """Total of an order with tax."""
            subtotal = 0
            for item in items:
                subtotal += item.price * item.quantity
            return round(subtotal * (1 + tax_rate), 2)
        '''
    ),
    "shop/slugs.py": textwrap.dedent(
        """\
        def slugify(title, max_length=40):
            words = [w for w in title.lower().split() if w.isalnum()]
            return "-".join(words)[:max_length]
        """
    ),
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import build_tiny_roberta

    return build_tiny_roberta(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def world(tmp_path: Path, tiny_model: Path) -> tuple[Settings, MemoryIndex, GitSource, AdapterRegistry]:
    settings = Settings(
        data_dir=tmp_path / "data", base_model=str(tiny_model), device="cpu", max_length=32, embedding_cache=False
    )
    index = MemoryIndex()
    source = GitSource(Path(make_repo(tmp_path, FILES).working_tree_dir or ""))
    with build_services(settings, repo=REPO, index=index) as services:  # no pointer yet: the base collection
        services.indexer.index_commit(source, REPO, "HEAD")
    return settings, index, source, AdapterRegistry(settings.adapter_registry_root)


def _candidate(settings: Settings, registry: AdapterRegistry, seed: int) -> AdapterRecord:
    from embedding.encoder import Encoder
    from tests.tiny_models import train_tiny_adapter

    encoder = Encoder(settings.base_model, device="cpu", max_length=32)
    train_tiny_adapter(encoder, "python", seed=seed, steps=2)
    staged = encoder.save_adapter("python", registry.staging_dir(REPO, "python"))
    return registry.register(REPO, "python", staged, {})


def _promoter(settings: Settings, index: MemoryIndex, source: GitSource, registry: AdapterRegistry) -> Promoter:
    return Promoter(registry, reindexer=IndexReindexer(settings, index, source, source.resolve("HEAD")))


def _outcome(record: AdapterRecord, promote: bool) -> AdapterOutcome:
    return AdapterOutcome(name="python", languages=["python"], decision=GateDecision(promote, "test"), record=record)


def test_promotion_builds_a_new_collection_switches_and_drops_the_old(
    world: tuple[Settings, MemoryIndex, GitSource, AdapterRegistry],
) -> None:
    settings, index, source, registry = world
    assert index.list_collections() == [REPO.collection_name]
    record = _candidate(settings, registry, seed=1)

    pointer = _promoter(settings, index, source, registry).promote(REPO, [_outcome(record, True)])

    expected = collection_for(REPO, {"python": record.version})
    assert pointer is not None and pointer.collection == expected
    assert registry.pointer(REPO).collection == expected and registry.pointer(REPO).adapters == {
        "python": record.version
    }
    assert index.list_collections() == [expected]  # the base collection is gone
    versions = {fn.adapter_version for fn in index.payloads(expected)}
    assert versions and all(v.endswith(f":python@{record.version}") for v in versions)
    assert registry.record(REPO, "python", record.version).status == "promoted"

    # Reviews and searches afterwards: the repository's adapters, the new collection.
    with build_services(settings, repo=REPO, index=index) as services:
        assert services.encoder.adapter_version("python").endswith(f"@{record.version}")
        assert services.indexer.collection(REPO) == expected
        assert services.indexer.ensure_indexed(source, REPO, "HEAD").mode == "noop"
        matches = services.reviewer.similar(source, REPO, function="order_total")
        assert matches and {m.target.adapter_version for m in matches} <= versions
        assert services.indexer.collection(OTHER) == OTHER.collection_name  # never another repository's
    with build_services(settings, repo=OTHER, index=index) as services:
        assert services.encoder.adapters == [] and services.indexer.collection(OTHER) == OTHER.collection_name

    # A second promotion replaces the first collection the same way.
    second = _candidate(settings, registry, seed=2)
    pointer = _promoter(settings, index, source, registry).promote(REPO, [_outcome(second, True)])
    assert pointer is not None and index.list_collections() == [pointer.collection] != [expected]
    assert registry.record(REPO, "python", record.version).status == "retired"


def test_a_rejected_adapter_changes_nothing(world: tuple[Settings, MemoryIndex, GitSource, AdapterRegistry]) -> None:
    settings, index, source, registry = world
    record = _candidate(settings, registry, seed=3)
    before = (index.list_collections(), index.payloads(REPO.collection_name))

    assert _promoter(settings, index, source, registry).promote(REPO, [_outcome(record, False)]) is None

    assert (index.list_collections(), index.payloads(REPO.collection_name)) == before
    assert registry.pointer(REPO).adapters == {} and registry.pointer(REPO).collection is None
    with build_services(settings, repo=REPO, index=index) as services:
        assert services.encoder.adapters == [] and services.indexer.collection(REPO) == REPO.collection_name


def test_a_failed_reindex_leaves_the_pointer_and_drops_the_half_built_collection(
    world: tuple[Settings, MemoryIndex, GitSource, AdapterRegistry],
) -> None:
    settings, index, source, registry = world
    record = _candidate(settings, registry, seed=4)
    promoter = _promoter(settings, index, source, registry)

    def broken(adapters: object) -> object:
        raise RuntimeError("out of memory")

    promoter.reindexer.encoder_factory = broken  # type: ignore[union-attr,assignment]
    with pytest.raises(RuntimeError):
        promoter.promote(REPO, [_outcome(record, True)])
    assert index.list_collections() == [REPO.collection_name]
    assert registry.pointer(REPO).adapters == {}


def test_index_service_writes_to_an_explicit_collection(
    world: tuple[Settings, MemoryIndex, GitSource, AdapterRegistry],
) -> None:
    settings, index, source, _ = world
    from embedding.encoder import Encoder

    encoder = Encoder(settings.base_model, device="cpu", max_length=32)
    stats = IndexService(settings, encoder, index, progress=False).index_commit(source, REPO, collection="side")
    assert stats.functions == 2 and sorted(index.list_collections()) == sorted([REPO.collection_name, "side"])
    assert {fn.qualified_name for fn in index.payloads("side")} == {"order_total", "slugify"}
