"""The training and evaluation reports, one named test per defect found in issue 12:

* ``doppel eval --report`` was titled "doppel training report: ." (the path as given);
* it had an empty validation table (an evaluation scores one split);
* it said "None steps over None pairs in None s … version None" (training fields it has not);
* its PNG had an empty loss panel;
* R@5 and R@10 were only in the JSON;
* the training plot said "mean of 20 steps" over an 8-step run.

The eval data here is made by ``doppel eval`` itself on a tiny model and a tiny repository (run
once for the module), the training data likewise by ``doppel train``, so the tests read what a user
gets; the smoothing window and the calibration data are also checked as pure functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedding.evaluation import LanguageEvaluation
from embedding.training.report import (
    figure,
    loss_label,
    render_eval_markdown,
    render_markdown,
    score_distributions,
    smoothing_window,
)
from embedding.verdict import Signals, default_verdict
from embedding.verdict_fit import LabelledPair


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """``doppel train`` (8 steps) then ``doppel eval .`` from inside the repository, both with --report."""
    from cli.main import main
    from tests.tiny_models import build_tiny_roberta
    from tests.unit.test_registry import PY_FILES

    tmp = tmp_path_factory.mktemp("reports")
    root = tmp / "shop"
    for rel, text in PY_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    common = ["--data-dir", str(tmp / "data"), "--device", "cpu", "--max-length", "32"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOPPEL_BASE_MODEL", str(build_tiny_roberta(tmp / "tiny")))
        train = ["train", str(root), *common, "--min-pairs", "1", "--max-steps", "8", "--batch-size", "2"]
        assert main([*train, "--margin", "0", "--no-shared", "--no-reindex", "--report", str(tmp / "train")]) == 0
        trained = json.loads((tmp / "train" / "report.json").read_text())
        version = trained["adapters"][0]["version"]
        adapter = next((tmp / "data").rglob(f"python/{version}"))
        cwd = Path.cwd()
        os.chdir(root)  # `doppel eval .`, as the issue ran it
        try:
            assert main(["eval", ".", *common, "--adapter", str(adapter), "--report", str(tmp / "eval")]) == 0
        finally:
            os.chdir(cwd)
    yield {
        "train": trained,
        "train_md": (tmp / "train" / "report.md").read_text(),
        "eval": json.loads((tmp / "eval" / "report.json").read_text()),
        "eval_md": (tmp / "eval" / "report.md").read_text(),
        "eval_png": tmp / "eval" / "report.png",
    }


@pytest.mark.slow
def test_eval_report_title_names_the_repository_not_the_path_given(runs: dict) -> None:
    title = runs["eval_md"].splitlines()[0]
    assert title == "# doppel evaluation: shop"
    assert "training report" not in runs["eval_md"]


@pytest.mark.slow
def test_eval_report_has_no_empty_validation_table(runs: dict) -> None:
    md = runs["eval_md"]
    assert "Validation split" not in md
    assert "## Retrieval on the test split" in md
    assert "| python | python | text→code |" in md or "| python | python | code→code |" in md


@pytest.mark.slow
def test_eval_report_has_no_training_fields_and_no_none(runs: dict) -> None:
    md = runs["eval_md"]
    assert "None" not in md
    assert "steps over" not in md and "version `" not in md and "promoted" not in md


@pytest.mark.slow
def test_eval_report_shows_recall_at_5_and_10_and_the_interval(runs: dict) -> None:
    md = runs["eval_md"]
    assert "| R@1 | R@5 | R@10 | nDCG@10 |" in md
    assert "95% CI of Δ" in md and "Mean MRR over languages and tasks" in md


@pytest.mark.slow
def test_eval_png_has_no_loss_panel_and_a_calibration_plot(runs: dict) -> None:
    fig = figure(runs["eval"])
    titles = [ax.get_title() for ax in fig.axes]
    assert "Training loss" not in titles
    assert any(t.startswith("Calibration: python") for t in titles)
    calibration = next(ax for ax in fig.axes if ax.get_title().startswith("Calibration"))
    labels = calibration.get_legend_handles_labels()[1]
    cuts = runs["eval"]["adapters"][0]["scores"]["verdict"]
    assert f"duplicate ≥ {cuts['duplicate']:.2f}" in labels and f"related ≥ {cuts['related']:.2f}" in labels
    assert runs["eval_png"].stat().st_size > 10_000


@pytest.mark.slow
def test_training_plot_of_an_8_step_run_does_not_claim_a_20_step_mean(runs: dict) -> None:
    fig = figure(runs["train"])
    loss = next(ax for ax in fig.axes if ax.get_title() == "Training loss")
    (label,) = loss.get_legend_handles_labels()[1]
    assert label == "python (loss per step, 8 steps)"
    assert "None" not in runs["train_md"]
    assert "8 steps over" in runs["train_md"]


def test_the_smoothing_window_fits_the_run() -> None:
    assert [smoothing_window(n) for n in (1, 8, 9, 10, 40, 200, 5000)] == [1, 1, 1, 2, 4, 20, 50]
    assert loss_label("python", 8) == "python (loss per step, 8 steps)"
    assert loss_label("python", 400) == "python (mean of 40 steps, 400 steps)"


def test_score_distributions_split_copies_from_non_copies_under_the_verdict() -> None:
    verdict = default_verdict()
    close = Signals(0.97, 0.9, 0.95, 0.9, 1.0, 1.0, 1.0, 1.0)
    far = Signals(0.4, 0.05, 0.1, 0.5, 0.0, 0.0, 0.1, 0.0)
    evaluation = LanguageEvaluation(
        "python",
        labelled=[LabelledPair(close, True), LabelledPair(far, False), LabelledPair(far, True, identical=True)],
    )
    data = score_distributions({"adapter": {"python": evaluation}}, verdict, split="test")
    sides = data["models"]["adapter"]
    assert len(sides["copies"]) == 2 and len(sides["non_copies"]) == 1
    assert sides["copies"][-1] == 1.0  # an identical body is a duplicate whatever the signals
    assert sides["non_copies"][0] < verdict.related < verdict.duplicate <= sides["copies"][0]
    assert data["verdict"] == {"source": "default", "duplicate": verdict.duplicate, "related": verdict.related}


def test_training_template_sends_eval_data_to_the_eval_template() -> None:
    data = {"kind": "eval", "repo": "httpx", "split": "test", "adapters": []}
    assert render_markdown(data) == render_eval_markdown(data)
    assert "the base model alone" in render_eval_markdown(data)
