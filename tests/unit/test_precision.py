"""The fast CPU paths (embedding/precision.py): agreement with fp32 on real code and real MiniLM
weights, a reloaded adapter rebuilds its fast model, and two precisions never share a vector space.

Tolerances (measured on stdlib functions, see benchmarks/results/fast_cpu.md): bf16 keeps every
vector's cosine to fp32 above 0.999 (measured ≥ 0.9999); int8 keeps the mean above 0.98 and every
vector above 0.95 (measured mean ~0.99, min ~0.975).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest

from core.domain import IndexedFunction, IndexPoint, RepoRef, point_id
from core.errors import ConfigError
from core.settings import Settings
from embedding.cache import EmbeddingCache
from embedding.encoder import Encoder, function_text
from embedding.extract import extract_source
from embedding.precision import BF16, FP32, INT8, ORT_INT8, has_fast_bf16, precision_tag, resolve_precision
from tests.tiny_models import build_tiny_roberta, train_tiny_adapter

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
]

SAMPLE = "def area(width, height):\n    return width * height\n"


def _stdlib_texts(count: int) -> list[str]:
    """``count`` real functions from the running interpreter's standard library (fixed modules)."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py", "colorsys.py", "bisect.py", "heapq.py"):
        path = lib / name
        if path.is_file():
            texts += [function_text(fn) for fn in extract_source(name, path.read_bytes()).functions]
    assert len(texts) >= count, "the stdlib modules hold fewer functions than the test needs"
    return texts[:count]


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    return _stdlib_texts(40)


@pytest.fixture(scope="module")
def fp32_vectors(real_texts: list[str]) -> np.ndarray:
    return Encoder("default", device="cpu").embed_texts(real_texts)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("models") / "tiny-roberta")


def test_int8_vectors_agree_with_fp32_on_real_functions(real_texts: list[str], fp32_vectors: np.ndarray) -> None:
    fast = Encoder("default", device="cpu", precision=INT8)
    cosines = (fast.embed_texts(real_texts) * fp32_vectors).sum(axis=1)
    assert cosines.mean() >= 0.98, cosines.mean()
    assert cosines.min() >= 0.95, cosines.min()


def test_onnx_runtime_int8_vectors_agree_with_fp32_on_real_functions(
    real_texts: list[str], fp32_vectors: np.ndarray
) -> None:
    """ONNX Runtime's int8 (every MatMul weight per channel, activations per batch) stays within
    the fast path's tolerance: mean cosine to fp32 at least 0.99, none below 0.98."""
    fast = Encoder("default", device="cpu", precision=ORT_INT8)
    vectors = fast.embed_texts(real_texts)
    cosines = (vectors * fp32_vectors).sum(axis=1)
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosines.mean() >= 0.99, cosines.mean()
    assert cosines.min() >= 0.98, cosines.min()
    assert fast.adapter_version("python").endswith("+ort-int8")


@pytest.mark.skipif(not has_fast_bf16(), reason="this CPU has no avx512_bf16/amx_bf16")
def test_bf16_vectors_agree_with_fp32_on_real_functions(real_texts: list[str], fp32_vectors: np.ndarray) -> None:
    fast = Encoder("default", device="cpu", precision=BF16)
    cosines = (fast.embed_texts(real_texts) * fp32_vectors).sum(axis=1)
    assert cosines.min() >= 0.999, cosines.min()


def test_fast_vectors_are_unit_float32_and_differ_from_fp32(tiny_model: Path) -> None:
    """The fast path really runs (int8 vectors are not fp32's bit for bit) and keeps the contract."""
    fp32 = Encoder(str(tiny_model), device="cpu").embed_texts([SAMPLE])[0]
    fast = Encoder(str(tiny_model), device="cpu", precision=INT8).embed_texts([SAMPLE])[0]
    assert fast.dtype == np.float32
    assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-5
    assert not np.array_equal(fast, fp32)


def test_precision_is_part_of_the_vector_space_id_and_fp32_keeps_todays(tiny_model: Path) -> None:
    fp32 = Encoder(str(tiny_model), device="cpu")
    int8 = Encoder(str(tiny_model), device="cpu", precision=INT8)
    assert fp32.adapter_version(None).endswith(":base")
    assert int8.adapter_version(None) == fp32.adapter_version(None) + "+int8"
    assert precision_tag(FP32) == ""


def test_resolving_the_precision() -> None:
    assert resolve_precision("auto", "cpu") == ORT_INT8  # onnxruntime is a dependency of the ml extra
    assert resolve_precision("auto", "cuda:0") == FP32
    assert resolve_precision("int8", "cpu") == INT8
    assert resolve_precision("int8", "cuda:0") == FP32  # fast paths are CPU paths
    with pytest.raises(ConfigError):
        resolve_precision("fp8", "cpu")


def test_settings_reach_the_encoder(tiny_model: Path, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, base_model=str(tiny_model), device="cpu", inference_precision="int8", embedding_cache=False
    )
    assert Encoder.from_settings(settings).adapter_version(None).endswith("+int8")
    assert Settings(data_dir=tmp_path).inference_precision == "fp32"  # the default (see the benchmark)


