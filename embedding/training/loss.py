"""Symmetric InfoNCE over in-batch negatives, in the sentence-transformers shape.

``forward()`` embeds the texts with the model; ``compute_loss_from_embeddings()`` is pure tensor
maths, testable on random tensors. Row i of the queries matches row i of the codes; every other
code in the (globally gathered) batch is a negative, plus optional hard negatives. The batcher
guarantees that no two rows of a batch come from the same function or share a body hash, so
"other rows" really are negatives.

Pairs the model already separates by a wide margin (their positive's cosine beats every
negative's by at least ``drop_margin``, in both directions) are dropped from the mean: they
would add next to nothing, and averaging over them dilutes the pairs that still teach. Each
call leaves ``last_counts`` (pairs, kept, carrying a gradient) on the device for the trainer's
per-epoch report; a pair carries a gradient when it is kept and its loss is at least
``NEGLIGIBLE_LOSS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from embedding.training.distributed import gather_with_grad, global_offset

EmbedFn = Callable[[Sequence[str]], torch.Tensor]  # texts → (N, D) L2-normalised, with gradient
# A pair whose loss is below this contributes a negligible gradient (at temperature 0.05 a pair
# whose positive beats its nearest negative by 0.3 in cosine already sits near 0.0025).
NEGLIGIBLE_LOSS = 0.01


class SymmetricInfoNCE(nn.Module):
    """Cross-entropy of each query against all codes (and each code against all queries) at ``temperature``."""

    def __init__(
        self, embed: EmbedFn, *, temperature: float = 0.05, symmetric: bool = True, drop_margin: float | None = None
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if drop_margin is not None and drop_margin <= 0:
            raise ValueError(f"drop_margin must be positive or None, got {drop_margin}")
        self.embed = embed
        self.temperature = temperature
        self.symmetric = symmetric
        self.drop_margin = drop_margin
        self.last_counts: torch.Tensor | None = None  # (3,): pairs, kept, carrying a gradient

    def forward(self, queries: Sequence[str], codes: Sequence[str], hard_negatives: Sequence[str] = ()) -> torch.Tensor:
        """Embed the texts and return the scalar loss.

        Queries and codes go through the model in separate passes: doc text is a tenth the length
        of code, and padding it to the code's length would waste most of the query pass.
        """
        q = self.embed(list(queries))  # (B, D)
        c = self.embed([*codes, *hard_negatives])  # (B + H, D)
        b = len(queries)
        return self.compute_loss_from_embeddings(q, c[:b], c[b:] if len(hard_negatives) else None)

    def chunked_backward(
        self,
        queries: Sequence[str],
        codes: Sequence[str],
        hard_negatives: Sequence[str] = (),
        *,
        chunk: int,
        scale: float = 1.0,
    ) -> torch.Tensor:
        """``forward()``'s loss times ``scale``, back-propagated with gradient caching, so that memory
        follows ``chunk`` texts rather than the whole batch; returns the loss, detached.

        Every text is embedded once without gradient, the loss's gradient with respect to each
        embedding is kept, then each chunk is embedded again, now with gradient, and its cached
        gradient is back-propagated through it. Each chunk's random state (dropout) is restored for
        its second pass, so both passes draw the same masks and the gradients are those of one
        whole-batch pass: the negatives stay the batch's, only the activations held shrink.
        """
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        query_texts, code_texts = list(queries), [*codes, *hard_negatives]
        groups = [query_texts[i : i + chunk] for i in range(0, len(query_texts), chunk)]
        n_query_groups = len(groups)
        groups += [code_texts[i : i + chunk] for i in range(0, len(code_texts), chunk)]
        states, rows = [], []
        with torch.no_grad():
            for group in groups:
                states.append(_random_state())
                rows.append(self.embed(group))
        q = torch.cat(rows[:n_query_groups]).detach().requires_grad_(True)  # (B, D)
        c = torch.cat(rows[n_query_groups:]).detach().requires_grad_(True)  # (B + H, D)
        b = len(queries)
        loss = self.compute_loss_from_embeddings(q, c[:b], c[b:] if len(hard_negatives) else None)
        (loss * scale).backward()
        assert q.grad is not None and c.grad is not None
        cached = [*q.grad.split(chunk), *c.grad.split(chunk)]  # the rows of each group, in order
        for group, state, grad in zip(groups, states, cached, strict=True):
            _restore_random_state(state)
            self.embed(group).backward(grad)
        return loss.detach()

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
        per_pair = nn.functional.cross_entropy(scores, labels, reduction="none")  # (B,)
        margin = _margins(scores, labels) * self.temperature  # (B,) in cosine units
        if self.symmetric:
            all_q = gather_with_grad(q)  # (W*B, D)
            back = c @ all_q.T / self.temperature  # (B, W*B): each code against every query
            per_pair = (per_pair + nn.functional.cross_entropy(back, labels, reduction="none")) / 2
            margin = torch.minimum(margin, _margins(back, labels) * self.temperature)
        with torch.no_grad():
            if self.drop_margin is None:
                keep = torch.ones_like(per_pair, dtype=torch.bool)
            else:
                keep = margin < self.drop_margin  # (B,)
            carrying = keep & (per_pair.detach() >= NEGLIGIBLE_LOSS)
            self.last_counts = torch.stack([torch.tensor(b, device=q.device), keep.sum(), carrying.sum()])  # (3,)
        weights = keep.to(per_pair.dtype)  # (B,)
        # The mean over the pairs kept; with none kept the loss is 0 and its gradient too.
        return (per_pair * weights).sum() / weights.sum().clamp(min=1.0)


def _margins(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each row's positive score minus its best negative (-inf when a row has no negative: it is then
    never taken for separated)."""
    positive = scores.gather(1, labels[:, None]).squeeze(1)  # (B,)
    if scores.shape[1] < 2:
        return torch.full_like(positive, -torch.inf)
    negatives = scores.detach().scatter(1, labels[:, None], -torch.inf)  # (B, C)
    return positive.detach() - negatives.max(dim=1).values  # (B,)


def _random_state() -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The CPU generator's state and, where CUDA is in use, every device's."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return torch.get_rng_state(), cuda


def _restore_random_state(state: tuple[torch.Tensor, list[torch.Tensor]]) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda:
        torch.cuda.set_rng_state_all(cuda)
