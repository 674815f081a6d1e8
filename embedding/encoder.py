"""The encoder: a Hugging Face base model plus named LoRA adapters, one vector per function.

Several adapters live on one base at once (peft multi-adapter) and each text is embedded with
the repository adapter of its language, else the ``shared`` adapter, else the adapters shipped
with doppel (``embedding/data/code_adapter``, default base only, ``DOPPEL_SHIPPED_ADAPTER``): the
shipped language adapter serving its language (``languages/<name>``, loaded as ``code-<name>``),
else the general ``code`` adapter; else the bare base model. Vectors are
the mean of the non-padding token states, L2-normalised, float32. Texts are batched by token
length so little compute goes to padding, and vectors are looked up in an ``EmbeddingCache``
first so unchanged functions are never embedded twice.

torch, transformers and peft are imported inside the functions that need them, so importing
this module stays cheap.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.domain import CodeFunction, text_hash
from core.errors import AdapterError, ConfigError, EncoderError
from embedding.adapters import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    CODE_ADAPTER,
    METADATA_FILE,
    SHARED_ADAPTER,
    SHIPPED_ADAPTER_DIR,
    SHIPPED_LANGUAGES_DIR,
    adapter_file_version,
    adapter_weights,
    base_model_id,
    check_adapter_name,
    lora_target_modules,
    read_metadata,
    resolve_base_model,
    shipped_language_adapter_name,
    short_model_id,
)
from embedding.cache import EmbeddingCache
from embedding.pooling import l2_normalise, length_batches, mean_pool
from embedding.precision import FP32, FastModels, precision_tag, resolve_precision

if TYPE_CHECKING:
    import torch

    from core.settings import Settings
    from embedding.training.config import LoraSpec

__all__ = [
    "Encoder",
    "EncoderStats",
    "EmbeddingCache",
    "function_text",
    "lora_target_modules",
    "resolve_base_model",
]

log = logging.getLogger(__name__)


def function_text(fn: CodeFunction) -> str:
    """The text embedded for a function: its docstring (when it has one), a newline, its code."""
    return f"{fn.docstring}\n{fn.code}" if fn.docstring else fn.code


@dataclass
class EncoderStats:
    """What the encoder did: ``embedded`` texts went through the model (each distinct text once
    per call), ``cache_hits`` texts came from the cache, in ``batches`` forward passes."""

    embedded: int = 0
    cache_hits: int = 0
    batches: int = 0

    def reset(self) -> None:
        self.embedded = self.cache_hits = self.batches = 0


@dataclass
class _Adapter:
    """One adapter on the base: where it came from and the version that names its vector space.

    An adapter created in memory for training has no path and is never cached: its weights
    change with every optimiser step.
    """

    name: str
    version: str
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    trainable: bool = False
    started_from: str | None = None  # version of the adapter whose weights a trainable one started from
    start_adapter: str | None = None  # and that adapter's name (None: a fresh adapter, equal to the base)


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available; use 'auto' or 'cpu'")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return device


_PAD_MULTIPLE = 64  # training batches on CUDA pad to a multiple of this many tokens
_DTYPES = ("auto", "float32", "bfloat16", "float16")


def _pick_dtype(dtype: str, device: str) -> torch.dtype:
    """The weights' dtype: ``auto`` is bfloat16 on CUDA (half the memory traffic, cosines move by
    ~1e-3, far below any threshold) and float32 on the CPU (which mostly lacks fast bf16 matmuls)."""
    import torch

    if dtype not in _DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)  # type: ignore[no-any-return]


def _load_pretrained(name: str, source: str, dtype: torch.dtype) -> tuple[Any, Any]:
    """Tokenizer and model from a local directory (strictly offline) or a Hub id.

    A local directory, the packaged default included, is read with ``local_files_only`` so the
    Hub is never contacted. A Hub id is tried from the local cache first and downloaded only when
    it is not there.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # transformers draws its own "Loading weights" bar on every load; doppel's output is its own.
    hf_logging.disable_progress_bar()

    def load(local_only: bool) -> tuple[Any, Any]:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        model = AutoModel.from_pretrained(source, local_files_only=local_only, dtype=dtype)
        return tokenizer, model

    try:
        if Path(source).is_dir():
            return load(local_only=True)
        try:
            return load(local_only=True)
        except OSError:
            log.info("encoder.download base_model=%s", source)
            return load(local_only=False)
    except (OSError, ValueError, KeyError) as exc:
        raise EncoderError(
            f"cannot load base model {name!r} from {source}: {exc}. Set DOPPEL_BASE_MODEL to 'default', "
            "a Hugging Face model id or a directory holding config.json, the weights and the tokenizer"
        ) from exc


