"""The feedback service's pure parts and its wiring: which pairs a publication remembers, what the
training and the verdict refit get from labelled pairs, and what ``/similar config`` shows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.domain import FindingKind, RepoRef
from core.errors import GitHubError
from core.settings import Settings
from tests.fakes.github import scenario as sc
from workers.services.feedback import (
    FEEDBACK_SOURCE,
    feedback_counts,
    open_repo_store,
    prepare_feedback,
    published_pairs,
    remember_publication,
    training_feedback,
    verdict_pairs,
)
from workers.services.feedback_store import (
    MAX_CODE_CHARS,
    FeedbackCounts,
    FeedbackPair,
    PairSide,
    PublishedPair,
    StoreLimits,
    Vote,
    store_path,
)
from workers.services.repo_config import RepoConfig, render_config

REPO = RepoRef(sc.SLUG, sc.INSTALLATION, 4711)


def _pairs() -> list[PublishedPair]:
    return published_pairs(
        sc.ALL_FINDINGS,
        pull=sc.NUMBER,
        head=sc.HEAD,
        base=sc.BASE,
        fingerprints=[f.fingerprint for f in sc.ALL_FINDINGS],
        now=5.0,
    )


def test_a_publication_remembers_the_duplicates_behind_its_inline_comments() -> None:
    pairs = _pairs()
    duplicates = [f for f in sc.ALL_FINDINGS if f.kind is FindingKind.DUPLICATE]
    assert [p.fingerprint for p in pairs] == [f.fingerprint for f in duplicates]  # related and intra-PR: no comment
    first = pairs[0]
    assert first.function == PairSide(
        "python", "app/billing.py", "apply_discount", sc.HEAD, sc.APPLY_DISCOUNT.body_hash, sc.APPLY_DISCOUNT.code
    )
    assert first.target == PairSide(
        "python", "lib/money.py", "discount", sc.BASE, "h-discount", sc.DUP_APPLY.target.code
    )
    only = published_pairs(sc.ALL_FINDINGS, pull=1, head=sc.HEAD, base=sc.BASE, fingerprints=[sc.DUP_TOTAL.fingerprint])
    assert [p.fingerprint for p in only] == [sc.DUP_TOTAL.fingerprint]
    huge = replace(sc.DUP_TOTAL, target=replace(sc.DUP_TOTAL.target, code="x" * (MAX_CODE_CHARS + 1)))
    assert published_pairs([huge], pull=1, head=sc.HEAD, base=sc.BASE, fingerprints=[huge.fingerprint]) == []


def test_a_store_that_cannot_be_opened_never_fails_the_publication(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = Settings(data_dir=blocker)
    result = sc.result(sc.ALL_FINDINGS)
    result = replace(result, repo=REPO)
    assert remember_publication(settings, result, sc.NUMBER, [sc.DUP_APPLY.fingerprint]) == 0
    good = Settings(data_dir=tmp_path / "data")
    assert remember_publication(good, result, sc.NUMBER, [sc.DUP_APPLY.fingerprint]) == 1
    assert remember_publication(good, result, sc.NUMBER, [sc.DUP_APPLY.fingerprint]) == 0  # already known


def _labelled(positive: bool, pair: PublishedPair) -> FeedbackPair:
    return FeedbackPair(pair, positive, ups=int(positive), downs=int(not positive))


def test_labels_become_training_pairs_and_negative_pairs() -> None:
    apply_pair, total_pair, *_ = _pairs()
    go = replace(total_pair, fingerprint="e" * 16, target=replace(total_pair.target, language="go"))
    data = training_feedback([_labelled(False, apply_pair), _labelled(True, total_pair), _labelled(True, go)])
    (positive,) = data.positives
    assert (positive.kind, positive.source, positive.split, positive.language) == (
        "code2code", FEEDBACK_SOURCE, "train", "python"
    )  # fmt: skip
    assert positive.query == sc.COMPUTE_TOTAL.code and positive.code == sc.DUP_TOTAL.target.code
    assert positive.function_key == "lib/cart.py::cart_total" and positive.body_hash == "h-cart_total"
    (negative,) = data.negatives
    assert (negative.query, negative.code) == (sc.APPLY_DISCOUNT.code, sc.DUP_APPLY.target.code)
    assert len(data.pairs) == 2  # the pair across languages is left out: adapters are per language
    assert data.statistics() == {"feedback/positive": 1, "feedback/negative": 1}
    assert data.of_language(["go"]).positives == ()


def test_labels_become_the_verdict_refits_labelled_pairs() -> None:
    apply_pair, total_pair, *_ = _pairs()
    data = training_feedback([_labelled(False, apply_pair), _labelled(True, total_pair)])
    texts: list[str] = []

    def embed(batch: list[str]) -> np.ndarray:
        texts.extend(batch)
        # The changed function and its match 0.6 apart for the 👎 pair, 0.8 for the 👍 one.
        rows = [[1.0, 0.0], [0.6, 0.8], [1.0, 0.0], [0.8, 0.6]]
        return np.array(rows[: len(batch)], dtype=np.float32)

    negative, positive = verdict_pairs(data, embed, languages=["python"])
    assert texts == [sc.APPLY_DISCOUNT.code, sc.DUP_APPLY.target.code, sc.COMPUTE_TOTAL.code, sc.DUP_TOTAL.target.code]
    assert (negative.positive, negative.group, negative.unit) == (
        False, "feedback:thumbs_down", "feedback|app/billing.py::apply_discount"
    )  # fmt: skip
    assert (positive.positive, positive.group, positive.unit) == (True, "feedback:thumbs_up", "")
    assert negative.signals.cosine == pytest.approx(0.6) and positive.signals.cosine == pytest.approx(0.8)
    assert 0.0 <= negative.signals.lexical <= 1.0 and negative.signals.name < 1.0
    assert verdict_pairs(data, embed, languages=["go"]) == []


def test_config_counts_labelled_pairs_without_creating_a_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert feedback_counts(settings, REPO) == FeedbackCounts()
    assert not store_path(tmp_path, REPO).exists()
    store = open_repo_store(settings, REPO)
    store.remember(_pairs())
    store.set_votes(sc.NUMBER, sc.DUP_APPLY.fingerprint, "reaction", [Vote("alice", -1)])
    store.set_votes(sc.NUMBER, sc.DUP_TOTAL.fingerprint, "reaction", [Vote("alice", 1)])
    store.close()
    counts = feedback_counts(settings, REPO)
    assert counts == FeedbackCounts(published=5, positives=1, negatives=1)
    text = render_config(RepoConfig(), settings, feedback=counts)
    assert "| Labelled pairs from reviews | 2 (1 confirmed, 1 rejected, of 5 commented findings)" in text
    empty = render_config(RepoConfig(), settings, feedback=FeedbackCounts())
    assert "| Labelled pairs from reviews | none yet (0 commented finding(s)" in empty
    assert "Labelled pairs" not in render_config(RepoConfig(), settings)
    store_path(tmp_path, REPO).write_bytes(b"not a database" * 100)
    assert feedback_counts(settings, REPO) is None  # unreadable: the row is left out, the reply still goes


def test_settings_bound_the_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, feedback_max_pairs=3, feedback_max_pairs_per_pull=2)
    store = open_repo_store(settings, REPO)
    assert store.limits == StoreLimits(max_pairs=3, max_pairs_per_pull=2)
    side = PairSide("python", "a.py", "f", "c", "h", "def f():\n    return 1\n")
    store.remember([PublishedPair(f"{n:016x}", 1 + n // 2, side, side) for n in range(8)])
    assert len(store.published()) == 3
    assert max(len(store.published(pull)) for pull in range(1, 5)) <= 2
    store.close()


class _Failing:
    def review_comments(self, slug: str, number: int) -> list:  # type: ignore[type-arg]
        raise GitHubError("GitHub review_comments failed with HTTP 502", status=502)

    def review_comment_reactions(self, slug: str, comment_id: int, *, limit: int = 100) -> list:  # type: ignore[type-arg]
        raise AssertionError("not reached")

    def permission(self, slug: str, username: str) -> str:
        raise AssertionError("not reached")


def test_training_goes_on_with_the_stored_labels_when_github_fails(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = open_repo_store(settings, REPO)
    store.remember(_pairs())
    store.set_votes(sc.NUMBER, sc.DUP_APPLY.fingerprint, "reaction", [Vote("alice", -1)])
    store.close()
    data = prepare_feedback(settings, REPO, _Failing())
    assert [n.fingerprint for n in data.negatives] == [sc.DUP_APPLY.fingerprint]
    assert prepare_feedback(settings, REPO, None).negatives == data.negatives  # no GitHub (a local run)