def test_a_cached_fp32_vector_is_not_returned_for_int8(tiny_model: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    fp32 = Encoder(str(tiny_model), device="cpu", cache=cache)
    first = fp32.embed_texts([SAMPLE])
    int8 = Encoder(str(tiny_model), device="cpu", cache=cache, precision=INT8)
    fast = int8.embed_texts([SAMPLE])
    assert (int8.stats.cache_hits, int8.stats.embedded) == (0, 1)
    assert not np.array_equal(first, fast)
    again = Encoder(str(tiny_model), device="cpu", cache=cache, precision=INT8)
    np.testing.assert_array_equal(again.embed_texts([SAMPLE]), fast)  # its own entry, reused
    assert again.stats.cache_hits == 1


def test_vectors_of_two_precisions_are_never_searched_together(tiny_model: Path, tmp_path: Path) -> None:
    from embedding.index.edge import EdgeIndex

    repo = RepoRef("acme/widgets")
    index = EdgeIndex(tmp_path / "edge")
    try:
        index.ensure_collection(repo.collection_name, 32)
        points = []
        for ordinal, precision in enumerate((FP32, INT8)):
            encoder = Encoder(str(tiny_model), device="cpu", precision=precision)
            version = encoder.adapter_version("python")
            payload = IndexedFunction(
                repo=repo.slug, language="python", path="a.py", qualified_name=f"area_{precision}", start_line=1,
                end_line=2, commit="c1", body_hash=f"h{ordinal}", adapter_version=version, code=SAMPLE,
            )  # fmt: skip
            vector = encoder.embed_texts([SAMPLE])[0].tolist()
            points.append(
                IndexPoint(id=point_id(repo, "a.py", payload.qualified_name, 0), vector=vector, payload=payload)
            )
        index.upsert(repo.collection_name, points)
        int8 = Encoder(str(tiny_model), device="cpu", precision=INT8)
        hits = index.search(
            repo.collection_name,
            int8.embed_query(SAMPLE, language="python"),
            adapter_version=int8.adapter_version("python"),
        )
        assert [hit.target.qualified_name for hit in hits] == ["area_int8"]
    finally:
        index.close()


@pytest.mark.parametrize("precision", [INT8, ORT_INT8])
def test_loading_a_new_adapter_version_rebuilds_the_fast_model(
    tiny_model: Path, tmp_path: Path, precision: str
) -> None:
    """A promotion loads a new version under the same name: the stale merged copy (or export) must go."""
    trainer = Encoder(str(tiny_model), device="cpu")
    for seed, version in ((1, "v1"), (2, "v2")):
        train_tiny_adapter(trainer, "python", seed=seed)
        trainer.save_adapter("python", tmp_path / version, {"version": f"{version}-0000000{seed}"})
    encoder = Encoder(str(tiny_model), device="cpu", precision=precision)
    encoder.load_adapter("python", tmp_path / "v1")
    before = encoder.embed_texts([SAMPLE], adapter="python")[0]
    encoder.load_adapter("python", tmp_path / "v2")
    after = encoder.embed_texts([SAMPLE], adapter="python")[0]
    fresh = Encoder(str(tiny_model), device="cpu", precision=precision)
    fresh.load_adapter("python", tmp_path / "v2")
    np.testing.assert_allclose(after, fresh.embed_texts([SAMPLE], adapter="python")[0], atol=1e-6)
    assert not np.allclose(before, after, atol=1e-3)
    assert encoder._fast is not None and encoder._fast.builds == 2
    assert [key.version for key in encoder._fast.keys()] == [encoder._adapters["python"].version]
    assert encoder.adapter_version("python").endswith(f"+{precision}")


@pytest.mark.parametrize("precision", [INT8, ORT_INT8])
def test_the_merged_adapter_matches_the_fp32_adapter(tiny_model: Path, tmp_path: Path, precision: str) -> None:
    """Merging the LoRA weights in is exact up to quantization: int8 with the adapter stays close to
    fp32 with the adapter, and far closer to it than to the base."""
    trainer = Encoder(str(tiny_model), device="cpu")
    train_tiny_adapter(trainer, "python", seed=3)
    trainer.save_adapter("python", tmp_path / "python")
    fp32 = Encoder(str(tiny_model), device="cpu")
    fp32.load_adapter("python", tmp_path / "python")
    fast = Encoder(str(tiny_model), device="cpu", precision=precision)
    fast.load_adapter("python", tmp_path / "python")
    tuned = fp32.embed_texts([SAMPLE], adapter="python")[0]
    assert float(fast.embed_texts([SAMPLE], adapter="python")[0] @ tuned) > float(fp32.embed_texts([SAMPLE])[0] @ tuned)


def test_an_encoder_that_trains_embeds_in_fp32(tiny_model: Path) -> None:
    """Training stays fp32: with a trainable adapter the fast path is off and the ids carry no tag."""
    encoder = Encoder(str(tiny_model), device="cpu", precision=INT8)
    assert encoder.adapter_version(None).endswith("+int8")
    train_tiny_adapter(encoder, "python", seed=1)
    assert not encoder.adapter_version(None).endswith("+int8")
    reference = Encoder(str(tiny_model), device="cpu").embed_texts([SAMPLE])
    np.testing.assert_allclose(encoder.embed_texts([SAMPLE]), reference, atol=1e-6)


def test_a_generation_of_another_precision_gets_another_collection() -> None:
    from embedding.generation import collection_for

    repo, adapters = RepoRef("acme/widgets"), {"python": "v1-0123abcd"}
    assert collection_for(repo, adapters) == collection_for(repo, adapters, FP32)  # today's names stay
    names = {collection_for(repo, adapters, p) for p in (FP32, BF16, INT8)}
    assert len(names) == 3 and all(repo.owns_collection(name) for name in names)


def test_the_default_settings_embed_with_the_fast_path_on_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make demo` and the Action get with no DOPPEL_INFERENCE_PRECISION: ort-int8 on a CPU."""
    monkeypatch.delenv("DOPPEL_INFERENCE_PRECISION", raising=False)
    settings = Settings(device="cpu", embedding_cache=False)  # type: ignore[arg-type]
    assert settings.inference_precision == "auto"
    encoder = Encoder.from_settings(settings)
    assert encoder.precision == ORT_INT8
    assert encoder.adapter_version("python").endswith("+ort-int8")
