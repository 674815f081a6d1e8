"""LoRA adapters on the encoder: save/load round trips, per-language switching, fallbacks, safety."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import AdapterError
from core.settings import Settings
from embedding.adapters import lora_target_modules
from embedding.cache import EmbeddingCache
from embedding.encoder import Encoder, function_text
from embedding.training.config import LoraSpec
from tests.factories import make_function
from tests.tiny_models import TINY_CORPUS, build_tiny_roberta, train_tiny_adapter

pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")

SAMPLE = "def area(width, height):\n    return width * height\n"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("models") / "tiny-roberta")


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Adapters for python, go and shared trained once, saved, with the vectors the trainer saw."""
    root = tmp_path_factory.mktemp("adapters")
    trainer = Encoder(str(tiny_model), device="cpu")
    expected: dict[str, np.ndarray] = {"base": trainer.embed_texts([SAMPLE])[0]}
    for seed, name in enumerate(("python", "go", "shared"), start=1):
        train_tiny_adapter(trainer, name, seed=seed)
        expected[name] = trainer.embed_texts([SAMPLE], adapter=name)[0]
        trainer.save_adapter(name, root / name, {"thresholds": {"duplicate": 0.9, "related": 0.8}})
    return root, expected


def _copy_adapters(trained_root: Path, target: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        shutil.copytree(trained_root / name, target / name)
    return target


def test_lora_targets_query_and_value_on_roberta_plain_or_wrapped(tiny_model: Path) -> None:
    encoder = Encoder(str(tiny_model), device="cpu")
    assert lora_target_modules(encoder.model) == ["query", "value"]
    encoder.create_adapter("python")
    assert lora_target_modules(encoder.model) == ["query", "value"]


def test_lora_targets_of_an_unknown_family_are_its_attention_linears() -> None:
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.ModuleDict({"to_q": torch.nn.Linear(4, 4), "to_v": torch.nn.Linear(4, 4)})
            self.mlp = torch.nn.Linear(4, 4)

    assert lora_target_modules(Block()) == ["to_q", "to_v"]
    with pytest.raises(AdapterError, match="target_modules"):
        lora_target_modules(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_training_moves_the_vectors_and_a_reloaded_adapter_reproduces_them(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]]
) -> None:
    root, expected = trained
    assert float(expected["python"] @ expected["base"]) < 0.999  # the adapter changed the space

    fresh = Encoder(str(tiny_model), device="cpu")
    fresh.load_adapter("python", root / "python")

    np.testing.assert_allclose(fresh.embed_texts([SAMPLE], adapter="python")[0], expected["python"], atol=1e-5)
    np.testing.assert_allclose(fresh.embed_texts([SAMPLE])[0], expected["base"], atol=1e-5)
    assert sorted(p.name for p in (root / "python").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "doppel.json",
    ]


def test_two_languages_loaded_together_give_different_spaces(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]]
) -> None:
    root, expected = trained
    encoder = Encoder(str(tiny_model), device="cpu", batch_size=2)
    assert encoder.load_adapters_from(root) == ["go", "python", "shared"]

    python = encoder.embed_query(SAMPLE, language="python")
    go = encoder.embed_query(SAMPLE, language="go")

    assert float(python @ go) < 0.999
    np.testing.assert_allclose(python, expected["python"], atol=1e-5)
    np.testing.assert_allclose(go, expected["go"], atol=1e-5)


