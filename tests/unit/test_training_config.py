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


def test_the_encoder_builds_its_adapter_from_the_lora_spec_alone(tmp_path: Path) -> None:
    """One recipe: ``Encoder.create_adapter`` takes a ``LoraSpec`` (no defaults of its own)."""
    from embedding.encoder import Encoder
    from tests.tiny_models import build_tiny_roberta

    encoder = Encoder(str(build_tiny_roberta(tmp_path / "m")), device="cpu", max_length=16)
    encoder.create_adapter("python", LoraSpec(r=4, alpha=12, dropout=0.2))
    made = encoder.model.peft_config["python"]
    assert (made.r, made.lora_alpha, made.lora_dropout, set(made.target_modules)) == (4, 12, 0.2, {"query", "value"})
    encoder.create_adapter("go")  # no spec: LoraSpec's defaults, the paper's rank 64
    default = LoraSpec()
    assert (encoder.model.peft_config["go"].r, encoder.model.peft_config["go"].lora_alpha) == (default.r, default.alpha)


def test_unset_train_settings_take_the_train_configs_defaults() -> None:
    """One source: ``Settings.train_*`` unset means the TrainConfig field's default."""
    from core.settings import Settings
    from embedding.training.config import SETTINGS, field_default

    settings = Settings()
    assert all(getattr(settings, key) is None for key in SETTINGS)
    config = TrainConfig.from_settings(settings)
    for name in SETTINGS.values():
        assert getattr(config, name) == field_default(TrainConfig, name)
    assert set(SETTINGS) == {name for name in Settings.model_fields if name.startswith("train_")}


def test_cli_help_is_the_config_fields_help_and_defaults() -> None:
    import argparse

    from cli.train import register
    from embedding.training.config import field_help

    parser = argparse.ArgumentParser(prog="doppel")
    register(parser.add_subparsers(dest="command"))
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    helps = {action.dest: action.help or "" for action in train._actions}
    assert helps["lora_r"].startswith(field_help(LoraSpec)["r"]) and "LoraSpec.r = 64" in helps["lora_r"]
    assert helps["learning_rate"].startswith(field_help(TrainConfig)["learning_rate"])
    assert (
        "DOPPEL_TRAIN_MIN_PAIRS_PER_LANGUAGE when set, else TrainConfig.min_pairs_per_language = 2000"
        in helps["min_pairs"]
    )
    assert all(helps[dest] for dest in helps if dest != "help")  # every option has help text


def test_retired_calibration_field_of_stored_configs_is_dropped() -> None:
    stored = {**TrainConfig().to_dict(), "negatives_per_positive": 5}
    stored.pop("calibration_neighbours")
    assert TrainConfig.from_dict(stored) == TrainConfig()
    with pytest.raises(ValueError, match="max_split_fraction"):
        TrainConfig(max_split_fraction=0.6)
