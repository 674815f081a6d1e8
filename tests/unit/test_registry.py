"""The adapter registry, the promotion gate, save → load round trips and the retrain service."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.domain import RepoRef
from core.errors import AdapterError
from embedding.evaluation import paired_bootstrap
from embedding.generation import Generations, collection_for
from embedding.registry import POINTER_FILE, AdapterRegistry, AlarmCheck, GateDecision, promotion_gate
from embedding.training.config import LoraSpec, TrainConfig, load_training_config
from workers.services.retrain import AdapterOutcome, Promoter, RetrainService

REPO = RepoRef("acme/widgets")


def _staged(registry: AdapterRegistry, language: str, payload: bytes) -> Path:
    staged = registry.staging_dir(REPO, language)
    (staged / "adapter_model.safetensors").write_bytes(payload)
    (staged / "adapter_config.json").write_text("{}")
    (staged / "doppel.json").write_text(json.dumps({"base_model": "m"}))
    return staged


def _gain(delta: float, spread: float, n: int = 400, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, size=n)
    return paired_bootstrap(base, base + rng.normal(delta, spread, size=n), resamples=500, seed=seed)


def test_gate_promotes_only_when_the_intervals_lower_end_reaches_the_margin() -> None:
    clear = _gain(0.08, 0.05)
    assert clear.ci_low > 0.01
    decision = promotion_gate(clear, None, margin=0.01)
    assert decision.promote and "95% CI" in decision.reason
    # The same mean gain, but too noisy to tell from nothing: refused, naming the interval.
    base = np.full(120, 0.45)
    noisy = paired_bootstrap(base, base + np.tile([0.53, -0.37], 60), resamples=1000, seed=0)  # mean +0.08
    assert noisy.delta > 0.01 > noisy.ci_low
    refused = promotion_gate(noisy, None, margin=0.01)
    assert not refused.promote and "lower end does not reach the margin 0.01" in refused.reason
    # Against the current adapter too.
    assert not promotion_gate(clear, _gain(0.0, 0.05), margin=0.01).promote
    assert promotion_gate(clear, _gain(0.05, 0.02), margin=0.01).promote
    # No validation queries: nothing to judge on.
    empty = paired_bootstrap([], [])
    assert not promotion_gate(empty, None, margin=0.0).promote


def test_gate_refuses_an_adapter_that_flags_more_genuinely_new_functions_than_the_base() -> None:
    clear = _gain(0.08, 0.05)
    looser = promotion_gate(clear, None, margin=0.01, alarms=AlarmCheck(candidate=2, base=0, functions=30))
    assert not looser.promote and "flags 2 of 30 genuinely new validation functions" in looser.reason
    same = promotion_gate(clear, None, margin=0.01, alarms=AlarmCheck(candidate=1, base=1, functions=30))
    assert same.promote and "false alarms on 30 genuinely new functions 1 (base model 1)" in same.reason
    assert AlarmCheck(1, 0, 4).to_dict() == {
        "candidate": 1, "base": 0, "functions": 4, "candidate_rate": 0.25, "base_rate": 0.0,
    }  # fmt: skip


def test_register_versions_and_switch_the_pointer(tmp_path: Path) -> None:
    registry = AdapterRegistry(tmp_path)
    first = registry.register(REPO, "python", _staged(registry, "python", b"one"), {"metrics": {"x": 1}})
    second = registry.register(REPO, "python", _staged(registry, "python", b"two"), {})
    assert first.version.startswith("v0001-") and second.version.startswith("v0002-")
    assert [r.version for r in registry.versions(REPO, "python")] == [first.version, second.version]
    assert first.metadata["metrics"] == {"x": 1} and first.metadata["base_model"] == "m"
    assert first.status == "candidate" and registry.current(REPO, "python") is None

    registry.switch(REPO, {"python": first.version}, "coll_a")
    assert registry.current(REPO, "python").version == first.version  # type: ignore[union-attr]
    registry.switch(REPO, {"python": second.version}, "coll_b")
    pointer = registry.pointer(REPO)
    assert (pointer.adapters, pointer.collection) == ({"python": second.version}, "coll_b")
    assert registry.record(REPO, "python", first.version).status == "retired"
    assert registry.record(REPO, "python", second.version).status == "promoted"
    generation = Generations(registry).current(REPO)
    assert generation.paths == {"python": registry.language_dir(REPO, "python") / second.version}
    assert generation.collection == "coll_b" and generation.collection_of(RepoRef("acme/other")) != "coll_b"
    assert [p.name for p in registry.repo_dir(REPO).iterdir() if p.name.startswith(f".{POINTER_FILE}")] == []


def test_switch_refuses_unknown_versions_and_bad_names(tmp_path: Path) -> None:
    registry = AdapterRegistry(tmp_path)
    with pytest.raises(AdapterError):
        registry.switch(REPO, {"python": "v0009-deadbeef"}, None)
    with pytest.raises(AdapterError):
        registry.language_dir(REPO, "../etc")


class RecordingReindexer:
    def __init__(self, registry: AdapterRegistry) -> None:
        self.registry = registry
        self.calls: list[tuple[str, str]] = []

    def reindex(self, repo: RepoRef, adapters: Mapping[str, Path], collection: str) -> None:
        assert all(path.is_dir() for path in adapters.values())
        # Search must not have switched yet while the new collection is being built.
        assert self.registry.pointer(repo).collection != collection
        self.calls.append(("reindex", collection))

    def drop(self, collection: str) -> None:
        self.calls.append(("drop", collection))


def test_promotion_reindexes_then_switches_then_drops_the_old_collection(tmp_path: Path) -> None:
    registry = AdapterRegistry(tmp_path)
    old = registry.register(REPO, "python", _staged(registry, "python", b"old"), {})
    registry.switch(REPO, {"python": old.version}, "old_collection")
    new = registry.register(REPO, "python", _staged(registry, "python", b"new"), {})
    reindexer = RecordingReindexer(registry)
    winner = AdapterOutcome(name="python", languages=["python"], decision=GateDecision(True, "better"), record=new)
    loser = AdapterOutcome(name="shared", languages=["python"], decision=GateDecision(False, "worse"), record=None)
    pointer = Promoter(registry, reindexer=reindexer).promote(REPO, [winner, loser])
    expected = collection_for(REPO, {"python": new.version})
    assert pointer is not None and pointer.collection == expected
    assert reindexer.calls == [("reindex", expected), ("drop", "old_collection")]
    assert registry.current(REPO, "python").version == new.version  # type: ignore[union-attr]


PY_FILES = {
    f"pkg/m{i}.py": (
        f'def {name}(values, limit):\n    """{doc}"""\n    out = []\n    for v in values:\n'
        f"        if v > limit + {i}:\n            out.append(v * {i + 2})\n    return out\n"
    )
    for i, (name, doc) in enumerate(
        [
            ("scale_large", "Scale the values above a limit."),
            ("pick_big", "Pick big numbers from a list."),
            ("grow_items", "Grow every item that passes the bar."),
            ("filter_high", "Keep the high values, multiplied."),
            ("boost", "Boost the numbers over the threshold."),
            ("amplify", "Amplify values that exceed the limit."),
            ("lift", "Lift the large entries of a sequence."),
            ("expand", "Expand items beyond a bound."),
        ]
    )
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import build_tiny_roberta

    return build_tiny_roberta(tmp_path_factory.mktemp("tiny"))


def test_save_then_load_round_trips(tmp_path: Path, tiny_model: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.pairs import TrainingPair
    from embedding.training.trainer import save_trained_adapter, train_adapter

    encoder = Encoder(str(tiny_model), device="cpu", max_length=32)
    pairs = [
        TrainingPair(
            "text2code", "docstring", "python", f"{i}.py", f"{i}.py::f", f"q {i}", f"def f{i}(): return {i}", f"h{i}"
        )
        for i in range(4)
    ]
    lora, config = LoraSpec(r=4, alpha=8), TrainConfig(batch_size=4, max_steps=2, learning_rate=1e-2)
    train_adapter(encoder, "python", pairs, config, lora)
    path = save_trained_adapter(
        encoder, "python", tmp_path / "python", lora, config, {"thresholds": {"duplicate": 0.9, "related": 0.8}}
    )
    texts = ["def g(x): return x", "read a file"]
    trained = encoder.embed_texts(texts, adapter="python")

    fresh = Encoder(str(tiny_model), device="cpu", max_length=32)
    fresh.load_adapter("python", path)
    np.testing.assert_allclose(fresh.embed_texts(texts, adapter="python"), trained, atol=1e-5)
    assert not np.allclose(fresh.embed_texts(texts), trained, atol=1e-5)
    assert fresh.adapter_metadata("python")["thresholds"] == {"duplicate": 0.9, "related": 0.8}
    assert load_training_config(path) == (lora, config)


def test_retrain_service_keeps_a_rejected_adapter_with_its_metrics(tmp_path: Path, tiny_model: Path) -> None:
    from embedding.encoder import Encoder

    root = tmp_path / "repo"
    for rel, text in PY_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    registry = AdapterRegistry(tmp_path / "adapters")
    reindexer = RecordingReindexer(registry)
    config = TrainConfig(
        min_pairs_per_language=1, max_steps=2, batch_size=4, min_code_chars=10, promotion_margin=1.0,
        validation_fraction=0.3, test_fraction=0.3, seed=5, bootstrap_resamples=200,
    )  # fmt: skip
    service = RetrainService(
        config, lora=LoraSpec(r=4, alpha=8), encoder_factory=lambda: Encoder(str(tiny_model), device="cpu", max_length=32),
        registry=registry, reindexer=reindexer,
    )  # fmt: skip
    report = service.run(root, REPO)
    (outcome,) = report.outcomes
    assert outcome.name == "python" and outcome.train is not None and outcome.train.steps == 2
    assert outcome.decision is not None and not outcome.decision.promote
    record = registry.record(REPO, "python", outcome.record.version)  # type: ignore[union-attr]
    assert record.status == "rejected" and "does not reach the margin" in record.metadata["gate"]
    assert set(record.metadata["metrics"]["validation"]) >= {"base", "adapter", "base_mean_mrr", "adapter_mean_mrr"}
    assert record.metadata["data"]["train"] > 0
    # Too few copies in this tiny repository to refit a verdict: none is stored, so reviews keep the
    # default verdict, and no thresholds calibrated against random pairs are stored for them either.
    assert record.metadata["verdict"] is None and "thresholds" not in record.metadata
    assert outcome.verdict is None
    assert set(outcome.calibration_table) == {"base", "adapter"}
    assert set(outcome.calibration_table["adapter"]) == {"cosine", "combined"}
    assert report.pointer is None and reindexer.calls == [] and registry.pointer(REPO).adapters == {}
    data = report.to_dict()
    assert json.dumps(data)  # JSON-friendly for the task result
    # Every MRR delta comes with its interval; small splits say how small they are.
    (adapter,) = data["adapters"]
    for split in ("validation", "test"):
        interval = adapter["intervals"][split]["vs_base"]
        assert interval["ci_low"] <= interval["delta"] <= interval["ci_high"] and interval["confidence"] == 0.95
        assert set(adapter["intervals"][split]["by_language"]["python"]) <= {"text2code", "code2code"}
    assert record.metadata["intervals"]["validation"]["vs_base"] == adapter["intervals"]["validation"]["vs_base"]
    assert any("only" in note and "text→code queries for python" in note for note in adapter["notes"])
    assert set(adapter["false_alarms"]) == {"validation", "test"}


_GATE_LORA = LoraSpec(r=4, alpha=8)


def _tiny_shipped(tmp_path: Path, tiny_model: Path, *, python_adapter: bool) -> Path:
    """A shipped code adapter for the tiny model (briefly trained, so it differs from the base)
    and, with ``python_adapter``, a language adapter ``languages/py`` serving Python beside it."""
    from dataclasses import replace

    from embedding.adapters import CODE_ADAPTER
    from embedding.encoder import Encoder
    from embedding.training.pairs import TrainingPair
    from embedding.training.trainer import save_trained_adapter, train_adapter

    maker = Encoder(str(tiny_model), device="cpu", max_length=32)
    pairs = [
        TrainingPair("text2code", "docstring", "python", f"{i}.py", f"{i}.py::f", f"q {i}", f"def f{i}(): return {i}", f"h{i}")
        for i in range(8)
    ]  # fmt: skip
    short = TrainConfig(batch_size=4, max_steps=3, learning_rate=5e-2)
    train_adapter(maker, CODE_ADAPTER, pairs, short, _GATE_LORA)
    shipped = save_trained_adapter(maker, CODE_ADAPTER, tmp_path / "code", _GATE_LORA, TrainConfig(), {})
    if python_adapter:
        train_adapter(maker, "python", pairs[::-1], replace(short, seed=3), _GATE_LORA)
        language = shipped / "languages" / "py"
        save_trained_adapter(maker, "python", language, _GATE_LORA, TrainConfig(), {"serves": ["python"]})
    return shipped


def _recording_factory(tiny_model: Path, load: Any) -> tuple[Any, set[str | None]]:
    """An encoder factory (``load`` puts the shipped adapters on) and the set of adapters that
    anything was embedded with."""
    from embedding.encoder import Encoder

    spaces: set[str | None] = set()

    def factory() -> Encoder:
        encoder = Encoder(str(tiny_model), device="cpu", max_length=32)
        load(encoder)
        embed = encoder.embed_texts

        def recording(texts, *, adapter=None, progress=False):  # type: ignore[no-untyped-def]
            spaces.add(adapter)
            return embed(texts, adapter=adapter, progress=progress)

        encoder.embed_texts = recording  # type: ignore[method-assign]
        return encoder

    return factory, spaces


def _retrain_python_repo(tmp_path: Path, factory: Any) -> tuple[Any, Any, TrainConfig]:
    """Run RetrainService once on a small Python repository: its one outcome, the mined data and
    the config."""
    from embedding.training.mining import mine_repository
    from workers.services.retrain import resize_splits

    root = tmp_path / "repo"
    for rel, text in PY_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    config = TrainConfig(
        min_pairs_per_language=1, max_steps=2, batch_size=4, min_code_chars=10, promotion_margin=1.0,
        validation_fraction=0.3, test_fraction=0.3, seed=5, bootstrap_resamples=200,
    )  # fmt: skip
    service = RetrainService(config, lora=_GATE_LORA, encoder_factory=factory)
    mined = resize_splits(mine_repository(root, config), config)
    (outcome,) = service.run(root, REPO, mined=mined).outcomes
    return outcome, mined, config


def test_the_gate_compares_a_repository_adapter_with_the_shipped_adapter_it_started_from(
    tmp_path: Path, tiny_model: Path
) -> None:
    """With the shipped code adapter loaded, the tables' reference ("base") is that adapter, the
    one reviews use without a repository adapter, not the bare base: a repository adapter is
    promoted only when it beats what the repository already has."""
    from embedding.adapters import CODE_ADAPTER
    from workers.services.retrain import evaluate_model

    shipped = _tiny_shipped(tmp_path, tiny_model, python_adapter=False)
    with_shipped, spaces = _recording_factory(tiny_model, lambda encoder: encoder.load_adapter(CODE_ADAPTER, shipped))
    outcome, mined, config = _retrain_python_repo(tmp_path, with_shipped)

    assert spaces == {CODE_ADAPTER, "python"}  # the bare base was never asked for
    reference = with_shipped()
    assert outcome.reference == reference.adapter_version("python") != reference.version_of(None)
    expected = evaluate_model(reference, CODE_ADAPTER, mined, ["python"], "validation", config=config)
    assert outcome.validation["base"]["python"].to_dict() == expected["python"].to_dict()
    assert outcome.to_dict()["reference"] == outcome.reference


def test_the_gate_compares_a_repository_adapter_with_the_shipped_adapter_of_its_language(
    tmp_path: Path, tiny_model: Path
) -> None:
    """With a shipped language adapter serving Python beside the general one, a Python repository
    adapter is judged against (and its verdict referred to) the language adapter, the one Python
    reviews use without it; before, the gate compared it with the general adapter."""
    from embedding.adapters import CODE_ADAPTER

    shipped = _tiny_shipped(tmp_path, tiny_model, python_adapter=True)
    with_shipped, spaces = _recording_factory(tiny_model, lambda encoder: encoder.load_shipped_adapter(shipped))
    outcome, _, _ = _retrain_python_repo(tmp_path, with_shipped)

    reference = with_shipped()
    assert reference.adapter_for("python") == "code-py"
    assert outcome.reference == reference.adapter_version("python") != reference.version_of(CODE_ADAPTER)
    assert "code-py" in spaces and CODE_ADAPTER not in spaces