def test_mixed_languages_each_row_equals_the_function_embedded_alone(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, _ = trained
    encoder = Encoder(str(tiny_model), device="cpu", batch_size=2)
    encoder.load_adapters_from(_copy_adapters(root, tmp_path, ("python", "go")))
    functions = [
        make_function(TINY_CORPUS[0], language="python"),
        make_function(TINY_CORPUS[2], language="go", path="a.go"),
        make_function(TINY_CORPUS[4], language="javascript", path="a.js"),  # no adapter: the base
        make_function(TINY_CORPUS[1], language="python", docstring="Read a config."),
        make_function(TINY_CORPUS[3], language="go", path="b.go"),
    ]

    together = encoder.embed_functions(functions)

    for row, fn in enumerate(functions):
        alone = encoder.embed_texts([function_text(fn)], adapter=encoder.adapter_for(fn.language))[0]
        np.testing.assert_allclose(together[row], alone, atol=1e-5)
    assert float(together[0] @ encoder.embed_texts([function_text(functions[0])])[0]) < 0.999


def test_fallback_is_language_then_shared_then_base(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, expected = trained
    encoder = Encoder(str(tiny_model), device="cpu")
    assert encoder.adapter_for("python") is None

    encoder.load_adapter("python", root / "python")
    assert (encoder.adapter_for("python"), encoder.adapter_for("rust")) == ("python", None)
    assert encoder.adapter_version("rust") == "tiny-roberta:base"

    encoder.load_adapter("shared", root / "shared")
    assert (encoder.adapter_for("python"), encoder.adapter_for("rust"), encoder.adapter_for(None)) == (
        "python",
        "shared",
        "shared",
    )
    np.testing.assert_allclose(encoder.embed_query(SAMPLE, language="rust"), expected["shared"], atol=1e-5)


def test_version_is_the_weights_hash_unless_metadata_names_one(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, _ = trained
    adapters = _copy_adapters(root, tmp_path, ("python", "go"))
    meta = json.loads((adapters / "go" / "doppel.json").read_text())
    (adapters / "go" / "doppel.json").write_text(json.dumps({**meta, "version": "2024-06-01.3"}))
    encoder = Encoder(str(tiny_model), device="cpu")
    encoder.load_adapters_from(adapters)

    weights_hash = hashlib.sha256((adapters / "python" / "adapter_model.safetensors").read_bytes()).hexdigest()
    assert encoder.adapter_version("python") == f"tiny-roberta:python@{weights_hash[:8]}"
    assert encoder.adapter_version("go") == "tiny-roberta:go@2024-06-01.3"


def test_adapter_metadata_is_the_doppel_json(tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = trained
    encoder = Encoder(str(tiny_model), device="cpu")
    encoder.load_adapter("python", root / "python")

    metadata = encoder.adapter_metadata(encoder.adapter_for("python"))
    assert metadata["thresholds"] == {"duplicate": 0.9, "related": 0.8}
    assert metadata["base_model"] == encoder.base_model_id
    assert encoder.adapter_metadata(None) == {}


def test_pickled_adapter_is_refused(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, _ = trained
    pickled = tmp_path / "python"
    pickled.mkdir()
    shutil.copy(root / "python" / "adapter_config.json", pickled)
    (pickled / "adapter_model.bin").write_bytes(b"not loaded, ever")
    encoder = Encoder(str(tiny_model), device="cpu")

    with pytest.raises(AdapterError, match=r"pickle.*adapter_model\.bin"):
        encoder.load_adapter("python", pickled)
    assert encoder.adapters == []


def test_missing_or_foreign_adapters_are_refused(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, _ = trained
    encoder = Encoder(str(tiny_model), device="cpu")
    with pytest.raises(AdapterError, match="does not exist"):
        encoder.load_adapter("python", tmp_path / "nowhere")
    with pytest.raises(AdapterError, match="no adapter_config.json"):
        encoder.load_adapter("python", tmp_path)

    foreign = _copy_adapters(root, tmp_path / "foreign", ("python",)) / "python"
    (foreign / "doppel.json").write_text(json.dumps({"base_model": "microsoft/codebert-base"}))
    with pytest.raises(AdapterError, match="codebert-base"):
        encoder.load_adapter("python", foreign)


def test_reloading_an_adapter_replaces_it(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, expected = trained
    encoder = Encoder(str(tiny_model), device="cpu")
    encoder.load_adapter("python", root / "python")
    encoder.load_adapter("python", root / "go")  # a retrained adapter arriving under the same name

    assert encoder.adapters == ["python"]
    np.testing.assert_allclose(encoder.embed_query(SAMPLE, language="python"), expected["go"], atol=1e-5)


def test_cache_keeps_adapter_spaces_apart(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, expected = trained
    encoder = Encoder(str(tiny_model), device="cpu", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    encoder.load_adapters_from(_copy_adapters(root, tmp_path / "a", ("python", "go")))
    encoder.embed_texts([SAMPLE], adapter="python")
    go = encoder.embed_texts([SAMPLE], adapter="go")
    base = encoder.embed_texts([SAMPLE])

    assert (encoder.stats.embedded, encoder.stats.cache_hits) == (3, 0)
    np.testing.assert_allclose(go[0], expected["go"], atol=1e-5)
    np.testing.assert_allclose(base[0], expected["base"], atol=1e-5)


def test_an_adapter_in_training_is_never_cached(tiny_model: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    encoder = Encoder(str(tiny_model), device="cpu", cache=cache)
    train_tiny_adapter(encoder, "python", steps=1)
    encoder.embed_texts([SAMPLE], adapter="python")

    assert cache.count() == 0
    assert encoder.adapter_version("python") == "tiny-roberta:python@unsaved"


def test_from_settings_loads_adapters_and_caches_under_data_dir(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    root, expected = trained
    settings = Settings(
        data_dir=tmp_path / "data",
        base_model=str(tiny_model),
        adapter_dir=_copy_adapters(root, tmp_path / "adapters", ("python",)),
        device="cpu",
        max_length=128,
        batch_size=4,
    )
    encoder = Encoder.from_settings(settings)

    assert (encoder.adapters, encoder.max_length, encoder.batch_size) == (["python"], 128, 4)
    np.testing.assert_allclose(encoder.embed_query(SAMPLE, language="python"), expected["python"], atol=1e-5)
    assert encoder.cache is not None
    assert encoder.cache.path == tmp_path / "data" / "cache" / "embeddings.sqlite"
    assert encoder.cache.count() == 1


def test_an_adapter_can_continue_from_a_loaded_one_of_the_same_shape(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]]
) -> None:
    root, expected = trained
    encoder = Encoder(str(tiny_model), device="cpu")
    encoder.load_adapter("code-start", root / "python")

    encoder.create_adapter("code", LoraSpec(r=4, alpha=8), start_from="code-start")  # train_tiny_adapter's shape
    encoder.model.eval()
    with torch.no_grad():
        start = encoder.encode_tensor([SAMPLE], adapter="code")[0].numpy()

    np.testing.assert_allclose(start, expected["python"], atol=1e-5)  # not the base's vector
    assert encoder.start_point("code") == "code-start"


def test_continuing_from_an_adapter_that_is_absent_or_of_another_shape_is_an_error(
    tiny_model: Path, trained: tuple[Path, dict[str, np.ndarray]]
) -> None:
    encoder = Encoder(str(tiny_model), device="cpu")
    with pytest.raises(AdapterError, match="load it under another name"):
        encoder.create_adapter("code", LoraSpec(r=4, alpha=8), start_from="code-start")
    encoder.load_adapter("code-start", trained[0] / "python")
    with pytest.raises(AdapterError, match="shapes differ"):
        encoder.create_adapter("code", LoraSpec(r=2, alpha=4), start_from="code-start")
    assert encoder.adapters == ["code-start"]
