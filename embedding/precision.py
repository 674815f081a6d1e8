"""Fast CPU inference: a bf16 or int8 copy of the base with one adapter merged in, per precision.

``fp32`` is the encoder's own model (peft adapters switched on and off). ``bf16`` and ``int8``
embed with a separate copy: the base with the adapter merged into its weights (peft
``merge_and_unload`` on a deep copy, so the training model is never touched), then

* ``bf16``: weights cast to bfloat16 (oneDNN bf16 matmuls on CPUs with ``avx512_bf16`` / AMX);
  the pooled vector is still computed in float32;
* ``int8``: torch dynamic quantization of the ``Linear`` layers with per-channel weights, except
  each layer's FFN output projection, kept in float32: its input (the GELU output) has outlier
  channels and quantizing it alone takes the mean vector cosine to fp32 from ~0.99 to ~0.94.

A fast model is keyed by base, adapter name, adapter version and precision (``FastModels``), and
the precision is part of the vector-space id (``precision_tag``: ``"+bf16"``, ``"+int8"``; fp32
adds nothing so existing indexes and caches stay valid), hence of the cache key, the index's
search filter and meta, and the collection generation: vectors of two precisions never meet.

* ``ort-int8``: the merged copy exported to ONNX and run by ONNX Runtime with int8 weights
  (``embedding.onnx_fast``).

``auto`` (the default) resolves to ``ort-int8`` on a CPU where onnxruntime imports, else fp32: it is
the one path that met the targets of ``benchmarks/bench_fast_cpu.py`` (≥ 2.5× fp32 functions/s,
mean cosine ≥ 0.99, findings on both clone benchmarks within a point) on the 2-core Zen 4 box; see
``benchmarks/results/fast_cpu.md``. torch and peft are imported inside the functions.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError

log = logging.getLogger(__name__)

FP32 = "fp32"
BF16 = "bf16"
INT8 = "int8"
ORT_INT8 = "ort-int8"
PRECISIONS = ("auto", FP32, BF16, INT8, ORT_INT8)
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def has_fast_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU has bf16 matmul instructions (without them bf16 is emulated and slow)."""
    return bool((cpu_flags() if flags is None else flags) & _BF16_FLAGS)


def has_onnxruntime() -> bool:
    """Whether ONNX Runtime and onnx import (the ``ort-int8`` path needs both)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def resolve_precision(asked: str, device: str) -> str:
    """The precision an encoder on ``device`` embeds with: ``fp32``, ``bf16`` or ``int8``.

    The fast paths are CPU paths: on CUDA the encoder's ``dtype`` governs and this is ``fp32``
    (no tag). ``auto`` is ``ort-int8`` on a CPU with onnxruntime installed, else fp32 (see the
    module docstring for why). ``bf16`` on a CPU without bf16 instructions is refused: it would be
    slower than fp32, not faster.
    """
    if asked not in PRECISIONS:
        raise ConfigError(f"inference_precision must be one of {', '.join(PRECISIONS)}, got {asked!r}")
    if not device.startswith("cpu"):
        if asked not in ("auto", FP32):
            log.info("encoder.precision_ignored precision=%s device=%s: fast paths are CPU paths", asked, device)
        return FP32
    if asked == "auto":
        return ORT_INT8 if has_onnxruntime() else FP32
    if asked == BF16 and not has_fast_bf16():
        raise ConfigError(
            "inference_precision 'bf16' needs a CPU with avx512_bf16 or amx_bf16 (see /proc/cpuinfo); use 'fp32' or 'int8'"
        )
    return asked


def precision_tag(precision: str) -> str:
    """What the precision adds to a vector-space id: nothing for fp32, ``+bf16`` / ``+int8`` else."""
    return "" if precision == FP32 else f"+{precision}"


def _is_ffn_output(name: str) -> bool:
    """BERT-style names: ``encoder.layer.N.output.dense`` (not ``attention.output.dense``)."""
    return name.endswith("output.dense") and "attention" not in name


def merged_copy(model: Any, adapter: str | None) -> Any:
    """A plain ``transformers`` model equal to ``model`` with ``adapter`` on (``None``: the bare
    base), its LoRA weights merged in. ``model`` itself is left as it was."""
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        return copy.deepcopy(model)
    clone = copy.deepcopy(model)
    if adapter is None:
        return clone.unload()  # LoRA layers taken off, nothing merged
    clone.set_adapter(adapter)
    return clone.merge_and_unload(adapter_names=[adapter])


def lower_precision(model: Any, precision: str) -> Any:
    """``model`` (a merged copy, changed in place where it can be) in ``precision``, in eval mode."""
    import torch

    model = model.to("cpu").eval()
    if precision == BF16:
        return model.to(torch.bfloat16)
    if precision == INT8:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        spec = {
            name: per_channel_dynamic_qconfig
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and not _is_ffn_output(name)
        }
        return quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
    if precision == ORT_INT8:
        from embedding.onnx_fast import export_int8

        return export_int8(model)
    raise ConfigError(f"no fast model for precision {precision!r}")


@dataclass(frozen=True)
class FastKey:
    base: str
    adapter: str | None
    version: str
    precision: str


class FastModels:
    """Fast copies by ``FastKey``, built on first use. ``forget(adapter)`` drops an adapter's copies
    (it was replaced, e.g. a promotion loaded a new version), so a stale merge is never used."""

    def __init__(self, precision: str) -> None:
        self.precision = precision
        self._models: dict[FastKey, Any] = {}
        self.builds = 0  # how many fast models were built (tests check a reload rebuilds)

    def get(self, model: Any, base: str, adapter: str | None, version: str) -> Any:
        key = FastKey(base, adapter, version, self.precision)
        fast = self._models.get(key)
        if fast is None:
            self.forget(adapter)
            fast = self._models[key] = lower_precision(merged_copy(model, adapter), self.precision)
            self.builds += 1
            log.info("encoder.fast_model adapter=%s version=%s precision=%s", adapter, version, self.precision)
        return fast

    def forget(self, adapter: str | None) -> None:
        for key in [k for k in self._models if k.adapter == adapter]:
            del self._models[key]

    def keys(self) -> list[FastKey]:
        return list(self._models)


def settings_precision(asked: str, device: str) -> str:
    """``resolve_precision`` for a settings' ``device`` (``auto``: CUDA when torch sees one); what a
    generation's collection name records, so collections of two precisions are never one."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return resolve_precision(asked, device)
