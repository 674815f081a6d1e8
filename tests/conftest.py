"""Suite-wide set-up: offline model hub, GPU skipping, and a clean environment per test."""

from __future__ import annotations

import os

import pytest

# No model hub here or in CI: anything that tried to download must fail fast, not hang.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite embeds in fp32, the model as trained, so that its expected vector-space ids and vectors
# hold on every machine (module-scoped fixtures run before the per-test environment below); the
# default fast path ('auto' → ort-int8) has its own tests (tests/unit/test_precision.py).
os.environ["DOPPEL_INFERENCE_PRECISION"] = "fp32"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is present")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_ambient_doppel_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read the developer's DOPPEL_* variables or write into their data directory."""
    for name in list(os.environ):
        if name.startswith("DOPPEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOPPEL_DATA_DIR", str(tmp_path_factory.mktemp("doppel-data")))
    monkeypatch.setenv("DOPPEL_INFERENCE_PRECISION", "fp32")  # see the top of this file
