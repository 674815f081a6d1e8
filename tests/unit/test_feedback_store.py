"""The feedback store's contract, run on both implementations (SQLite and the in-process twin),
and the labelling rule they share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain import RepoRef
from workers.services.feedback_store import (
    MAX_CODE_CHARS,
    MAX_VOTERS,
    FeedbackInputError,
    FeedbackStore,
    MemoryFeedbackStore,
    PairSide,
    PublishedPair,
    SqliteFeedbackStore,
    StoreLimits,
    Vote,
    drop_store,
    label_of,
    open_store,
    store_path,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def side(name: str, path: str = "pkg/a.py", commit: str = "c" * 40) -> PairSide:
    return PairSide("python", path, name, commit, f"h-{name}", f"def {name}(x):\n    return x + 1\n")


def pair(n: int, pull: int = 7) -> PublishedPair:
    return PublishedPair(f"{n:016x}", pull, side(f"new_{n}"), side(f"old_{n}", "lib/b.py"))


@pytest.fixture(params=["sqlite", "memory"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    made: list[FeedbackStore] = []

    def build(limits: StoreLimits | None = None) -> FeedbackStore:
        clock = Clock()
        if request.param == "sqlite":
            store: FeedbackStore = SqliteFeedbackStore(tmp_path / f"f{len(made)}.sqlite", limits, clock=clock)
        else:
            store = MemoryFeedbackStore(limits, clock=clock)
        made.append(store)
        return store

    yield build
    for store in made:
        store.close()


def test_remembered_pairs_come_back_with_both_sides(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    assert store.remember([pair(1), pair(2), pair(3, pull=8)]) == 3
    assert store.remember([pair(1)]) == 0  # the same comment's pair again: kept as it was
    got = store.published(7)
    assert [p.fingerprint for p in got] == [f"{1:016x}", f"{2:016x}"]
    assert got[0].function == side("new_1") and got[0].target == side("old_1", "lib/b.py")
    assert got[0].published_at > 0
    assert store.pulls() == [8, 7]  # most recently commented first
    assert store.pulls(limit=1) == [8]


def test_votes_replace_earlier_votes_of_the_same_kind(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    store.remember([pair(1)])
    fp = f"{1:016x}"
    assert store.set_votes(7, fp, "reaction", [Vote("alice", -1), Vote("bob", -1)])
    assert store.set_votes(7, fp, "resolved", [Vote("carol", 1, "resolved")])
    assert store.set_votes(7, fp, "reaction", [Vote("alice", 1)])  # a poll sees alice's 👍 only now
    votes = store.votes()[fp]
    assert sorted((v.login, v.value, v.source) for v in votes) == [("alice", 1, "reaction"), ("carol", 1, "resolved")]
    assert not store.set_votes(7, f"{9:016x}", "reaction", [Vote("alice", 1)])  # never published: no vote
    assert not store.set_votes(8, fp, "reaction", [Vote("alice", 1)])  # published on another pull only


def test_labels_and_counts(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    store.remember([pair(1), pair(2), pair(3), pair(4)])
    store.set_votes(7, f"{1:016x}", "reaction", [Vote("alice", -1)])
    store.set_votes(7, f"{2:016x}", "reaction", [Vote("alice", 1)])
    store.set_votes(7, f"{3:016x}", "resolved", [Vote("bob", 1, "resolved")])
    labelled = {p.pair.fingerprint: (p.positive, p.reason) for p in store.labelled()}
    assert labelled == {
        f"{1:016x}": (False, "thumbs_down"),
        f"{2:016x}": (True, "thumbs_up"),
        f"{3:016x}": (True, "resolved"),
    }
    counts = store.counts()
    assert (counts.published, counts.positives, counts.negatives, counts.labelled) == (4, 2, 1, 3)


def test_a_finding_shown_on_two_pull_requests_is_one_labelled_pair(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    store.remember([pair(1, pull=7), pair(1, pull=9)])
    store.set_votes(9, f"{1:016x}", "reaction", [Vote("alice", -1)])
    (only,) = store.labelled()
    assert only.pair.pull == 7 and not only.positive
    assert store.counts().published == 1


def test_caps_per_pull_and_per_repository(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store(StoreLimits(max_pairs=5, max_pairs_per_pull=3))
    assert store.remember([pair(n, pull=1) for n in range(10)]) == 3  # the pull request's cap
    store.set_votes(1, f"{0:016x}", "reaction", [Vote("alice", -1)])
    assert store.remember([pair(n, pull=2) for n in range(10, 13)]) == 3  # 6 > 5: the oldest unvoted went
    kept = {(p.pull, p.fingerprint) for p in store.published()}
    assert len(kept) == 5 and (1, f"{0:016x}") in kept and (1, f"{1:016x}") not in kept
    for n in range(10, 13):
        store.set_votes(2, f"{n:016x}", "reaction", [Vote("alice", 1)])
    store.set_votes(1, f"{2:016x}", "reaction", [Vote("alice", 1)])
    assert store.remember([pair(20, pull=3)]) == 0  # every pair carries a vote: new ones are refused
    assert len(store.published()) == 5


def test_voters_are_capped_and_checked(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    store.remember([pair(1)])
    fp = f"{1:016x}"
    store.set_votes(7, fp, "reaction", [Vote(f"user{i}", 1) for i in range(MAX_VOTERS + 30)])
    assert len(store.votes()[fp]) == MAX_VOTERS
    for bad in ("", "a" * 60, "bad login", "-dash", "x;DROP TABLE votes"):
        with pytest.raises(FeedbackInputError):
            store.set_votes(7, fp, "reaction", [Vote(bad, 1)])
    with pytest.raises(FeedbackInputError):
        store.set_votes(7, fp, "reaction", [Vote("alice", 5)])
    with pytest.raises(FeedbackInputError):
        store.set_votes(7, "not-a-fingerprint", "reaction", [])
    with pytest.raises(FeedbackInputError):
        store.set_votes(0, fp, "reaction", [])


def test_drop_forgets_everything(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    store.remember([pair(1)])
    store.set_votes(7, f"{1:016x}", "reaction", [Vote("alice", 1)])
    store.drop()
    assert store.published() == [] and store.votes() == {} and store.counts().published == 0


def test_sqlite_store_is_durable_across_instances(tmp_path: Path) -> None:
    repo = RepoRef("acme/shop", 42, 1234)
    first = open_store(tmp_path, repo)
    first.remember([pair(1)])
    first.set_votes(7, f"{1:016x}", "reaction", [Vote("alice", -1)])
    first.close()
    again = open_store(tmp_path, repo)
    assert [(p.pair.fingerprint, p.positive) for p in again.labelled()] == [(f"{1:016x}", False)]
    again.close()
    assert store_path(tmp_path, repo).name == f"{repo.collection_name}.sqlite"
    assert store_path(tmp_path, RepoRef("acme/shop", 42, 99)) != store_path(tmp_path, repo)  # per repository
    assert drop_store(tmp_path, repo) and not store_path(tmp_path, repo).exists()
    assert not drop_store(tmp_path, repo)


def test_sides_refuse_oversized_fields() -> None:
    with pytest.raises(FeedbackInputError):
        PairSide("python", "a.py", "f", "c", "h", "x" * (MAX_CODE_CHARS + 1))
    with pytest.raises(FeedbackInputError):
        PairSide("python", "a" * 600, "f", "c", "h", "code")
    with pytest.raises(FeedbackInputError):
        PublishedPair("ABC", 1, side("a"), side("b"))


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        ([], None),
        ([Vote("a", 1)], True),
        ([Vote("a", -1)], False),
        ([Vote("a", 1), Vote("b", -1)], None),  # a tie says nothing
        ([Vote("a", 1), Vote("b", 1), Vote("c", -1)], True),
        ([Vote("r", 1, "resolved")], True),  # resolved: acted on
        ([Vote("r", 1, "resolved"), Vote("a", -1)], False),  # ... unless someone said 👎
        ([Vote("r", 1, "resolved"), Vote("a", 1), Vote("b", -1)], None),
        ([Vote("a", 1), Vote("a", -1)], None),  # one person both ways counts for neither
        ([Vote("a", 1), Vote("a", -1), Vote("b", -1)], False),
    ],
)
def test_label_of(votes: list[Vote], expected: bool | None) -> None:
    assert label_of(votes)[0] is expected
