"""Training one LoRA adapter on an ``Encoder`` with the symmetric InfoNCE loss.

The base stays frozen; ``Encoder.create_adapter`` adds the trainable LoRA weights (shape from
``LoraSpec``) under a name (a language or ``shared``), and the loop is plain PyTorch: AdamW,
linear warm-up then linear decay, gradient accumulation, bfloat16 autocast on CUDA, a progress
bar showing the loss. Run under ``torchrun`` it shards the batches by rank and the loss gathers
embeddings so negatives are global; the caller wraps nothing (LoRA weights are tiny, gradients
are all-reduced here by hand rather than through DDP).

Hard negatives come from the pair's file, from its nearest neighbours under the model as training
starts (``negatives.py``), or from both (``TrainConfig.hard_negative_mining``). Pairs the model
already separates by ``TrainConfig.drop_margin`` leave the loss, and each epoch's report says how
many pairs still carried a gradient (``TrainResult.epochs``, logged as ``training.epoch``).

Everything random (LoRA initialisation, batch order, dropout) follows ``TrainConfig.seed``.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedding.training.batching import functions_by_path, hard_negatives_for, make_batches
from embedding.training.config import LoraSpec, TrainConfig, save_training_config
from embedding.training.pairs import TrainingPair

if TYPE_CHECKING:
    from core.domain import CodeFunction
    from embedding.encoder import Encoder

log = logging.getLogger(__name__)

_LOSS_READ_EVERY = 10  # optimiser steps between reading the losses back from the device


@dataclass
class TrainResult:
    """What a run did: losses per optimiser step, steps, pairs seen and wall time."""

    name: str
    steps: int
    pairs: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    trainable_parameters: int = 0  # the adapter's LoRA weights
    base_parameters: int = 0  # the frozen base model's
    # Per epoch: pairs seen, pairs kept (not dropped by the margin), pairs carrying a gradient.
    epochs: list[dict[str, Any]] = field(default_factory=list)
    hard_negatives: str = "none"  # where they came from: none | same_file | neighbours | both
    neighbour_copies_excluded: int = 0  # nearest neighbours left out as copies of their function

    @property
    def trainable_share(self) -> float:
        return self.trainable_parameters / self.base_parameters if self.base_parameters else 0.0

    @property
    def final_loss(self) -> float | None:
        tail = self.losses[-10:]
        return sum(tail) / len(tail) if tail else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "pairs": self.pairs,
            "seconds": round(self.seconds, 1),
            "first_loss": round(self.losses[0], 4) if self.losses else None,
            "final_loss": round(self.final_loss, 4) if self.final_loss is not None else None,
            "trainable_parameters": self.trainable_parameters,
            "base_parameters": self.base_parameters,
            "trainable_share": round(self.trainable_share, 6),
            "epochs": self.epochs,
            "hard_negatives": self.hard_negatives,
            "neighbour_copies_excluded": self.neighbour_copies_excluded,
        }


def lr_factor(step: int, *, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    remaining = max(total - warmup, 1)
    return max(0.0, 1.0 - (step - warmup) / remaining)


class _TokenCache:
    """Token ids per text, tokenised once for the whole run (in one parallel call up front; texts
    seen later, such as hard negatives, on first use)."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder
        self._ids: dict[str, Any] = {}

    def add(self, texts: Sequence[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._ids))
        if missing:
            self._ids.update(zip(missing, self._encoder.token_ids(missing), strict=True))

    def rows(self, texts: Sequence[str]) -> list[Any]:
        self.add(texts)
        return [self._ids[t] for t in texts]


def _training_mode(model: Any, *, base_dropout: bool) -> None:
    """Train mode for the whole model, or (``base_dropout`` off) only for the LoRA dropout layers:
    the frozen base then runs as in inference, with no dropout masks to draw."""
    if base_dropout:
        model.train()
        return
    model.eval()
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == "lora_dropout":
            module.train()


