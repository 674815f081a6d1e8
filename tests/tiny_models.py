"""Tiny, randomly initialised models built on the spot, so tests never download anything.

``build_tiny_roberta`` writes a RoBERTa-family encoder (the architecture of CodeBERT and
UniXcoder, 32 hidden units, 2 layers) with a byte-level BPE tokenizer trained on a few lines of
code, into a directory that ``Encoder(str(path))`` loads like any Hugging Face model directory.
It builds in well under a second; weights are fixed by ``seed``.

``train_tiny_adapter`` gives an encoder a LoRA adapter whose weights have really moved (a few
optimiser steps), for tests that need adapters that change the vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedding.encoder import Encoder

TINY_CORPUS: tuple[str, ...] = (
    "def add(a, b):\n    return a + b\n",
    "def read_config(path):\n    with open(path) as handle:\n        return json.load(handle)\n",
    "func Add(a int, b int) int {\n\treturn a + b\n}\n",
    "func (s *Server) Close() error {\n\tif s.conn == nil {\n\t\treturn nil\n\t}\n\treturn s.conn.Close()\n}\n",
    "function sum(items) { return items.reduce((a, b) => a + b, 0); }\n",
    "public int size() { return this.items.length; }\n",
    "for i in range(10):\n    print(i, i * i)\n",
    "class Stack:\n    def push(self, item):\n        self.items.append(item)\n",
)

_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # RoBERTa's, in RoBERTa's id order


def build_tiny_roberta(
    path: Path,
    *,
    seed: int = 0,
    hidden_size: int = 32,
    layers: int = 2,
    vocab_size: int = 400,
    max_length: int = 256,
) -> Path:
    """Write a tiny random RoBERTa model and its tokenizer to ``path``; returns ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    path.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(TINY_CORPUS, trainer)
    bpe.post_processor = processors.RobertaProcessing(
        ("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>"))
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=max_length,
    )
    tokenizer.save_pretrained(str(path))

    pad_id = bpe.token_to_id("<pad>")
    config = RobertaConfig(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        # RoBERTa numbers positions from pad_id + 1, so it needs that many spare slots.
        max_position_embeddings=max_length + pad_id + 1,
        pad_token_id=pad_id,
        bos_token_id=bpe.token_to_id("<s>"),
        eos_token_id=bpe.token_to_id("</s>"),
        type_vocab_size=1,
    )
    torch.manual_seed(seed)
    RobertaModel(config).save_pretrained(str(path))
    return path


def train_tiny_adapter(
    encoder: Encoder,
    name: str,
    *,
    seed: int = 0,
    steps: int = 5,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> None:
    """Create adapter ``name`` on ``encoder`` and train it for a few steps, pulling each pair of
    texts together (a cosine loss), so that its weights differ from zero and from other seeds'."""
    import torch

    from embedding.training.config import LoraSpec

    pairs = pairs or [(TINY_CORPUS[i], TINY_CORPUS[(i + 1 + seed) % len(TINY_CORPUS)]) for i in range(4)]
    torch.manual_seed(seed)
    params = encoder.create_adapter(name, LoraSpec(r=4, alpha=8))
    # LoRA starts with B = 0 (a no-op); random B makes the seeds diverge from the first step.
    with torch.no_grad():
        for param_name, param in encoder.model.named_parameters():
            if f"lora_B.{name}." in param_name:
                param.normal_(std=0.5)
    optimiser = torch.optim.AdamW(params, lr=5e-2)
    encoder.model.train()
    for _ in range(steps):
        left = encoder.encode_tensor([a for a, _ in pairs], adapter=name)  # (P, H)
        right = encoder.encode_tensor([b for _, b in pairs], adapter=name)  # (P, H)
        loss = (1.0 - (left * right).sum(dim=-1)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    encoder.model.eval()
