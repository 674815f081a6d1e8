"""Symmetric InfoNCE over in-batch negatives, in the sentence-transformers shape.

``forward()`` embeds the texts with the model; ``compute_loss_from_embeddings()`` is pure tensor
maths, testable on random tensors. Row i of the queries matches row i of the codes; every other
code in the (globally gathered) batch is a negative, plus optional hard negatives. The batcher
guarantees that no two rows of a batch come from the same function or share a body hash, so
"other rows" really are negatives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from embedding.training.distributed import gather_with_grad, global_offset

EmbedFn = Callable[[Sequence[str]], torch.Tensor]  # texts → (N, D) L2-normalised, with gradient


class SymmetricInfoNCE(nn.Module):
    """Cross-entropy of each query against all codes (and each code against all queries) at ``temperature``."""

    def __init__(self, embed: EmbedFn, *, temperature: float = 0.05, symmetric: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.embed = embed
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(self, queries: Sequence[str], codes: Sequence[str], hard_negatives: Sequence[str] = ()) -> torch.Tensor:
        """Embed the texts and return the scalar loss.

        Queries and codes go through the model in separate passes: doc text is a tenth the length
        of code, and padding it to the code's length would waste most of the query pass.
        """
        q = self.embed(list(queries))  # (B, D)
        c = self.embed([*codes, *hard_negatives])  # (B + H, D)
        b = len(queries)
        return self.compute_loss_from_embeddings(q, c[:b], c[b:] if len(hard_negatives) else None)

    def compute_loss_from_embeddings(
        self, q: torch.Tensor, c: torch.Tensor, hard: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Loss for L2-normalised query rows ``q`` (B, D) and code rows ``c`` (B, D); ``hard`` (H, D).

        Under torch.distributed the candidates are every process's rows (negatives are global);
        the labels are this process's rows' positions among them.
        """
        b = q.shape[0]
        all_c = gather_with_grad(c)  # (W*B, D)
        labels = torch.arange(b, device=q.device) + global_offset(b)  # (B,)
        candidates = all_c
        if hard is not None and hard.shape[0]:
            # Hard negatives stay local: their count differs between processes, all_gather needs equal shapes.
            candidates = torch.cat([all_c, hard], dim=0)  # (W*B + H, D)
        scores = q @ candidates.T / self.temperature  # (B, W*B [+ H])
        loss = nn.functional.cross_entropy(scores, labels)
        if not self.symmetric:
            return loss
        all_q = gather_with_grad(q)  # (W*B, D)
        back = c @ all_q.T / self.temperature  # (B, W*B): each code against every query
        return (loss + nn.functional.cross_entropy(back, labels)) / 2