def _checkpointing(model: Any, on: bool) -> bool:
    """Switch the base model's gradient checkpointing (activations recomputed in the backward pass,
    not kept: training memory then barely grows with batch and length); ``False`` when the model
    cannot."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not getattr(inner, "supports_gradient_checkpointing", False):
        return False
    if on:
        inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        inner.gradient_checkpointing_disable()
    return True


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy comes with the ml extra
        pass


def epoch_report(epoch: int, counts: Sequence[float], steps: int) -> dict[str, Any]:
    """One epoch's line of ``TrainResult.epochs`` from summed (pairs, kept, carrying) counts."""
    pairs, kept, carrying = (int(round(c)) for c in counts)
    return {
        "epoch": epoch,
        "steps": steps,
        "pairs": pairs,
        "dropped": pairs - kept,
        "carrying": carrying,
        "carrying_fraction": round(carrying / pairs, 4) if pairs else 0.0,
    }


def plan_steps(n_batches: int, config: TrainConfig) -> int:
    """Optimiser steps the run will take."""
    per_epoch = math.ceil(n_batches / config.gradient_accumulation)
    total = per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps is not None else total


def _all_reduce_gradients(params: Sequence[Any]) -> None:
    import torch.distributed as dist

    from embedding.training.distributed import world

    _, size = world()
    if size == 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= size


