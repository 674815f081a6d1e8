"""``doppel train`` and ``doppel eval`` end to end on a tiny model and a tiny directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cli.train import register
from core.domain import RepoRef


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doppel")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_subcommands_parse_their_options() -> None:
    args = _parser().parse_args(["train", "src", "--languages", "python,go", "--max-steps", "3", "--no-shared"])
    assert (args.path, args.languages, args.max_steps, args.no_shared) == (Path("src"), ("python", "go"), 3, True)
    args = _parser().parse_args(
        ["train", "--lora-r", "16", "--lora-alpha", "32", "--no-hard-negatives", "--synthetic-ratio", "-1"]
    )
    assert (args.lora_r, args.lora_alpha, args.hard_negatives, args.synthetic_ratio) == (16, 32, False, -1.0)
    args = _parser().parse_args(["eval", "--adapter", "a", "--adapter", "b"])
    assert (args.path, args.adapter) == (Path("."), [Path("a"), Path("b")])


@pytest.mark.slow
def test_train_then_eval_write_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tiny_models import build_tiny_roberta
    from tests.unit.test_registry import PY_FILES

    monkeypatch.setenv("DOPPEL_BASE_MODEL", str(build_tiny_roberta(tmp_path / "tiny")))
    root = tmp_path / "repo"
    for rel, text in PY_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    common = [
        str(root),
        "--data-dir",
        str(tmp_path / "data"),
        "--device",
        "cpu",
        "--max-length",
        "32",
        "--repo",
        "tiny",
    ]
    args = _parser().parse_args(
        [
            "train",
            *common,
            "--min-pairs",
            "1",
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--margin",
            "0",
            "--report",
            str(tmp_path / "r"),
        ]
    )
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "| python | python |" in printed and ("promoted" in printed or "rejected" in printed)
    assert "trainable parameters" in printed and "of the base model's" in printed
    # Every MRR delta printed with its interval, and the small split said to be small.
    assert "python validation, mean MRR against the base model: MRR" in printed and "95% CI [" in printed
    assert "text→code queries for python (at least 300 wanted" in printed
    assert "genuinely new functions flagged as duplicates" in printed
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["adapters"][0]["metrics"]["test"]["adapter"]["python"]
    assert (tmp_path / "r" / "report.png").stat().st_size > 0 and (tmp_path / "r" / "report.md").is_file()

    version = report["adapters"][0]["version"]
    adapter_dir = tmp_path / "data" / "adapters" / RepoRef("tiny").collection_name / "python" / version
    args = _parser().parse_args(["eval", *common, "--adapter", str(adapter_dir), "--format", "json"])
    assert args.handler(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["adapters"][0]["name"] == "python"
    assert set(data["adapters"][0]["metrics"]["test"]) >= {"base", "adapter"}
    interval = data["adapters"][0]["intervals"]["test"]["vs_base"]
    assert interval["ci_low"] <= interval["delta"] <= interval["ci_high"]
    assert any("text→code queries for python" in note for note in data["adapters"][0]["notes"])


def test_a_bad_lora_shape_is_refused_not_replaced_by_the_default() -> None:
    from cli.train import _lora
    from core.errors import ConfigError

    assert _lora(_parser().parse_args(["train"])).r == 64
    with pytest.raises(ConfigError, match="LoraSpec.r"):
        _lora(_parser().parse_args(["train", "--lora-r", "0"]))
