"""The code adapter shipped with doppel (embedding/data/code_adapter), on the real default base.

It is used wherever no repository adapter applies, names its own vector space, can be turned off
(DOPPEL_SHIPPED_ADAPTER=false gives the base's vectors), and a repository's training starts from
its weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.settings import Settings
from embedding.adapters import (
    CODE_ADAPTER,
    SHIPPED_ADAPTER_DIR,
    SHIPPED_LANGUAGES_DIR,
    read_metadata,
    shipped_language_adapter_name,
)
from embedding.encoder import Encoder
from embedding.training.config import LoraSpec

CODE = "def total(prices):\n    result = 0\n    for p in prices:\n        result += p\n    return result\n"

pytestmark = pytest.mark.skipif(
    not (SHIPPED_ADAPTER_DIR / "adapter_config.json").is_file(), reason="no shipped adapter in this checkout"
)


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path, embedding_cache=False, device="cpu", **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return Encoder.from_settings(_settings(tmp_path_factory.mktemp("on")))


def test_the_shipped_adapter_is_small_safetensors_with_a_verdict_for_the_default_base() -> None:
    metadata = read_metadata(SHIPPED_ADAPTER_DIR)
    weights = SHIPPED_ADAPTER_DIR / "adapter_model.safetensors"

    assert weights.stat().st_size < 5_000_000
    assert not (SHIPPED_ADAPTER_DIR / "adapter_model.bin").exists()
    assert metadata["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert metadata["verdict"]["source"] == f"adapter:{CODE_ADAPTER}"


def test_a_language_without_a_repository_adapter_is_embedded_with_the_shipped_adapter(shipped: Encoder) -> None:
    languages = SHIPPED_ADAPTER_DIR / SHIPPED_LANGUAGES_DIR
    served = {
        lang: shipped_language_adapter_name(child.name)
        for child in (sorted(languages.iterdir()) if languages.is_dir() else [])
        for lang in read_metadata(child)["serves"]
    }
    assert shipped.adapters == [CODE_ADAPTER, *sorted(set(served.values()))]
    for language in ("go", "ruby", "python", None):
        name = served.get(language or "", CODE_ADAPTER)
        assert shipped.adapter_for(language) == name
        version = shipped.adapter_version(language)
        assert version.startswith(f"minilm-l6:{name}@") and version != "minilm-l6:base"
        # The review applies the verdict fitted for the adapter's vectors, not the base's default.
        assert shipped.adapter_metadata(name)["verdict"]["source"] == "adapter:code"


def test_turning_the_setting_off_gives_the_base_models_vectors(shipped: Encoder, tmp_path: Path) -> None:
    off = Encoder.from_settings(_settings(tmp_path, shipped_adapter=False))
    bare = Encoder("default", device="cpu")

    assert off.adapters == [] and off.adapter_version("python") == "minilm-l6:base"
    on_vector = shipped.embed_query(CODE, language="python")
    np.testing.assert_allclose(off.embed_query(CODE, language="python"), bare.embed_texts([CODE])[0], atol=1e-6)
    assert float(on_vector @ bare.embed_texts([CODE])[0]) < 0.9999  # the adapter moves the vector


def test_a_repository_adapter_wins_for_its_language_only(tmp_path: Path) -> None:
    encoder = Encoder.from_settings(_settings(tmp_path))
    encoder.create_adapter("python", LoraSpec())
    saved = encoder.save_adapter("python", tmp_path / "python")
    encoder.load_adapter("python", saved)

    assert encoder.adapter_for("python") == "python"
    assert encoder.adapter_for("go") == CODE_ADAPTER
    assert encoder.adapter_version("python") != encoder.adapter_version("go")


def test_repository_training_starts_from_the_shipped_adapters_weights(tmp_path: Path) -> None:
    encoder = Encoder.from_settings(_settings(tmp_path))
    code_version = encoder.adapter_version("go")

    params = encoder.create_adapter("python", LoraSpec())
    named = dict(encoder.model.named_parameters())
    lora_b = [name for name in named if ".python." in name and "lora_B" in name]

    assert params and lora_b
    for name in lora_b:  # a fresh LoRA's B is all zeros; these are the shipped adapter's
        assert torch.count_nonzero(named[name]) > 0
        assert torch.equal(named[name], named[name.replace(".python.", f".{CODE_ADAPTER}.")])
    encoder.model.eval()
    with torch.no_grad():
        start = encoder.encode_tensor([CODE], adapter="python")[0].numpy()
    np.testing.assert_allclose(start, encoder.embed_texts([CODE], adapter=CODE_ADAPTER)[0], atol=1e-5)
    saved = encoder.save_adapter("python", tmp_path / "python")
    assert json.loads((saved / "doppel.json").read_text())["started_from"] == code_version


def test_an_adapter_of_another_shape_starts_fresh(tmp_path: Path) -> None:
    encoder = Encoder.from_settings(_settings(tmp_path))
    encoder.create_adapter("python", LoraSpec(r=8, alpha=16))
    named = dict(encoder.model.named_parameters())

    assert all(torch.count_nonzero(p) == 0 for n, p in named.items() if ".python." in n and "lora_B" in n)


# --- shipped language adapters (embedding/data/code_adapter/languages/<name>/) ------------------
def _shipped_with_language_adapter(tmp_path: Path, serves: object) -> Path:
    """A copy of the shipped adapter with a language adapter beside it: the shipped weights with
    every LoRA B matrix scaled, so that its vectors differ from the general one's."""
    import shutil

    from safetensors.torch import load_file, save_file

    shipped = tmp_path / "code_adapter"
    shutil.copytree(SHIPPED_ADAPTER_DIR, shipped, ignore=shutil.ignore_patterns("languages"))
    language_dir = shipped / "languages" / "dyn"
    language_dir.mkdir(parents=True)
    for name in ("adapter_config.json", "training_config.json"):
        shutil.copy2(SHIPPED_ADAPTER_DIR / name, language_dir / name)
    weights = load_file(str(SHIPPED_ADAPTER_DIR / "adapter_model.safetensors"))
    scaled = {k: (v * 1.5 if "lora_B" in k else v).contiguous() for k, v in weights.items()}
    save_file(scaled, str(language_dir / "adapter_model.safetensors"), metadata={"format": "pt"})
    metadata = read_metadata(SHIPPED_ADAPTER_DIR) | {"serves": serves}
    (language_dir / "doppel.json").write_text(json.dumps(metadata), encoding="utf-8")
    return shipped


