"""Pure pieces of the encoder: mean pooling, L2 normalisation and length-bucketed batching.

Kept apart from ``encoder.py`` so they can be tested on hand-made tensors and lists without a
model. Nothing here imports torch: the functions only call tensor methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_EPS = 1e-12


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors that are not padding, computed in float32.

    ``hidden`` is (B, T, H) and ``attention_mask`` (B, T) with 1 for real tokens; whatever the
    model wrote at padded positions has no effect on the result.
    """
    mask = attention_mask.to(hidden.device).unsqueeze(-1).float()  # (B, T, 1)
    summed = (hidden.float() * mask).sum(dim=1)  # (B, H)
    counts = mask.sum(dim=1).clamp_min(1.0)  # (B, 1): an all-padding row pools to zeros, not NaN
    return summed / counts


def l2_normalise(vectors: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length, so that a dot product is the cosine similarity."""
    norms = vectors.norm(p=2, dim=-1, keepdim=True).clamp_min(_EPS)  # (B, 1)
    return vectors / norms


def length_batches(lengths: Sequence[int], batch_size: int, *, bucket: bool = True) -> list[list[int]]:
    """Split item indices into batches of at most ``batch_size``.

    With ``bucket`` the items are ordered by length, longest first, so that each batch pads to a
    length close to that of its members (and an out-of-memory shows up on the first batch, not
    the last); ties keep input order so the split is deterministic. Without it, batches follow
    input order, which is the naive scheme the benchmark compares against. Callers put results
    back in input order with the returned indices.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = list(range(len(lengths)))
    if bucket:
        order.sort(key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
