"""The acceptance test of review feedback: a 👎 on doppel's inline comment, polled from the fake
GitHub by the training's collection step, is a negative pair of the next training's data (the
changed function among the matched function's hard negatives, and a negative of the verdict
refit's calibration set); a 👍 is a training pair and a positive of the refit. The training is
real (a tiny model, a few steps); the trainer and the refit are wrapped to record what they got."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.domain import RepoRef
from core.settings import Settings
from github_adapter.client import GitHubClient
from github_adapter.publish import PublishService
from tests.factories import make_repo
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from tests.fakes.github import scenario as sc
from tests.unit.test_registry import PY_FILES
from workers.services import retrain as retrain_module
from workers.services.feedback import extra_pairs, prepare_feedback, remember_publication

pytestmark = pytest.mark.integration

BOT = "doppel[bot]"
TOKEN = "ghs_test_installation_token"
REPO = RepoRef(sc.SLUG, sc.INSTALLATION, 9090)


@pytest.fixture
def fake() -> Iterator[FakeGitHubServer]:
    state = FakeGitHub()
    sc.arrange(state, bot_token=TOKEN, bot_login=BOT)
    with FakeGitHubServer(state) as server:
        yield server


def _findings() -> tuple[Any, Any]:
    """Two of doppel's duplicates, matched against functions of the repository being trained."""
    target_a = replace(sc.DUP_APPLY.target, path="pkg/m0.py", qualified_name="scale_large", code=PY_FILES["pkg/m0.py"])
    target_b = replace(sc.DUP_TOTAL.target, path="pkg/m1.py", qualified_name=PY_FILES["pkg/m1.py"].split("(")[0][4:])
    target_b = replace(target_b, code=PY_FILES["pkg/m1.py"])
    wrong = replace(sc.DUP_APPLY, target=target_a)  # a reviewer says: not a duplicate
    right = replace(sc.DUP_TOTAL, target=target_b)  # a reviewer says: yes
    return wrong, right


def test_a_thumbs_down_becomes_a_negative_pair_in_the_next_training(
    fake: FakeGitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import TrainConfig
    from tests.tiny_models import build_tiny_roberta

    settings = Settings(data_dir=tmp_path / "data", bot_login=BOT)
    client = GitHubClient.connect(
        TOKEN, api_url=fake.api_url, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )
    wrong, right = _findings()
    result = replace(sc.result([wrong, right]), repo=REPO)
    outcome = PublishService(client, bot_login=BOT).publish(result, sc.pull_ref())
    assert remember_publication(settings, result, sc.NUMBER, [*outcome.posted, *outcome.kept]) == 2
    comments = {c["body"].split("doppel:fp=")[1][:16]: c for c in fake.state.comments_on(sc.SLUG, sc.NUMBER)}
    fake.state.react(comments[wrong.fingerprint]["id"], "alice", "-1")  # alice may write to the repository
    fake.state.react(comments[right.fingerprint]["id"], "alice", "+1")

    # The collection step the nightly retrain runs first, then the retrain with what it returned.
    feedback = prepare_feedback(settings, REPO, client)
    assert [n.fingerprint for n in feedback.negatives] == [wrong.fingerprint]

    seen: dict[str, Any] = {}
    real_train, real_refit = retrain_module.train_adapter, retrain_module.refit_verdict

    def train_recording(encoder: Any, name: str, pairs: Any, *args: Any, **kwargs: Any) -> Any:
        seen["pairs"], seen["functions"] = list(pairs), list(kwargs["functions"])
        return real_train(encoder, name, pairs, *args, **kwargs)

    def refit_recording(outcome: Any, config: Any, **kwargs: Any) -> Any:
        seen["labelled"] = list(kwargs["extra"])
        return real_refit(outcome, config, **kwargs)

    monkeypatch.setattr(retrain_module, "train_adapter", train_recording)
    monkeypatch.setattr(retrain_module, "refit_verdict", refit_recording)
    tiny = build_tiny_roberta(tmp_path / "tiny")
    root = Path(make_repo(tmp_path, PY_FILES).working_tree_dir or "")
    config = TrainConfig(min_pairs_per_language=1, max_steps=2, batch_size=4, promotion_margin=0.0)
    service = retrain_module.RetrainService(
        config, encoder_factory=lambda: Encoder(str(tiny), device="cpu", max_length=32)
    )
    report = service.run(root, REPO, extra=extra_pairs(feedback))

    assert [o.name for o in report.outcomes] == ["python"]
    # The 👎: the changed function is a hard-negative candidate in its match's file ...
    (negative,) = [fn for fn in seen["functions"] if fn.code == sc.APPLY_DISCOUNT.code]
    assert negative.path == "pkg/m0.py" and negative.body_hash == sc.APPLY_DISCOUNT.body_hash
    # ... and a negative pair of the verdict refit, scored with the trained adapter's vectors.
    labelled = {item.group: item for item in seen["labelled"]}
    assert labelled["feedback:thumbs_down"].positive is False
    assert labelled["feedback:thumbs_down"].unit == "feedback|app/billing.py::apply_discount"
    # The 👍: a training pair of the adapter, and a positive of the refit.
    (positive,) = [p for p in seen["pairs"] if p.source == "feedback"]
    assert (positive.query, positive.code) == (sc.COMPUTE_TOTAL.code, PY_FILES["pkg/m1.py"])
    assert labelled["feedback:thumbs_up"].positive is True


def test_without_feedback_the_training_data_is_the_repositorys_own(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    feedback = prepare_feedback(settings, REPO, None)
    extra = extra_pairs(feedback)
    assert (list(extra.training), list(extra.negatives)) == ([], [])
    assert extra.labelled_for(["python"], lambda texts: None) == []