def test_a_shipped_language_adapter_serves_its_languages_and_the_general_one_the_rest(tmp_path: Path) -> None:
    encoder = Encoder("default", device="cpu")
    assert encoder.load_shipped_adapter(_shipped_with_language_adapter(tmp_path, ["ruby", "php"]))

    assert encoder.adapter_for("ruby") == encoder.adapter_for("php") == "code-dyn"
    assert encoder.adapter_for("go") == encoder.adapter_for(None) == CODE_ADAPTER
    assert encoder.adapter_version("ruby").startswith("minilm-l6:code-dyn@")
    assert encoder.adapter_version("ruby") != encoder.adapter_version("go")
    ruby = encoder.embed_query(CODE, language="ruby")
    assert float(ruby @ encoder.embed_query(CODE, language="go")) < 0.9999  # its own weights
    # A repository's adapter still wins for its language, and the reference it is judged against
    # (and starts from) is the shipped adapter serving that language.
    assert encoder.fallback_adapter("ruby") == "code-dyn" and encoder.fallback_adapter("shared") == CODE_ADAPTER


def test_a_repository_adapter_starts_from_the_shipped_adapter_of_its_language(tmp_path: Path) -> None:
    encoder = Encoder("default", device="cpu")
    encoder.load_shipped_adapter(_shipped_with_language_adapter(tmp_path, ["ruby"]))
    encoder.create_adapter("ruby", LoraSpec())
    encoder.create_adapter("go", LoraSpec())
    named = dict(encoder.model.named_parameters())
    lora_b = [name for name in named if ".ruby." in name and "lora_B" in name]

    assert lora_b
    for name in lora_b:
        assert torch.equal(named[name], named[name.replace(".ruby.", ".code-dyn.")])
        go = named[name.replace(".ruby.", ".go.")]
        assert torch.equal(go, named[name.replace(".ruby.", f".{CODE_ADAPTER}.")])
        assert not torch.equal(go, named[name])


def test_a_shipped_language_adapter_must_name_doppel_languages(tmp_path: Path) -> None:
    from core.errors import AdapterError

    for attempt, served in enumerate(([], "ruby", ["klingon"])):
        with pytest.raises(AdapterError, match="'serves' must list doppel languages"):
            Encoder("default", device="cpu").load_shipped_adapter(
                _shipped_with_language_adapter(tmp_path / str(attempt), served)
            )