class Encoder:
    """A base encoder with LoRA adapters, producing L2-normalised float32 vectors.

    ``model`` and ``tokenizer`` are exposed for training: ``create_adapter`` adds a trainable
    adapter, ``encode_tensor`` embeds with gradients, ``save_adapter`` writes it as safetensors.
    """

    def __init__(
        self,
        base_model: str = "default",
        *,
        max_length: int = 256,
        batch_size: int = 32,
        device: str = "auto",
        cache: EmbeddingCache | None = None,
        length_bucketing: bool = True,
        dtype: str = "auto",
        precision: str = FP32,
    ) -> None:

        if max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {max_length}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.base_model_name = base_model
        source = resolve_base_model(base_model)
        self.base_model_id = base_model_id(base_model, source)
        self.base_short_id = short_model_id(self.base_model_id)
        self.device = _pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device)
        self.tokenizer, base = _load_pretrained(base_model, source, self.dtype)
        base.to(self.device).eval()
        self.model: Any = base
        self.dim: int = int(base.config.hidden_size)
        # Never ask for more tokens than the model has positions for (tokenizers without a limit
        # report a huge sentinel number).
        self.max_length = min(max_length, int(getattr(self.tokenizer, "model_max_length", None) or max_length))
        self.batch_size = batch_size
        self.cache = cache
        self.length_bucketing = length_bucketing
        self.stats = EncoderStats()
        self._adapters: dict[str, _Adapter] = {}
        self._shipped_for: dict[str, str] = {}  # language → shipped language adapter serving it
        # CPU fast path (embedding/precision.py): merged bf16/int8 copies, never used while training.
        self.precision = resolve_precision(precision, self.device)
        self._fast = FastModels(self.precision) if self.precision != FP32 else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Encoder:
        """The encoder the settings describe, with its cache and every adapter in ``adapter_dir``."""
        cache = EmbeddingCache(settings.data_dir / "cache" / "embeddings.sqlite") if settings.embedding_cache else None
        encoder = cls(
            settings.base_model,
            max_length=settings.max_length,
            batch_size=settings.batch_size,
            device=settings.device,
            cache=cache,
            precision=settings.inference_precision,
        )
        if settings.adapter_dir is not None:
            if settings.adapter_dir.is_dir():
                encoder.load_adapters_from(settings.adapter_dir)
            else:
                log.warning("encoder.no_adapter_dir path=%s: using the base model alone", settings.adapter_dir)
        if settings.shipped_adapter:
            encoder.load_shipped_adapter()
        return encoder

    # --- adapters ------------------------------------------------------------------------------

    @property
    def adapters(self) -> list[str]:
        """Names of the adapters on the base, in load order."""
        return list(self._adapters)

    def load_adapter(self, name: str, path: Path) -> None:
        """Load the adapter at ``path`` under ``name`` (a language or ``"shared"``).

        Only safetensors weights are read. An adapter already loaded under that name is replaced,
        which is how a retrained adapter is picked up.
        """
        from peft import PeftModel

        check_adapter_name(name)
        path = Path(path)
        adapter_weights(path)  # refuses a missing or pickled adapter before peft sees it
        metadata = read_metadata(path)
        stated_base = metadata.get("base_model")
        if stated_base not in (None, self.base_model_id, self.base_model_name):
            raise AdapterError(
                f"adapter {path} was trained on base model {stated_base!r}, but the encoder runs "
                f"{self.base_model_id!r}; retrain it or set DOPPEL_BASE_MODEL to its base"
            )
        version = adapter_file_version(path, metadata)
        if name in self._adapters:
            self._remove_adapter(name)
        self._forget_fast(name)
        try:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(path), adapter_name=name, is_trainable=False)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name, is_trainable=False)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise AdapterError(f"cannot load adapter {name!r} from {path} onto {self.base_model_id}: {exc}") from exc
        self.model.to(self.device).eval()
        self._adapters[name] = _Adapter(name=name, version=version, path=path, metadata=metadata)
        log.info("encoder.adapter_loaded name=%s version=%s path=%s", name, version, path)

    def load_adapters_from(self, directory: Path) -> list[str]:
        """Load every sub-directory of ``directory`` that holds an ``adapter_config.json``, each
        under its directory name; returns the names loaded, sorted."""
        directory = Path(directory)
        if not directory.is_dir():
            raise AdapterError(f"adapter directory {directory} does not exist")
        names = []
        for child in sorted(directory.iterdir()):
            if child.is_dir() and (child / ADAPTER_CONFIG).is_file():
                self.load_adapter(child.name, child)
                names.append(child.name)
        return names

    def load_shipped_adapter(self, path: Path = SHIPPED_ADAPTER_DIR) -> bool:
        """Load the general code adapter shipped with doppel under ``code``, and the shipped language
        adapters under ``languages/`` beside it, when they exist and were trained on this encoder's
        base (they are for the default base only); whether the general one was loaded."""
        path = Path(path)
        if not (path / ADAPTER_CONFIG).is_file():
            log.info("encoder.no_shipped_adapter path=%s: using the base model where no adapter applies", path)
            return False
        if read_metadata(path).get("base_model") not in (self.base_model_id, self.base_model_name):
            log.info("encoder.shipped_adapter_skipped base=%s: it was trained for another base", self.base_model_id)
            return False
        self.load_adapter(CODE_ADAPTER, path)
        languages = path / SHIPPED_LANGUAGES_DIR
        for child in sorted(languages.iterdir()) if languages.is_dir() else []:
            if (child / ADAPTER_CONFIG).is_file():
                self._load_shipped_language_adapter(child)
        return True

    def _load_shipped_language_adapter(self, directory: Path) -> None:
        """Load one shipped language adapter and route the languages its metadata lists to it."""
        from embedding.languages import LANGUAGES

        served = read_metadata(directory).get("serves")
        if not isinstance(served, list) or not served or not set(served) <= set(LANGUAGES):
            raise AdapterError(
                f"shipped language adapter {directory}: doppel.json 'serves' must list doppel languages, got {served!r}"
            )
        name = shipped_language_adapter_name(directory.name)
        self.load_adapter(name, directory)
        for language in served:
            self._shipped_for[language] = name

    def adapter_for(self, language: str | None) -> str | None:
        """The adapter used for ``language``: its own, else ``shared``, else the shipped adapter
        for it (its language adapter, else the general ``code`` one), else ``None`` (the base)."""
        if language is not None and language in self._adapters:
            return language
        if SHARED_ADAPTER in self._adapters:
            return SHARED_ADAPTER
        return self.fallback_adapter(language)

    def fallback_adapter(self, language: str | None = None) -> str | None:
        """What embeds ``language`` where no repository adapter covers it: the shipped language
        adapter serving it, else the shipped ``code`` adapter, when loaded, else ``None`` (the
        base). A repository's new adapter of that language is judged against it, and starts from it."""
        for name in (self._shipped_for.get(language or ""), CODE_ADAPTER):
            if name is not None and name in self._adapters and not self._adapters[name].trainable:
                return name
        return None

    def adapter_version(self, language: str | None) -> str:
        """Id of the vector space ``language`` is embedded in, e.g. ``minilm-l6:base`` or
        ``minilm-l6:python@3f2a9c1d``. Vectors with different ids must never be compared."""
        return self._version_of(self.adapter_for(language))

    def adapter_metadata(self, name: str | None) -> dict[str, Any]:
        """The ``doppel.json`` of a loaded adapter (e.g. calibrated thresholds); ``{}`` for the base
        model or an adapter without one."""
        if name is None:
            return {}
        return dict(self._require_adapter(name).metadata)

    def create_adapter(
        self, name: str, spec: LoraSpec | None = None, *, start_from: str | None = None
    ) -> list[torch.nn.Parameter]:
        """Add a fresh trainable LoRA adapter of shape ``spec`` (default ``LoraSpec()``, the one
        recipe: rank, alpha, dropout, targets) replacing one of that name, and return its parameters,
        for the optimiser. Its vectors are never cached until it is saved and loaded.

        It starts from loaded adapter ``start_from``'s weights (same shape required), by default
        from the shipped code adapter for every other name, so that training continues from it."""
        from peft import PeftModel, get_peft_model

        from embedding.training.config import LoraSpec

        check_adapter_name(name)
        if start_from is not None and (start_from == name or start_from not in self._adapters):
            raise AdapterError(f"adapter {name!r} cannot start from {start_from!r}: load it under another name first")
        if name in self._adapters:
            self._remove_adapter(name)
        self._forget_fast(name)
        base = self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model
        config = (spec or LoraSpec()).to_peft(base)
        if isinstance(self.model, PeftModel):
            self.model.add_adapter(name, config)
        else:
            self.model = get_peft_model(self.model, config, adapter_name=name)
        self.model.to(self.device)
        self.model.set_adapter(name, inference_mode=False)
        self._adapters[name] = _Adapter(name=name, version="unsaved", trainable=True)
        if start_from is not None:
            if not self._start_from(name, start_from):
                self._remove_adapter(name)  # no half-made adapter left behind
                raise AdapterError(f"adapter {name!r} cannot start from {start_from!r}: their shapes differ")
        elif (shipped := self.fallback_adapter(name)) is not None:
            self._start_from(name, shipped)  # another shape starts fresh
        return [param for param_name, param in self.model.named_parameters() if f".{name}." in param_name]

    def _start_from(self, name: str, source: str) -> bool:
        """Copy adapter ``source``'s weights into the new adapter ``name`` when both have the same
        shape (rank, alpha, targets), so that a repository's training starts from the shipped code
        adapter rather than from the bare base; whether it did."""
        import torch

        new, old = self.model.peft_config[name], self.model.peft_config[source]
        if (new.r, new.lora_alpha, set(new.target_modules)) != (old.r, old.lora_alpha, set(old.target_modules)):
            log.info("encoder.fresh_adapter name=%s: its shape differs from %s's", name, source)
            return False
        params = dict(self.model.named_parameters())
        pairs = [(p, params.get(n.replace(f".{name}.", f".{source}."))) for n, p in params.items() if f".{name}." in n]
        if not pairs or any(src is None or src.shape != p.shape for p, src in pairs):
            return False
        with torch.no_grad():
            for p, src in pairs:
                p.copy_(src)  # type: ignore[union-attr]
        self._adapters[name].started_from = self._version_of(source)
        self._adapters[name].start_adapter = source
        return True

    def start_point(self, name: str) -> str | None:
        """The adapter whose vectors trainable adapter ``name`` reproduces before its first step
        (``None``: the base, as a fresh LoRA update is zero). Those vectors are cacheable, so work
        that needs the model as training starts (mining neighbours) can embed with it and reuse
        what the index already embedded."""
        return self._require_adapter(name).start_adapter

    def save_adapter(self, name: str, directory: Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write adapter ``name`` to ``directory`` as peft's config plus safetensors weights, and
        ``doppel.json`` holding ``metadata`` and the base model id. Never pickles."""
        from peft.utils import get_peft_model_state_dict
        from safetensors.torch import save_file

        self._require_adapter(name)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = get_peft_model_state_dict(self.model, adapter_name=name)
        save_file(
            {key: tensor.detach().cpu().contiguous() for key, tensor in state.items()},
            str(directory / ADAPTER_WEIGHTS),
            metadata={"format": "pt"},
        )
        config = copy.deepcopy(self.model.peft_config[name])
        config.inference_mode = True
        config.base_model_name_or_path = self.base_model_id
        config.save_pretrained(str(directory))
        document = {**(metadata or {}), "base_model": self.base_model_id}
        if self._adapters[name].started_from:
            document.setdefault("started_from", self._adapters[name].started_from)
        (directory / METADATA_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return directory

    # --- embedding -----------------------------------------------------------------------------

    def embed_texts(
        self, texts: Sequence[str], *, adapter: str | None = None, progress: bool | Callable[[int], None] = False
    ) -> np.ndarray:
        """Vectors for ``texts`` with ``adapter`` (``None``: the base), shape (N, dim), float32,
        L2-normalised, rows in input order. Cached vectors are reused and new ones stored."""
        if adapter is not None:
            self._require_adapter(adapter)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        hashes = [text_hash(text) for text in texts]
        version = self._version_of(adapter)
        use_cache = self.cache is not None and not (adapter is not None and self._adapters[adapter].trainable)
        cache_key = f"{self.base_model_id}#{self.max_length}"  # truncation changes the vector
        known = self.cache.get_many(cache_key, version, hashes) if use_cache and self.cache else {}
        todo: dict[str, str] = {}
        for digest, text in zip(hashes, texts, strict=True):
            if digest not in known:
                todo.setdefault(digest, text)
        fresh = dict(zip(todo, self._forward(list(todo.values()), adapter, progress), strict=True))
        if use_cache and self.cache and fresh:
            self.cache.put_many(cache_key, version, fresh)
        self.stats.embedded += len(fresh)
        self.stats.cache_hits += sum(1 for digest in hashes if digest in known)
        for row, digest in enumerate(hashes):
            out[row] = known[digest] if digest in known else fresh[digest]
        return out

    def embed_functions(
        self, functions: Sequence[CodeFunction], *, progress: bool | Callable[[int], None] = False
    ) -> np.ndarray:
        """Vectors for ``functions`` in input order, each with the adapter of its language."""
        out = np.empty((len(functions), self.dim), dtype=np.float32)
        groups: dict[str | None, list[int]] = {}
        for row, fn in enumerate(functions):
            groups.setdefault(self.adapter_for(fn.language), []).append(row)
        for adapter, rows in groups.items():
            out[rows] = self.embed_texts(
                [function_text(functions[row]) for row in rows], adapter=adapter, progress=progress
            )
        return out

    def embed_query(self, text: str, *, language: str | None = None) -> np.ndarray:
        """One vector (dim,) for free text or code, in ``language``'s vector space."""
        return self.embed_texts([text], adapter=self.adapter_for(language))[0]

    def encode_tensor(self, texts: Sequence[str], *, adapter: str | None = None) -> torch.Tensor:
        """Normalised vectors (B, dim) as a float32 tensor on the model's device, with gradients
        when the adapter is trainable: the forward pass for training losses. The caller sets
        train/eval mode."""
        return self.encode_token_ids(self.token_ids(texts), adapter=adapter)

    def token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token ids (int64, truncated at ``max_length``, special tokens included), all
        tokenised in one call: training tokenises its pairs once instead of at every step."""
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [np.asarray(row, dtype=np.int64) for row in encoded["input_ids"]]

    def encode_token_ids(self, rows: Sequence[np.ndarray], *, adapter: str | None = None) -> torch.Tensor:
        """``encode_tensor`` for texts tokenised by ``token_ids``: pads them into one batch and
        returns normalised (B, dim) float32 vectors, with gradients when the adapter trains.

        On CUDA the padded length is rounded up to a multiple of 64 (at most ``max_length``), so
        that attention kernels meet a handful of shapes rather than a new one per batch.
        """
        import torch

        longest = max(len(row) for row in rows)
        if self.device.startswith("cuda"):
            longest = min(-(-longest // _PAD_MULTIPLE) * _PAD_MULTIPLE, max(self.max_length, longest))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.from_numpy(row)
            attention_mask[i, : len(row)] = 1
        with self._active(adapter):
            return self._pooled({"input_ids": input_ids, "attention_mask": attention_mask})

    # --- internals -----------------------------------------------------------------------------

    def _forward(self, texts: list[str], adapter: str | None, progress: bool | Callable[[int], None]) -> np.ndarray:
        """Embed distinct texts in length-sorted batches (or input order when bucketing is off)."""
        import torch

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        ids, masks = encoded["input_ids"], encoded["attention_mask"]
        extra = {key: encoded[key] for key in ("token_type_ids",) if key in encoded}
        batches = length_batches([len(row) for row in ids], self.batch_size, bucket=self.length_bucketing)
        # ``progress``: True shows a live count of texts embedded (a log line off a terminal); a
        # callable is told each batch's size instead (indexing counts functions across calls).
        tick = progress if callable(progress) else None
        meter = None
        if progress is True:
            from core.progress import Progress

            meter = Progress("embedding", unit="texts", total=len(texts))
        fast = self._fast_model(adapter)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), nullcontext() if fast is not None else self._active(adapter):
                for rows in batches:
                    features = {"input_ids": [ids[i] for i in rows], "attention_mask": [masks[i] for i in rows]}
                    features.update({key: [values[i] for i in rows] for key, values in extra.items()})
                    batch = self.tokenizer.pad(features, return_tensors="pt")
                    out[rows] = self._pooled(batch, fast).cpu().numpy()
                    self.stats.batches += 1
                    if tick is not None:
                        tick(len(rows))
                    if meter is not None:
                        meter.advance(len(rows))
        finally:
            self.model.train(was_training)
            if meter is not None:
                meter.close()
        return out

    def _pooled(self, batch: Any, model: Any = None) -> torch.Tensor:
        if self.device.startswith("cuda"):
            # Pinned memory and a non-blocking copy: the host does not wait for the GPU to drain,
            # so tokenising the next batch overlaps this one's compute.
            batch = {key: value.pin_memory().to(self.device, non_blocking=True) for key, value in batch.items()}
        else:
            batch = {key: value.to(self.device) for key, value in batch.items()}
        hidden = (model or self.model)(**batch).last_hidden_state  # (B, T, H)
        return l2_normalise(mean_pool(hidden, batch["attention_mask"]))  # (B, H) float32

    @contextmanager
    def _active(self, adapter: str | None) -> Iterator[None]:
        """Run the model with ``adapter`` switched on, or with every adapter off for ``None``."""
        from peft import PeftModel

        if adapter is None:
            context = self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext()
            with context:
                yield
            return
        record = self._require_adapter(adapter)
        self.model.set_adapter(adapter, inference_mode=not record.trainable)
        yield

    def _require_adapter(self, name: str) -> _Adapter:
        try:
            return self._adapters[name]
        except KeyError:
            loaded = ", ".join(self._adapters) or "none"
            raise AdapterError(f"adapter {name!r} is not loaded (loaded: {loaded})") from None

    def version_of(self, adapter: str | None) -> str:
        """The vector-space id of ``adapter`` (``None``: the base), whatever language it serves."""
        return self._version_of(adapter)

    def _version_of(self, adapter: str | None) -> str:
        tag = precision_tag(self.precision) if self._fast_on() else ""
        if adapter is None:
            return f"{self.base_short_id}:base{tag}"
        return f"{self.base_short_id}:{adapter}@{self._require_adapter(adapter).version}{tag}"

    def _fast_on(self) -> bool:
        """The fast path is used unless an adapter trains: then everything is fp32 (weights move)."""
        return self._fast is not None and not any(record.trainable for record in self._adapters.values())

    def _fast_model(self, adapter: str | None) -> Any:
        """The merged bf16/int8 copy for ``adapter`` (built on first use), or ``None`` for fp32."""
        if self._fast is None or not self._fast_on():
            return None
        version = "base" if adapter is None else self._require_adapter(adapter).version
        return self._fast.get(self.model, self.base_model_id, adapter, version)

    def _forget_fast(self, name: str) -> None:
        if self._fast is not None:
            self._fast.forget(name)

    def _remove_adapter(self, name: str) -> None:
        """Take adapter ``name`` off the base; the last one unwraps the model back to the base."""
        del self._adapters[name]
        self._forget_fast(name)
        if self._adapters:
            self.model.delete_adapter(name)
        else:
            self.model = self.model.unload()