def train_adapter(
    encoder: Encoder,
    name: str,
    pairs: Sequence[TrainingPair],
    config: TrainConfig,
    lora: LoraSpec | None = None,
    *,
    functions: Sequence[CodeFunction] = (),
    progress: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    start_from: str | None = None,
) -> TrainResult:
    """Add adapter ``name`` to ``encoder`` and train it on ``pairs`` (the training split), starting
    from loaded adapter ``start_from``'s weights when given (see ``Encoder.create_adapter``).

    ``functions`` (every function of the repository) feeds the hard negatives: same-file ones,
    and nearest neighbours among the training pairs' files.
    """
    import torch

    from embedding.training.distributed import world
    from embedding.training.loss import SymmetricInfoNCE

    if not pairs:
        raise ValueError(f"adapter {name!r}: no training pairs")
    lora = lora or LoraSpec()
    rank, size = world()
    seed_everything(config.seed)
    params = encoder.create_adapter(name, lora, start_from=start_from)
    batch_size = min(config.batch_size, len(pairs))
    tokens = _TokenCache(encoder)
    tokens.add([text for pair in pairs for text in (pair.query, pair.code)])
    loss_fn = SymmetricInfoNCE(
        lambda texts: encoder.encode_token_ids(tokens.rows(texts), adapter=name),
        temperature=config.temperature,
        symmetric=config.symmetric,
        drop_margin=config.drop_margin,
    )
    optimiser = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    mode = config.hard_negative_mining if config.hard_negatives and functions else "none"
    by_path = functions_by_path(functions) if mode in ("same_file", "both") else {}
    neighbours = None
    if mode in ("neighbours", "both"):
        from embedding.training.negatives import mine_neighbours

        # The model as training starts is the adapter's start point (the base, or the shipped code
        # adapter it copied): its vectors are cacheable, so an indexed repository is not embedded again.
        start = encoder.start_point(name)
        neighbours = mine_neighbours(
            lambda texts: encoder.embed_texts(list(texts), adapter=start),
            pairs,
            functions,
            k=config.hard_negative_neighbours,
            max_pool=config.hard_negative_pool,
            seed=config.seed,
        )

    epoch_batches = [
        make_batches(pairs, batch_size, seed=config.seed + epoch, group_by_length=config.group_by_length)
        for epoch in range(config.epochs)
    ]
    # Each process takes every size-th batch; trailing batches that not all ranks get are dropped.
    epoch_batches = [batches[: len(batches) // size * size][rank::size] for batches in epoch_batches]
    total = plan_steps(len(epoch_batches[0]), config)
    if total == 0:
        raise ValueError(f"adapter {name!r}: {len(pairs)} pairs make no full batch of {batch_size}")
    warmup = int(total * config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: lr_factor(s, total=total, warmup=warmup))
    on_cuda = str(getattr(encoder, "device", "cpu")).startswith("cuda")
    use_bf16 = config.bf16 and on_cuda

    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"train {name}", unit="step")
    result = TrainResult(
        name=name,
        steps=0,
        pairs=len(pairs),
        seconds=0.0,
        trainable_parameters=sum(p.numel() for p in params),
        base_parameters=sum(p.numel() for n, p in encoder.model.named_parameters() if "lora_" not in n),
        hard_negatives=mode,
        neighbour_copies_excluded=neighbours.excluded_copies if neighbours is not None else 0,
    )
    log.info(
        "training.start adapter=%s lora_r=%d trainable=%d base=%d",
        name, lora.r, result.trainable_parameters, result.base_parameters,
    )  # fmt: skip
    # Step losses stay on the device and are read back every few steps: reading one forces the
    # host to wait for the GPU, which would stall it once per step.
    pending: list[Any] = []
    read_every = _LOSS_READ_EVERY if on_cuda else 1

    def flush() -> None:
        if not pending:
            return
        values = torch.stack(pending).tolist()
        first = len(result.losses)
        result.losses.extend(values)
        pending.clear()
        if on_step is not None:
            for offset, value in enumerate(values):
                on_step(first + offset, value)
        if bar is not None:
            bar.set_postfix(loss=f"{values[-1]:.4f}")

    started = time.perf_counter()
    checkpointed = config.gradient_checkpointing and _checkpointing(encoder.model, True)
    _training_mode(encoder.model, base_dropout=config.base_dropout)
    step, micro = 0, 0
    running = None

    def close_epoch(epoch: int, counts: Any, first_step: int) -> None:
        if counts is None:
            return
        line = epoch_report(epoch, counts.tolist(), step - first_step)
        result.epochs.append(line)
        log.info(
            "training.epoch adapter=%s epoch=%d pairs=%d dropped=%d carrying=%d carrying_fraction=%.3f",
            name, epoch, line["pairs"], line["dropped"], line["carrying"], line["carrying_fraction"],
        )  # fmt: skip

    try:
        for epoch, batches in enumerate(epoch_batches):
            counts = None  # (pairs, kept, carrying) summed on the device, read once per epoch
            first_step = step
            for index, batch in enumerate(batches):
                seed = config.seed + epoch * 100_003 + index
                hard = (
                    hard_negatives_for(batch, by_path, seed=seed, neighbours=neighbours)
                    if by_path or neighbours is not None
                    else []
                )
                texts = ([p.query for p in batch], [p.code for p in batch], hard)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                    if config.gradient_cache_chunk is None:
                        loss = loss_fn(*texts)
                        (loss / config.gradient_accumulation).backward()
                    else:  # the same gradients, holding one chunk's activations at a time
                        loss = loss_fn.chunked_backward(
                            *texts, chunk=config.gradient_cache_chunk, scale=1 / config.gradient_accumulation
                        )
                if loss_fn.last_counts is not None:
                    counts = loss_fn.last_counts if counts is None else counts + loss_fn.last_counts
                part = loss.detach().float() / config.gradient_accumulation
                running = part if running is None else running + part
                micro += 1
                if micro % config.gradient_accumulation:
                    continue
                _all_reduce_gradients(params)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                scheduler.step()
                optimiser.zero_grad(set_to_none=True)
                pending.append(running)
                running = None
                step += 1
                if bar is not None:
                    bar.update(1)
                if len(pending) >= read_every:
                    flush()
                if step >= total:
                    break
            close_epoch(epoch, counts, first_step)
            if step >= total:
                break
        flush()
    finally:
        if bar is not None:
            bar.close()
        if checkpointed:
            _checkpointing(encoder.model, False)
        encoder.model.eval()
    result.steps = step
    result.seconds = time.perf_counter() - started
    log.info("training.done adapter=%s steps=%d pairs=%d seconds=%.1f", name, step, len(pairs), result.seconds)
    return result


def save_trained_adapter(
    encoder: Encoder, name: str, directory: Path, lora: LoraSpec, config: TrainConfig, metadata: dict[str, Any]
) -> Path:
    """Write the adapter (peft config + safetensors + doppel.json) and the training configs beside it."""
    path = encoder.save_adapter(name, directory, metadata)
    save_training_config(path, lora, config)
    return path
