"""Nearest-neighbour hard negatives: real tree-sitter functions, true copies left out."""

from __future__ import annotations

import numpy as np

from embedding.extract import body_hash
from embedding.training.batching import hard_negatives_for
from embedding.training.negatives import mine_neighbours
from embedding.training.pairs import TrainingPair, function_key
from tests.factories import make_function

ORIGINAL = "def order_total(items, tax):\n    total = 0\n    for item in items:\n        total += item.price * item.qty\n    return total * (1 + tax)\n"
# The same function copied into another file (a trailing comment added): a true copy, same body hash.
COPY = ORIGINAL.replace("return total * (1 + tax)", "return total * (1 + tax)  # copied")
# Renamed locals and a changed constant: lexically near-identical, a different body hash.
NEAR_COPY = "def basket_sum(entries, rate):\n    acc = 0\n    for e in entries:\n        acc += e.price * e.qty\n    return acc * (2 + rate)\n"
UNRELATED = (
    "def parse_header(line):\n    key, _, value = line.partition(':')\n    return key.strip().lower(), value.strip()\n"
)
OTHER = "def read_config(path):\n    with open(path) as handle:\n        return [row.split('=') for row in handle if row.strip()]\n"


def _functions() -> list:
    codes = [("a.py", ORIGINAL), ("b.py", COPY), ("c.py", NEAR_COPY), ("d.py", UNRELATED), ("e.py", OTHER)]
    return [
        make_function(code, path=path, qualified_name=code.split("(")[0][4:], body_hash=body_hash("python", code))
        for path, code in codes
    ]


def _embed_all_alike(texts):  # every function equally near: only the exclusions decide
    out = np.ones((len(texts), 4), dtype=np.float32)
    out[:, 1:] = np.arange(len(texts))[:, None] * 1e-3
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _pair(fn) -> TrainingPair:
    return TrainingPair("text2code", "docstring", fn.language, fn.path, function_key(fn), "q", fn.code, fn.body_hash)


def test_true_copies_and_lexical_near_copies_are_never_neighbours() -> None:
    functions = _functions()
    assert functions[0].body_hash == functions[1].body_hash and functions[0].body_hash != functions[2].body_hash
    mined = mine_neighbours(_embed_all_alike, [_pair(fn) for fn in functions], functions, k=4)
    of_original = {c.code for c in mined.of(function_key(functions[0]))}
    assert of_original == {UNRELATED, OTHER}
    assert mined.excluded_copies >= 2


def test_neighbours_are_the_nearest_by_the_model() -> None:
    functions = _functions()
    vectors = {
        ORIGINAL: [1, 0, 0],
        COPY: [1, 0, 0],
        NEAR_COPY: [1, 0.01, 0],
        UNRELATED: [0.9, 0.3, 0],
        OTHER: [0, 0, 1],
    }

    def embed(texts):
        out = np.array([vectors[t] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    mined = mine_neighbours(embed, [_pair(fn) for fn in functions], functions, k=1)
    assert [c.code for c in mined.of(function_key(functions[0]))] == [UNRELATED]


def test_held_out_files_never_become_negatives() -> None:
    functions = _functions()
    train = [_pair(fn) for fn in functions if fn.path != "d.py"]
    mined = mine_neighbours(_embed_all_alike, train, functions, k=4)
    assert all(c.code != UNRELATED for row in mined.neighbours.values() for c in (mined.candidates[r] for r in row))


def test_batches_take_neighbour_negatives_off_the_batch() -> None:
    functions = _functions()
    mined = mine_neighbours(_embed_all_alike, [_pair(fn) for fn in functions], functions, k=4)
    batch = [_pair(functions[0]), _pair(functions[3])]
    negatives = hard_negatives_for(batch, {}, seed=0, neighbours=mined)
    assert negatives and UNRELATED not in negatives and ORIGINAL not in negatives and COPY not in negatives


def _distinct_bodies(n: int) -> list[str]:
    verbs = ["load", "parse", "merge", "split", "sort", "count", "render", "send", "close", "clean"]
    shapes = [
        "    return [x for x in {a} if x]\n",
        "    with open({a}) as fh:\n        return fh.read().{b}()\n",
        "    total = 0\n    for item in {a}:\n        total += len(item)\n    return total\n",
        "    if not {a}:\n        raise ValueError('{b}')\n    return {a}.{b}\n",
    ]
    return [
        f"def {verbs[i % 10]}_{i}({verbs[(i + 3) % 10]}):\n"
        + shapes[(i // 10) % 4].format(a=verbs[(i + 3) % 10], b=verbs[(i * 7) % 10])
        for i in range(n)
    ]


def test_a_capped_pool_embeds_the_pairs_functions_first_and_no_more_than_the_cap() -> None:
    many = [
        make_function(code, path=f"m{i % 4}.py", qualified_name=f"f{i}", body_hash=body_hash("python", code))
        for i, code in enumerate(_distinct_bodies(40))
    ]
    anchors = [many[3], many[17], many[30]]
    embedded: list[str] = []

    def embed(texts):
        embedded.extend(texts)
        return _embed_all_alike(texts)

    mined = mine_neighbours(embed, [_pair(fn) for fn in anchors], many, k=2, max_pool=10, seed=5)

    assert len(mined.candidates) == len(embedded) == 10
    assert {fn.code for fn in anchors} <= set(embedded)
    assert all(mined.of(function_key(fn)) for fn in anchors)
    rerun: list[str] = []
    mine_neighbours(
        lambda texts: (rerun.extend(texts), _embed_all_alike(texts))[1],
        [_pair(fn) for fn in anchors], many, k=2, max_pool=10, seed=5,
    )  # fmt: skip
    assert rerun == embedded  # seeded: the same sample every run
