"""The ``VectorIndex`` contract, run on both implementations with the same assertions.

``EdgeIndex`` runs on a temporary directory; ``ServerIndex`` runs on qdrant-client's local mode
(``path=`` storage, so that reopening is tested too). Every call that would go to a Qdrant server
stays inside this suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.domain import IndexedFunction, IndexPoint, RepoRef, point_id
from core.errors import CollectionNotFoundError, VectorIndexError
from core.settings import Settings
from embedding.index import VectorIndex, open_index
from embedding.index.base import SearchFilter, search_filter

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
]

DIM = 8
REPO = RepoRef("acme/widgets")
OTHER_REPO = RepoRef("acme/gadgets")
V1 = "minilm-l6:base"
V2 = "minilm-l6:python@3f2a9c1d"

Opener = Callable[[], VectorIndex]


def _open_edge(root: Path) -> VectorIndex:
    from embedding.index.edge import EdgeIndex

    return EdgeIndex(root)


def _open_server(root: Path) -> VectorIndex:
    from qdrant_client import QdrantClient

    from embedding.index.server import ServerIndex

    return ServerIndex(QdrantClient(path=str(root)), location=f"local Qdrant at {root}")


@pytest.fixture(params=["edge", "server"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens a fresh index instance over the same storage each call; closes them all at the end."""
    make = _open_edge if request.param == "edge" else _open_server
    opened: list[VectorIndex] = []

    def open_() -> VectorIndex:
        index = make(tmp_path / request.param)
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()


@pytest.fixture
def index(opener: Opener) -> VectorIndex:
    return opener()


