"""Batches without false negatives: no two pairs of a batch share a function or a body hash.

In-batch negatives are only negatives if they are different functions. The same function can
yield several pairs (doc text, identifiers, a synthetic clone, an older version), and copied
functions share a body hash; putting two such pairs in one batch would push a function away from
itself. The batcher deals pairs, in a seeded shuffled order, into the first open batch that holds
neither the function nor the body hash yet.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from embedding.training.pairs import TrainingPair, function_key

if TYPE_CHECKING:
    from embedding.training.negatives import NeighbourNegatives


@dataclass(frozen=True)
class Batch:
    pairs: tuple[TrainingPair, ...]
    hard_negatives: tuple[str, ...] = ()  # code of other functions: same file or nearest neighbours


_GROUP_WINDOW = 64  # batches' worth of shuffled pairs sorted together when grouping by length


def length_group_key(pair: TrainingPair) -> tuple[str, str, int]:
    """Sort key that puts pairs of one kind, language and similar length together: doc-text pairs
    (short queries) apart from code→code pairs (code on both sides), each language apart (another
    language's code is a negative any model already tells apart), then by characters."""
    return pair.kind, pair.language, len(pair.query) + len(pair.code)


def make_batches(
    pairs: Sequence[TrainingPair],
    batch_size: int,
    *,
    seed: int = 0,
    drop_last: bool = True,
    group_by_length: bool = False,
) -> list[list[TrainingPair]]:
    """Pairs grouped into batches of ``batch_size`` with distinct functions and body hashes.

    Pairs that cannot be placed without a clash (a function with more pairs than there are
    batches) start new batches; with ``drop_last`` incomplete batches are dropped, which keeps
    batch shapes equal across processes and the number of negatives constant.

    ``group_by_length`` sorts each window of 64 batches' worth of shuffled pairs by kind, language
    and length before dealing them out, so a batch pads to little more than its own texts (a batch
    of doc-text pairs then pads its queries to a docstring's length, not to a function's) and its
    in-batch negatives share its pairs' language. Batch order stays shuffled, and every epoch's
    windows differ.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = list(pairs)
    random.Random(seed).shuffle(order)
    if group_by_length:
        window = batch_size * _GROUP_WINDOW
        order = [
            p
            for start in range(0, len(order), window)
            for p in sorted(order[start : start + window], key=length_group_key)
        ]
    open_batches: list[tuple[list[TrainingPair], set[str], set[str]]] = []
    full: list[list[TrainingPair]] = []
    for pair in order:
        for i, (members, keys, hashes) in enumerate(open_batches):
            if pair.function_key not in keys and pair.body_hash not in hashes:
                members.append(pair)
                keys.add(pair.function_key)
                hashes.add(pair.body_hash)
                if len(members) == batch_size:
                    full.append(members)
                    del open_batches[i]
                break
        else:
            open_batches.append(([pair], {pair.function_key}, {pair.body_hash}))
            if batch_size == 1:
                full.append(open_batches.pop()[0])
    if not drop_last:
        full.extend(members for members, _, _ in open_batches)
    random.Random(seed + 1).shuffle(full)
    return full


def hard_negatives_for(
    batch: Sequence[TrainingPair],
    by_path: dict[str, list[tuple[str, str, str]]],
    *,
    seed: int = 0,
    neighbours: NeighbourNegatives | None = None,
) -> list[str]:
    """One hard negative per pair that is no function and no body hash of the batch.

    It comes from the pair's file (``by_path`` maps a path to (function key, body hash, code) of
    its functions) and from its nearest neighbours (``neighbours``, see ``negatives.py``): one of
    them at random when both are given.
    """
    keys = {p.function_key for p in batch}
    hashes = {p.body_hash for p in batch}
    rng = random.Random(seed)
    picked: list[str] = []
    for pair in batch:
        options = [(k, h, code) for k, h, code in by_path.get(pair.path, ()) if k not in keys and h not in hashes]
        if neighbours is not None:
            options += [
                (c.key, c.body_hash, c.code)
                for c in neighbours.of(pair.function_key)
                if c.key not in keys and c.body_hash not in hashes
            ]
        if options:
            key, body, code = rng.choice(options)
            keys.add(key)
            hashes.add(body)
            picked.append(code)
    return picked


def functions_by_path(functions: Sequence) -> dict[str, list[tuple[str, str, str]]]:  # type: ignore[type-arg]
    """Index of ``CodeFunction``s per path, for ``hard_negatives_for``."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for fn in functions:
        out.setdefault(fn.path, []).append((function_key(fn), fn.body_hash, fn.code))
    return out
