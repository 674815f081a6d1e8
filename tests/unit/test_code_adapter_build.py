"""benchmarks/code_adapter/build_code_adapter.py: recipe options and validation packages.

A recipe is chosen on validation packages (train-split packages left out of training) so that the
held-out projects the shipped adapter is reported on are never used to choose it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks.code_adapter import build_code_adapter as build
from core.domain import CodeFunction
from embedding.training.pairs import TrainingPair


def _args(*argv: str) -> object:
    seen: dict[str, object] = {}

    def capture(args: object) -> int:
        seen["args"] = args
        return 0

    original = build.cmd_probe
    build.cmd_probe = capture  # type: ignore[assignment]
    try:
        build.main(["probe", *argv])
    finally:
        build.cmd_probe = original  # type: ignore[assignment]
    return seen["args"]


def test_a_recipe_setting_may_name_a_field_the_script_also_sets() -> None:
    # --set bf16=false used to raise "got multiple values for keyword argument 'bf16'".
    config = build._config(_args("--device", "cuda", "--set", "bf16=false", "--set", "batch_size=64"))

    assert config.bf16 is False
    assert config.batch_size == 64
    assert build._config(_args("--device", "cuda")).bf16 is True


def _mine(work: Path, key: str, language: str, names: list[str]) -> None:
    functions = [
        CodeFunction(language=language, path=f"{key}/m.py", qualified_name=n, start_line=1, end_line=2,
                     signature=f"def {n}(a):", code=f"def {n}(a):\n    return a + 1\n", docstring=None, body_hash=n)
        for n in names
    ]  # fmt: skip
    pairs = [
        TrainingPair(kind="text2code", source="docstring", language=language, path=fn.path,
                     function_key=f"{fn.path}::{n}", query=f"add one to {n}", code=fn.code, body_hash=n)
        for n, fn in zip(names, functions, strict=True)
    ]  # fmt: skip
    payload = {"counts": {"by_language": {language: len(names)}}, "functions": [asdict(f) for f in functions],
               "pairs": [asdict(p) for p in pairs]}  # fmt: skip
    (work / "mined").mkdir(parents=True, exist_ok=True)
    (work / "mined" / f"{key}.json").write_text(json.dumps(payload), encoding="utf-8")


def test_validation_packages_are_left_out_of_training_and_ranked_instead_of_the_held_out_projects(
    tmp_path: Path,
) -> None:
    train_keys = [p.key for p in build.load_packages() if p.split == "train"][:2]
    heldout_key = next(p.key for p in build.load_packages() if p.split == "heldout")
    for key, names in zip([*train_keys, heldout_key], (["a1", "a2"], ["b1"], ["h1"]), strict=True):
        _mine(tmp_path, key, "python", names)
    validation = build._validation_keys(_args("--validate-on", train_keys[0]))

    trained, _, _ = build.gather(tmp_path, "train", exclude=validation)
    ranked, ranked_pairs, _ = build.gather(tmp_path, "train", only=validation)

    assert validation == frozenset({train_keys[0]})
    assert [fn.name for fn in trained] == ["b1"]
    assert [fn.name for fn in ranked] == ["a1", "a2"] and len(ranked_pairs) == 2
    assert [fn.name for fn in build.gather(tmp_path, "heldout")[0]] == ["h1"]


def test_a_held_out_project_cannot_be_named_a_validation_package() -> None:
    heldout_key = next(p.key for p in build.load_packages() if p.split == "heldout")

    with pytest.raises(SystemExit, match="not train-split package keys"):
        build._validation_keys(_args("--validate-on", heldout_key))


def test_an_evaluation_on_validation_packages_is_not_shipped(tmp_path: Path) -> None:
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "doppel.json").write_text("{}", encoding="utf-8")
    (tmp_path / "labelled.json").write_text("[]", encoding="utf-8")
    (tmp_path / "evaluation.json").write_text(json.dumps({"projects": "validation", "languages": {}}), "utf-8")

    with pytest.raises(SystemExit, match="validation packages"):
        build.cmd_write(_args("--work", str(tmp_path)))  # type: ignore[arg-type]


def test_the_report_states_the_resample_count_its_intervals_were_drawn_with() -> None:
    # The page said "10,000 resamples" while paired_bootstrap drew 2,000.
    interval = {"base_mrr": 0.5, "adapter_mrr": 0.6, "delta": 0.1, "relative": 0.2, "ci_low": 0.05}
    interval |= {"ci_high": 0.15, "queries": 300, "resamples": 2000}
    evaluation = {
        "max_length": 256,
        "max_queries": 300,
        "languages": {"go": {"pool": 1000, "projects": ["dns"], "text2code": interval}},
    }

    page = build.render_report(evaluation, {"packages": []})

    assert "paired_bootstrap`, 2,000 resamples" in page
    assert "10,000" not in page


class _Trained:
    losses: list[float] = []

    def to_dict(self) -> dict[str, int]:
        return {"steps": 1}


class _Verdict:
    def to_dict(self) -> dict[str, float]:
        return {"duplicate": 0.9, "related": 0.5}


def test_a_trained_candidate_leaves_the_committed_manifest_alone_until_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # train rewrote benchmarks/code_adapter/manifest.json for every candidate, so one that was
    # evaluated and not shipped left the committed manifest describing data the shipped adapter
    # was not trained on.
    from embedding.training import trainer

    work = tmp_path / "work"
    _mine(work, next(p.key for p in build.load_packages() if p.split == "train"), "python", ["a1", "a2"])
    committed = tmp_path / "committed-manifest.json"
    committed.write_text('{"shipped": true}\n', encoding="utf-8")
    monkeypatch.setattr(build, "MANIFEST", committed)
    monkeypatch.setattr(build, "SHIPPED", tmp_path / "shipped")
    monkeypatch.setattr(build, "_encoder", lambda args, max_length: object())
    monkeypatch.setattr(trainer, "train_adapter", lambda *args, **kwargs: _Trained())

    def save(encoder: object, name: str, out: Path, lora: object, config: object, metadata: dict) -> None:
        out.mkdir(parents=True)
        (out / "doppel.json").write_text(json.dumps(metadata), encoding="utf-8")
        for file in ("adapter_model.safetensors", "adapter_config.json", "training_config.json"):
            (out / file).write_text("{}", encoding="utf-8")

    monkeypatch.setattr(trainer, "save_trained_adapter", save)
    monkeypatch.setattr(build, "fit_code_verdict", lambda work: (_Verdict(), {}))
    argv = ("--work", str(work), "--pairs-per-language", "700", "--code-ratio", "0.5")

    build.cmd_train(_args(*argv))  # type: ignore[arg-type]

    assert committed.read_text(encoding="utf-8") == '{"shipped": true}\n'
    candidate = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    assert (candidate["pairs_per_language_cap"], candidate["code2code_per_text2code"]) == (700, 0.5)

    build.cmd_write(_args(*argv))  # type: ignore[arg-type]

    assert json.loads(committed.read_text(encoding="utf-8")) == candidate
    assert json.loads((tmp_path / "shipped" / "doppel.json").read_text(encoding="utf-8"))["verdict"]["duplicate"] == 0.9


def test_an_adapter_without_its_training_manifest_is_not_written(tmp_path: Path) -> None:
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "doppel.json").write_text('{"selection": {"pairs_per_language": 700}}', "utf-8")
    (tmp_path / "labelled.json").write_text("[]", encoding="utf-8")

    with pytest.raises(SystemExit, match="manifest.json is missing"):
        build.cmd_write(_args("--work", str(tmp_path)))  # type: ignore[arg-type]


def _first_train_key(language: str) -> str:
    return next(p.key for p in build.load_packages() if p.split == "train" and p.languages == (language,))


def test_a_language_adapter_is_trained_on_its_languages_only_and_ships_beside_the_general_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedding.training import trainer

    work = tmp_path / "work"
    python_keys = [p.key for p in build.load_packages() if p.split == "train" and p.languages == ("python",)][:2]
    for key in python_keys:
        _mine(work, key, "python", [f"{key[-3:]}{i}" for i in range(4)])
    _mine(work, _first_train_key("go"), "go", ["g1", "g2"])
    seen: dict[str, list[str]] = {}

    def train(encoder: object, name: str, pairs: list, *args: object, functions: list, **kwargs: object) -> _Trained:
        seen["pairs"] = sorted({p.language for p in pairs})
        seen["packages"] = sorted({p.path.split("/", 1)[0] for p in pairs})
        seen["functions"] = sorted({fn.language for fn in functions})
        return _Trained()

    def save(encoder: object, name: str, out: Path, lora: object, config: object, metadata: dict) -> None:
        out.mkdir(parents=True)
        (out / "doppel.json").write_text(json.dumps(metadata), encoding="utf-8")
        for file in ("adapter_model.safetensors", "adapter_config.json", "training_config.json"):
            (out / file).write_text("{}", encoding="utf-8")

    monkeypatch.setattr(build, "MANIFEST", tmp_path / "general-manifest.json")
    monkeypatch.setattr(build, "HERE", tmp_path)
    monkeypatch.setattr(build, "SHIPPED", tmp_path / "shipped")
    monkeypatch.setattr(build, "_encoder", lambda args, max_length: object())
    monkeypatch.setattr(trainer, "train_adapter", train)
    monkeypatch.setattr(trainer, "save_trained_adapter", save)
    monkeypatch.setattr(build, "fit_code_verdict", lambda work: (_Verdict(), {}))
    argv = ("--work", str(work), "--train-languages", "python", "--validate-on", python_keys[1])

    build.cmd_train(_args(*argv))  # type: ignore[arg-type]

    assert seen == {"pairs": ["python"], "packages": [python_keys[0]], "functions": ["python"]}
    manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["languages"] == ["python"] and manifest["validation_packages"] == [python_keys[1]]
    assert {row["name"] for row in manifest["packages"]} <= {p.name for p in build.load_packages()}
    assert all(row["languages"] == ["python"] for row in manifest["packages"])
    with pytest.raises(SystemExit, match="ships only as a language adapter"):
        build.cmd_write(_args(*argv))  # type: ignore[arg-type]
    assert not (tmp_path / "general-manifest.json").exists()

    build.cmd_write(_args(*argv, "--language-adapter", "dyn"))  # type: ignore[arg-type]

    shipped = tmp_path / "shipped" / "languages" / "dyn"
    assert json.loads((shipped / "doppel.json").read_text(encoding="utf-8"))["serves"] == ["python"]
    assert json.loads((tmp_path / "manifest-dyn.json").read_text(encoding="utf-8")) == manifest
    assert not (tmp_path / "shipped" / "doppel.json").exists()  # the general adapter is left alone
    # A verdict fitted on the real-edit reviews made with every shipped adapter belongs to all.
    (tmp_path / "shipped" / "doppel.json").write_text('{"verdict": {"duplicate": 0.1}, "kept": 1}', "utf-8")
    monkeypatch.setattr(build, "read_fitted_verdict", lambda path: _Verdict())

    build.cmd_write(_args(*argv, "--language-adapter", "dyn", "--verdict", str(tmp_path / "v.json")))  # type: ignore[arg-type]

    general = json.loads((tmp_path / "shipped" / "doppel.json").read_text(encoding="utf-8"))
    assert general == {"verdict": {"duplicate": 0.9, "related": 0.5}, "kept": 1}


def test_a_language_adapter_serves_only_languages_it_was_trained_on(tmp_path: Path) -> None:
    manifest = {"languages": ["php", "ruby"]}
    metadata: dict = {"languages": ["php", "ruby"]}

    with pytest.raises(SystemExit, match="only languages the adapter was trained on"):
        build._destination(
            _args("--work", str(tmp_path), "--language-adapter", "x", "--serve", "go"), metadata, manifest
        )
    build._destination(_args("--work", str(tmp_path), "--language-adapter", "x", "--serve", "ruby"), metadata, manifest)
    assert metadata["serves"] == ["ruby"]


def test_an_unknown_training_language_is_refused() -> None:
    with pytest.raises(SystemExit, match="not doppel languages"):
        build._train_languages(_args("--train-languages", "python,klingon"))


def test_validation_split_packages_are_never_trained_on_and_evaluate_ranks_them_on_request(tmp_path: Path) -> None:
    packages = build.load_packages()
    train_key = next(p.key for p in packages if p.split == "train")
    validation_key = next(p.key for p in packages if p.split == "validation")
    _mine(tmp_path, train_key, "python", ["t1"])
    _mine(tmp_path, validation_key, "python", ["v1", "v2"])

    trained, _, _ = build.gather(tmp_path, "train")
    ranked, _, _ = build.gather(tmp_path, _args("--projects", "validation").projects)  # type: ignore[attr-defined]

    assert [fn.name for fn in trained] == ["t1"]
    assert [fn.name for fn in ranked] == ["v1", "v2"]
    assert _args().projects == "heldout"  # type: ignore[attr-defined]
    names = {p.registry_name for p in packages if p.split == "validation"}
    assert not names & {p.registry_name for p in packages if p.split != "validation"}


def _lora_adapter(directory: Path) -> dict[str, object]:
    import torch
    from safetensors.torch import save_file

    prefix = "base_model.model.encoder.layer.0.attention.self.query"
    tensors = {f"{prefix}.lora_A.weight": torch.full((2, 4), 0.5), f"{prefix}.lora_B.weight": torch.full((4, 2), 0.25)}
    directory.mkdir(parents=True)
    save_file(tensors, str(directory / "adapter_model.safetensors"))
    for name in ("adapter_config.json", "training_config.json"):
        (directory / name).write_text(json.dumps({"r": 2}), encoding="utf-8")
    (directory / "doppel.json").write_text(json.dumps({"language": "code", "version": "pinned"}), encoding="utf-8")
    return tensors


def test_scaling_an_adapters_change_multiplies_only_its_lora_b_matrices_and_gives_it_a_new_version(
    tmp_path: Path,
) -> None:
    from safetensors.torch import load_file

    from embedding.adapters import adapter_file_version

    original = _lora_adapter(tmp_path / "src")
    build.scale_adapter_delta(tmp_path / "src", tmp_path / "once", 2.0)
    metadata = build.scale_adapter_delta(tmp_path / "once", tmp_path / "twice", 0.75)

    scaled = load_file(str(tmp_path / "twice" / "adapter_model.safetensors"))
    for name, tensor in original.items():  # type: ignore[union-attr]
        factor = 1.5 if ".lora_B." in name else 1.0
        assert scaled[name].tolist() == (tensor * factor).tolist()  # type: ignore[operator]
    assert metadata["delta_scale"] == 1.5
    assert adapter_file_version(tmp_path / "twice", metadata) != adapter_file_version(tmp_path / "src", {})
    assert json.loads((tmp_path / "twice" / "adapter_config.json").read_text(encoding="utf-8")) == {"r": 2}


def test_a_scale_that_is_not_positive_or_would_overwrite_its_source_is_refused(tmp_path: Path) -> None:
    _lora_adapter(tmp_path / "src")

    with pytest.raises(SystemExit, match="positive"):
        build.scale_adapter_delta(tmp_path / "src", tmp_path / "out", 0.0)
    with pytest.raises(SystemExit, match="replace its source"):
        build.scale_adapter_delta(tmp_path / "src", tmp_path / "src", 1.5)
    assert (tmp_path / "src" / "adapter_model.safetensors").exists()


def test_the_evaluation_breaks_each_languages_mrr_down_by_project() -> None:
    import numpy as np

    queries = [
        TrainingPair(kind="text2code", source="docstring", language="python", path=f"{key}/m.py",
                     function_key=f"{key}/m.py::f{i}", query="q", code="c", body_hash=str(i))
        for i, key in enumerate(["pypi-a", "pypi-b", "pypi-a"])
    ]  # fmt: skip
    scores = {"base": np.array([0.5, 1.0, 0.25]), "adapter": np.array([1.0, 0.5, 0.5])}

    cells = build._by_project(queries, scores)

    assert cells == {
        "pypi-a": {"queries": 2, "base_mrr": 0.375, "adapter_mrr": 0.75, "relative": 1.0},
        "pypi-b": {"queries": 1, "base_mrr": 1.0, "adapter_mrr": 0.5, "relative": -0.5},
    }