def unit(*values: float) -> list[float]:
    """A unit vector of DIM components from the leading ``values`` (the rest zero)."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return (vector / np.linalg.norm(vector)).tolist()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def make_point(
    vector: Sequence[float],
    *,
    path: str = "src/app.py",
    name: str = "handler",
    repo: RepoRef = REPO,
    language: str = "python",
    adapter_version: str = V1,
    start_line: int = 1,
    commit: str = "c1",
    ordinal: int = 0,
) -> IndexPoint:
    payload = IndexedFunction(
        repo=repo.slug,
        language=language,
        path=path,
        qualified_name=name,
        start_line=start_line,
        end_line=start_line + 4,
        commit=commit,
        body_hash=f"hash-{path}-{name}-{ordinal}",
        adapter_version=adapter_version,
        code=f"def {name}():\n    return 1\n",
    )
    return IndexPoint(id=point_id(repo, path, name, ordinal), vector=vector, payload=payload)


def names(matches: Sequence[object]) -> list[str]:
    return [m.target.qualified_name for m in matches]  # type: ignore[attr-defined]


# --- collections ------------------------------------------------------------------------------


def test_ensure_collection_is_idempotent(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(name, [make_point(unit(1))])
    index.ensure_collection(name, DIM)

    assert index.collection_exists(name)
    assert index.list_collections() == [name]
    assert index.count(name) == 1


def test_ensure_collection_refuses_another_dimension(index: VectorIndex) -> None:
    index.ensure_collection(REPO.collection_name, DIM)
    with pytest.raises(VectorIndexError, match="re-index"):
        index.ensure_collection(REPO.collection_name, DIM * 2)


def test_list_collections_is_sorted_and_drop_removes_one(index: VectorIndex) -> None:
    for name in ("doppel_b", "doppel_a", "doppel_c"):
        index.ensure_collection(name, DIM)
        index.set_meta(name, {"commit": name})
    index.drop_collection("doppel_b")

    assert index.list_collections() == ["doppel_a", "doppel_c"]
    assert not index.collection_exists("doppel_b")


def test_drop_collection_removes_points_and_meta(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(name, [make_point(unit(1))])
    index.set_meta(name, {"commit": "abc"})

    index.drop_collection(name)
    index.drop_collection(name)  # dropping what is gone is not an error
    index.ensure_collection(name, DIM)

    assert index.count(name) == 0
    assert index.get_meta(name) == {}


def test_invalid_collection_name_is_refused(index: VectorIndex) -> None:
    with pytest.raises(VectorIndexError, match="invalid collection name"):
        index.ensure_collection("../escape", DIM)


# --- points and search ------------------------------------------------------------------------


def test_search_returns_best_first_with_cosine_scores(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    vectors = {"same": unit(1), "close": unit(1, 0.3), "half": unit(1, 1), "far": unit(0, 1), "opposite": unit(-1)}
    index.upsert(name, [make_point(v, name=n, path=f"src/{n}.py") for n, v in vectors.items()])
    query = unit(1, 0.05)

    matches = index.search(name, query, adapter_version=V1, limit=4)

    expected = sorted(vectors, key=lambda n: -cosine(query, vectors[n]))[:4]
    assert names(matches) == expected
    for match in matches:
        assert match.score == pytest.approx(cosine(query, vectors[match.target.qualified_name]), abs=1e-5)
    assert matches[0].target == make_point(vectors["same"], name="same", path="src/same.py").payload


def test_search_accepts_numpy_vectors(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(name, [make_point(np.asarray(unit(1, 1), dtype=np.float32))])  # type: ignore[arg-type]

    matches = index.search(name, np.asarray(unit(1), dtype=np.float32), adapter_version=V1)  # type: ignore[arg-type]

    assert matches[0].score == pytest.approx(cosine(unit(1), unit(1, 1)), abs=1e-5)


def test_reupsert_of_same_id_replaces_the_point(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(name, [make_point(unit(1), commit="c1"), make_point(unit(0, 1), name="other")])

    index.upsert(name, [make_point(unit(0, 0, 1), commit="c2")])

    assert index.count(name) == 2
    top = index.search(name, unit(0, 0, 1), adapter_version=V1, limit=1)[0]
    assert (top.target.qualified_name, top.target.commit) == ("handler", "c2")
    assert top.score == pytest.approx(1.0, abs=1e-5)


def test_adapter_version_isolates_vector_spaces(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(
        name,
        [
            make_point(unit(1), name="base_fn", adapter_version=V1),
            make_point(unit(1), name="tuned_fn", adapter_version=V2),
            make_point(unit(1, 1), name="tuned_fn2", adapter_version=V2),
        ],
    )

    assert names(index.search(name, unit(1), adapter_version=V1)) == ["base_fn"]
    assert names(index.search(name, unit(1), adapter_version=V2)) == ["tuned_fn", "tuned_fn2"]
    assert index.search(name, unit(1), adapter_version="minilm-l6:go@unknown") == []
    assert (index.count(name), index.count(name, adapter_version=V1), index.count(name, adapter_version=V2)) == (
        3,
        1,
        2,
    )


def test_search_needs_an_adapter_version(index: VectorIndex) -> None:
    index.ensure_collection(REPO.collection_name, DIM)
    with pytest.raises(VectorIndexError, match="adapter_version"):
        index.search(REPO.collection_name, unit(1), adapter_version="")


def test_language_filter(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(
        name,
        [
            make_point(unit(1), name="py_fn", path="a.py", language="python"),
            make_point(unit(1, 0.1), name="go_fn", path="a.go", language="go"),
        ],
    )

    assert names(index.search(name, unit(1), adapter_version=V1, language="go")) == ["go_fn"]
    assert names(index.search(name, unit(1), adapter_version=V1)) == ["py_fn", "go_fn"]


def test_exclude_paths(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(name, [make_point(unit(1, i * 0.1), name=f"f{i}", path=f"src/m{i}.py") for i in range(4)])

    matches = index.search(name, unit(1), adapter_version=V1, exclude_paths={"src/m0.py", "src/m2.py", "nope.py"})

    assert names(matches) == ["f1", "f3"]


def test_delete_paths_removes_only_those_files(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    index.upsert(
        name,
        [make_point(unit(1, i), name=f"f{i}", path=f"src/m{i % 3}.py", ordinal=i) for i in range(6)],
    )

    index.delete_paths(name, ["src/m0.py", "src/missing.py"])
    index.delete_paths(name, [])

    assert index.count(name) == 4
    assert index.functions_in_path(name, "src/m0.py") == []
    assert {m.target.path for m in index.search(name, unit(1), adapter_version=V1, limit=10)} == {
        "src/m1.py",
        "src/m2.py",
    }


def test_functions_in_path_returns_all_of_one_file_in_line_order(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    lines = list(range(300, 0, -1))  # more than one scroll page, stored out of order
    index.upsert(name, [make_point(unit(1, n), name=f"f{n}", path="big.py", start_line=n) for n in lines])
    index.upsert(name, [make_point(unit(1), name="elsewhere", path="small.py")])

    functions = index.functions_in_path(name, "big.py")

    assert [fn.start_line for fn in functions] == sorted(lines)
    assert {fn.path for fn in functions} == {"big.py"}
    assert index.functions_in_path(name, "nothing.py") == []


def test_collections_are_isolated_by_repository(index: VectorIndex) -> None:
    mine, theirs = REPO.collection_name, OTHER_REPO.collection_name
    for name in (mine, theirs):
        index.ensure_collection(name, DIM)
    index.upsert(theirs, [make_point(unit(1), name="secret", repo=OTHER_REPO)])
    index.upsert(mine, [make_point(unit(0, 1), name="public")])

    matches = index.search(mine, unit(1), adapter_version=V1, limit=10)

    assert names(matches) == ["public"]
    assert {m.target.repo for m in matches} == {REPO.slug}


def test_wrong_vector_dimension_is_refused(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    with pytest.raises(VectorIndexError, match="dimensional"):
        index.upsert(name, [make_point([1.0, 0.0])])
    with pytest.raises(VectorIndexError, match="dimensional"):
        index.search(name, [1.0, 0.0], adapter_version=V1)


# --- meta ---------------------------------------------------------------------------------------


def test_meta_round_trip_replaces_the_whole_dict(index: VectorIndex) -> None:
    name = REPO.collection_name
    index.ensure_collection(name, DIM)
    assert index.get_meta(name) == {}

    index.set_meta(name, {"commit": "abc", "base_model": "minilm", "dim": DIM, "nested": {"a": [1, 2]}})
    assert index.get_meta(name) == {"commit": "abc", "base_model": "minilm", "dim": DIM, "nested": {"a": [1, 2]}}

    index.set_meta(name, {"commit": "def"})
    assert index.get_meta(name) == {"commit": "def"}


def test_meta_must_be_json(index: VectorIndex) -> None:
    index.ensure_collection(REPO.collection_name, DIM)
    with pytest.raises(VectorIndexError, match="JSON"):
        index.set_meta(REPO.collection_name, {"when": object()})


# --- persistence and missing collections ------------------------------------------------------


def test_points_and_meta_survive_reopening(opener: Opener) -> None:
    name = REPO.collection_name
    first = opener()
    first.ensure_collection(name, DIM)
    first.upsert(name, [make_point(unit(1, i), name=f"f{i}", ordinal=i) for i in range(5)])
    first.set_meta(name, {"commit": "abc"})
    first.close()

    second = opener()

    assert second.list_collections() == [name]
    assert second.count(name) == 5
    assert second.get_meta(name) == {"commit": "abc"}
    assert names(second.search(name, unit(1), adapter_version=V1, limit=1)) == ["f0"]
    second.ensure_collection(name, DIM)
    assert second.count(name) == 5


MISSING_CALLS: dict[str, Callable[[VectorIndex, str], object]] = {
    "upsert": lambda index, name: index.upsert(name, [make_point(unit(1))]),
    "upsert_nothing": lambda index, name: index.upsert(name, []),
    "delete_paths": lambda index, name: index.delete_paths(name, ["a.py"]),
    "search": lambda index, name: index.search(name, unit(1), adapter_version=V1),
    "count": lambda index, name: index.count(name),
    "functions_in_path": lambda index, name: index.functions_in_path(name, "a.py"),
    "get_meta": lambda index, name: index.get_meta(name),
    "set_meta": lambda index, name: index.set_meta(name, {"commit": "abc"}),
}


@pytest.mark.parametrize("call", sorted(MISSING_CALLS))
def test_missing_collection_raises_collection_not_found(index: VectorIndex, call: str) -> None:
    index.ensure_collection(OTHER_REPO.collection_name, DIM)
    with pytest.raises(CollectionNotFoundError, match=REPO.collection_name):
        MISSING_CALLS[call](index, REPO.collection_name)
    assert not index.collection_exists(REPO.collection_name)


# --- implementation specifics -----------------------------------------------------------------


def test_edge_index_is_held_by_one_opener_at_a_time(tmp_path: Path) -> None:
    from embedding.index.edge import EdgeIndex

    name = REPO.collection_name
    with EdgeIndex(tmp_path) as holder:
        holder.ensure_collection(name, DIM)
        with EdgeIndex(tmp_path) as intruder, pytest.raises(VectorIndexError, match="DOPPEL_QDRANT_URL") as caught:
            intruder.count(name)
        assert "another process" in str(caught.value)
    with EdgeIndex(tmp_path) as after:  # released on close
        assert after.count(name) == 0


def test_edge_meta_lives_beside_the_shard(tmp_path: Path) -> None:
    from embedding.index.edge import EdgeIndex

    name = REPO.collection_name
    with EdgeIndex(tmp_path) as index:
        index.ensure_collection(name, DIM)
        index.set_meta(name, {"commit": "abc"})
        assert sorted(p.name for p in tmp_path.iterdir()) == [name, f"{name}.meta.json"]
        index.drop_collection(name)
        assert list(tmp_path.iterdir()) == []


def test_open_index_follows_the_settings(tmp_path: Path) -> None:
    from embedding.index.edge import EdgeIndex
    from embedding.index.server import ServerIndex

    edge = open_index(Settings(data_dir=tmp_path))
    assert isinstance(edge, EdgeIndex)
    assert edge.root == tmp_path / "index"
    edge.close()

    server = open_index(Settings(data_dir=tmp_path, qdrant_url="http://127.0.0.1:9"))  # nothing listens
    assert isinstance(server, ServerIndex)
    with pytest.raises(VectorIndexError, match="DOPPEL_QDRANT_URL"):
        server.list_collections()
    server.close()


def test_search_filter_always_pins_the_adapter_version() -> None:
    assert search_filter(V1) == SearchFilter(must=(("adapter_version", V1),))
    assert search_filter(V1, "go", ["b.go", "a.go", "a.go"]) == SearchFilter(
        must=(("adapter_version", V1), ("language", "go")), must_not_any=(("path", ("a.go", "b.go")),)
    )
    with pytest.raises(VectorIndexError):
        search_filter("")


def test_edge_drop_refuses_a_collection_another_opener_holds(tmp_path: Path) -> None:
    from embedding.index.edge import EdgeIndex

    name = REPO.collection_name
    with EdgeIndex(tmp_path) as holder:
        holder.ensure_collection(name, DIM)
        holder.upsert(name, [make_point(unit(1))])
        with EdgeIndex(tmp_path) as intruder, pytest.raises(VectorIndexError, match="another process"):
            intruder.drop_collection(name)
        assert holder.count(name) == 1
