"""LoraSpec and TrainConfig: the paper's defaults, field-naming validation, JSON round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedding.training.config import LoraSpec, TrainConfig, field_help, load_training_config, save_training_config


def test_lora_defaults_are_the_papers() -> None:
    spec = LoraSpec()
    assert (spec.r, spec.alpha, spec.dropout, spec.target_modules) == (64, 128, 0.1, None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"r": 0}, "LoraSpec.r"),
        ({"alpha": -1}, "LoraSpec.alpha"),
        ({"dropout": 1.0}, "LoraSpec.dropout"),
        ({"target_modules": "query"}, "LoraSpec.target_modules"),
    ],
)
def test_lora_spec_names_the_bad_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LoraSpec(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"batch_size": 0}, "batch_size"),
        ({"validation_fraction": 0.6, "test_fraction": 0.5}, "validation_fraction"),
        ({"max_steps": 0}, "max_steps"),
        ({"related_precision": 0.99, "target_precision": 0.9}, "related_precision"),
        ({"device": "tpu"}, "device"),
        ({"min_code_chars": 100, "max_code_chars": 50}, "max_code_chars"),
        ({"synthetic_ratio": "all"}, "synthetic_ratio"),
    ],
)
def test_train_config_names_the_bad_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**kwargs)


def test_every_field_has_help_text() -> None:
    for cls in (LoraSpec, TrainConfig):
        assert all(text for text in field_help(cls).values()), cls.__name__


def test_configs_round_trip_through_json(tmp_path: Path) -> None:
    lora = LoraSpec(r=8, alpha=16, dropout=0.0, target_modules=("query", "value"))
    config = TrainConfig(temperature=0.1, max_steps=7, seed=3)
    save_training_config(tmp_path, lora, config)
    assert load_training_config(tmp_path) == (lora, config)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        TrainConfig.from_dict({"temprature": 0.1})


def test_peft_config_targets_the_family_projections(tmp_path: Path) -> None:
    from transformers import AutoModel

    from tests.tiny_models import build_tiny_roberta

    model = AutoModel.from_pretrained(str(build_tiny_roberta(tmp_path / "m")))
    peft_config = LoraSpec().to_peft(model)
    assert set(peft_config.target_modules) == {"query", "value"}
    assert (peft_config.r, peft_config.lora_alpha) == (64, 128)


def test_from_settings_takes_the_train_settings_and_flags_win() -> None:
    from core.settings import Settings

    settings = Settings(
        train_temperature=0.1, train_batch_size=8, train_max_steps=7, train_min_pairs_per_language=50,
        train_promotion_margin=0.02, train_target_precision=0.6, lexical_weight=0.5, max_length=64, device="cpu",
    )  # fmt: skip
    config = TrainConfig.from_settings(settings, batch_size=16, max_steps=None)
    assert (config.temperature, config.batch_size, config.max_steps, config.min_pairs_per_language) == (0.1, 16, 7, 50)
    assert (config.promotion_margin, config.target_precision, config.lexical_weight) == (0.02, 0.6, 0.5)
    assert (config.max_length, config.device) == (64, "cpu")
    assert config.related_precision == 0.6  # never above the target
