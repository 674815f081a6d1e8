"""Clone recall at fixed precision: cosine alone versus cosine combined with lexical similarity.

Functions of five lines or more are drawn from the running interpreter's standard library (a
seeded sample); a subset are "originals", and each original gets three synthetic clones
(``embedding.clones``): reformatted, renamed, renamed-and-edited. Non-clones are each original's
nearest different function in the pool by cosine (hard negatives, what a review's top-k search
returns) and a random pool function. Every pair is scored by cosine (the real base encoder) and
by the combined verdict score for a grid of lexical weights.

The originals are split in two halves: thresholds (and the lexical weight) are chosen on the
calibration half and the recall and precision they give are reported on the other half, so the
figures are not fitted to the data they describe. Prints a side-by-side table, the defaults it
recommends (duplicate: precision ≥ 0.95; related: precision ≥ 0.80) and, with ``--markdown``,
writes the same as a results page.

    .venv/bin/python benchmarks/bench_clone_recall.py --originals 400 --pool 3000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.domain import CodeFunction  # noqa: E402
from embedding.clones import CloneKind, make_clone  # noqa: E402
from embedding.extract import ExtractOptions, extract_source  # noqa: E402
from embedding.lexical import NormalizedCode, normalize, similarity  # noqa: E402
from embedding.verdict import combined_score  # noqa: E402

WEIGHTS = tuple(round(w * 0.1, 1) for w in range(11))
NEGATIVE = "negative"
_SKIP_PARTS = {"test", "tests", "idlelib", "site-packages", "lib2to3", "turtledemo", "__pycache__", "ensurepip"}


@dataclass(frozen=True)
class Pair:
    kind: str  # a CloneKind value, "hard" or "random"
    original: int  # index of the original in the pool: decides the half
    cosine: float
    lexical: float

    @property
    def positive(self) -> bool:
        return self.kind not in ("hard", "random")


# --- data ----------------------------------------------------------------------------------------
def stdlib_functions(pool_size: int, min_lines: int, rng: random.Random) -> list[CodeFunction]:
    """A seeded sample of distinct functions from the standard library (tests and vendored code excluded)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if not (_SKIP_PARTS & set(p.relative_to(root).parts)))
    rng.shuffle(files)
    options = ExtractOptions(min_function_lines=min_lines, languages=("python",))
    pool: list[CodeFunction] = []
    seen: set[str] = set()
    for path in files:
        result = extract_source(str(path.relative_to(root)), path.read_bytes(), options)
        for fn in result.functions:
            if fn.body_hash not in seen and len(fn.code) < 6000:
                seen.add(fn.body_hash)
                pool.append(fn)
        if len(pool) >= pool_size * 2:
            break
    rng.shuffle(pool)
    return pool[:pool_size]


def embed(texts: Sequence[str], args: argparse.Namespace) -> np.ndarray:
    from embedding.cache import EmbeddingCache
    from embedding.encoder import Encoder

    cache = EmbeddingCache(args.cache) if args.cache is not None else None
    encoder = Encoder("default", max_length=args.max_length, batch_size=args.batch_size, device="cpu", cache=cache)
    # In chunks, so that an interrupted run has cached what it embedded and the next one resumes.
    chunks = []
    for start in range(0, len(texts), 512):
        chunks.append(encoder.embed_texts(list(texts[start : start + 512]), progress=False))
        print(f"embedded {min(start + 512, len(texts))}/{len(texts)}", file=sys.stderr, flush=True)
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), dtype=np.float32)


def build_pairs(args: argparse.Namespace) -> tuple[list[Pair], dict[str, float]]:
    rng = random.Random(args.seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    pool = stdlib_functions(args.pool, args.min_lines, rng)
    originals = rng.sample(range(len(pool)), min(args.originals, len(pool)))
    clones: list[tuple[int, CloneKind, str]] = []
    for i in originals:
        for kind in CloneKind:
            clone = make_clone("python", pool[i].code, kind, seed=rng.randrange(2**31))
            clones.append((i, kind, clone.code))
    timings["extract + clone"] = time.perf_counter() - started

    started = time.perf_counter()
    # Code only on both sides: the verdict is measured on code, not on docstrings a copy may drop.
    vectors = embed([fn.code for fn in pool] + [code for _, _, code in clones], args)
    pool_vecs, clone_vecs = vectors[: len(pool)], vectors[len(pool) :]
    timings["embed"] = time.perf_counter() - started

    started = time.perf_counter()
    normalized: dict[int, NormalizedCode] = {}

    def norm(i: int) -> NormalizedCode:
        if i not in normalized:
            normalized[i] = normalize("python", pool[i].code)
        return normalized[i]

    pairs: list[Pair] = []
    for (i, kind, code), vec in zip(clones, clone_vecs, strict=True):
        lexical = similarity(norm(i), normalize("python", code))
        pairs.append(Pair(kind.value, i, float(pool_vecs[i] @ vec), lexical))
    for i in originals:
        sims = pool_vecs @ pool_vecs[i]  # (pool,)
        sims[i] = -2.0
        for j in np.argsort(-sims)[:5]:
            j = int(j)
            # A pool function identical to the original up to names and literals is a real clone
            # (the standard library has a few): not a fair negative.
            if norm(j).shape != norm(i).shape:
                pairs.append(Pair("hard", i, float(sims[j]), similarity(norm(i), norm(j))))
                break
        j = rng.randrange(len(pool) - 1)
        j += j >= i  # any function but the original
        pairs.append(Pair("random", i, float(pool_vecs[i] @ pool_vecs[j]), similarity(norm(i), norm(j))))
    timings["lexical"] = time.perf_counter() - started
    return pairs, timings


# --- thresholds ----------------------------------------------------------------------------------
def score(pair: Pair, weight: float) -> float:
    return combined_score(pair.cosine, pair.lexical, weight)


def threshold_at_precision(pairs: Sequence[Pair], weight: float, precision: float) -> float:
    """The lowest score threshold whose precision is at least ``precision`` (max recall there)."""
    ranked = sorted(pairs, key=lambda p: score(p, weight), reverse=True)
    best = float("inf")
    hits = 0
    for n, pair in enumerate(ranked, start=1):
        hits += pair.positive
        if hits / n >= precision and pair.positive:
            best = score(pair, weight)
    return best


def evaluate(pairs: Sequence[Pair], weight: float, threshold: float) -> tuple[float, float]:
    """(recall, precision) of ``score >= threshold``."""
    flagged = [p for p in pairs if score(p, weight) >= threshold]
    positives = sum(p.positive for p in pairs)
    hits = sum(p.positive for p in flagged)
    recall = hits / positives if positives else 0.0
    precision = hits / len(flagged) if flagged else 1.0
    return recall, precision


@dataclass(frozen=True)
class Calibration:
    weight: float
    duplicate: float
    related: float


def calibrate(pairs: Sequence[Pair], duplicate_precision: float, related_precision: float) -> Calibration:
    """The weight maximising pooled recall at ``duplicate_precision``, and both thresholds for it."""
    best: tuple[float, float, float] | None = None
    for weight in WEIGHTS:
        t = threshold_at_precision(pairs, weight, duplicate_precision)
        recall, _ = evaluate(pairs, weight, t)
        if best is None or recall > best[0] + 1e-9:
            best = (recall, weight, t)
    assert best is not None
    _, weight, duplicate = best
    related = min(threshold_at_precision(pairs, weight, related_precision), duplicate)
    return Calibration(weight, duplicate, related)


def report(pairs: list[Pair], args: argparse.Namespace, timings: dict[str, float]) -> str:
    halves = {0: [], 1: []}  # type: dict[int, list[Pair]]
    order = sorted({p.original for p in pairs})
    random.Random(args.seed + 1).shuffle(order)
    half_of = {o: n % 2 for n, o in enumerate(order)}
    for p in pairs:
        halves[half_of[p.original]].append(p)
    calib, test = halves[0], halves[1]
    negatives_c = [p for p in calib if not p.positive]
    negatives_t = [p for p in test if not p.positive]
    precision = args.precision

    lines = [
        "| clone type | n (test) | cosine R@P95 | combined R@P95 | at defaults: recall | at defaults: precision |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    pooled = calibrate(calib, precision, args.related_precision)
    for kind in CloneKind:
        c = [p for p in calib if p.kind == kind.value] + negatives_c
        t = [p for p in test if p.kind == kind.value] + negatives_t
        cos_t = threshold_at_precision(c, 0.0, precision)
        cos_recall, _ = evaluate(t, 0.0, cos_t)
        w_t = threshold_at_precision(c, pooled.weight, precision)
        comb_recall, _ = evaluate(t, pooled.weight, w_t)
        d_recall, d_prec = evaluate(t, pooled.weight, pooled.duplicate)
        lines.append(
            f"| {kind.value} | {sum(p.positive for p in t)} | {cos_recall:.2f} | {comb_recall:.2f} "
            f"| {d_recall:.2f} | {d_prec:.2f} |"
        )
    all_recall, all_prec = evaluate(test, pooled.weight, pooled.duplicate)
    rel_recall, rel_prec = evaluate(test, pooled.weight, pooled.related)
    hard = [p for p in test if p.kind == "hard"]
    hard_fp = sum(score(p, pooled.weight) >= pooled.duplicate for p in hard) / max(len(hard), 1)
    hard_rel = sum(score(p, pooled.weight) >= pooled.related for p in hard) / max(len(hard), 1)
    cos_pool_t = threshold_at_precision(calib, 0.0, precision)
    cos_pool_recall, cos_pool_prec = evaluate(test, 0.0, cos_pool_t)
    lines.append(
        f"| all clones | {sum(p.positive for p in test)} | {cos_pool_recall:.2f} | - | {all_recall:.2f} | {all_prec:.2f} |"
    )

    def mean(kind: str, attr: str) -> str:
        values = [getattr(p, attr) for p in pairs if p.kind == kind]
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "-"

    means = ["| pair kind | n | cosine (mean ± sd) | lexical (mean ± sd) |", "|---|---:|---:|---:|"]
    for kind in [k.value for k in CloneKind] + ["hard", "random"]:
        n = sum(p.kind == kind for p in pairs)
        means.append(f"| {kind} | {n} | {mean(kind, 'cosine')} | {mean(kind, 'lexical')} |")

    out = [
        f"Pool: {args.pool} stdlib functions (≥{args.min_lines} lines), {args.originals} originals, seed {args.seed}; "
        f"calibration half {len(calib)} pairs, test half {len(test)} pairs.",
        "",
        *means,
        "",
        f"Recall at precision {precision:.2f} on the test half (thresholds chosen on the calibration half; "
        f"per clone type, precision against all negatives):",
        "",
        *lines,
        "",
        f"Recommended defaults (from the calibration half): lexical_weight = {pooled.weight:.1f}, "
        f"duplicate_threshold = {pooled.duplicate:.3f}, related_threshold = {pooled.related:.3f}.",
        f"On the test half: duplicate recall {all_recall:.2f} at precision {all_prec:.2f}; related recall "
        f"{rel_recall:.2f} at precision {rel_prec:.2f}; hard negatives flagged duplicate {hard_fp:.1%}, "
        f"related or above {hard_rel:.1%}.",
        f"Cosine alone at precision {precision:.2f}: threshold {cos_pool_t:.3f} "
        f"(recall {cos_pool_recall:.2f}, precision {cos_pool_prec:.2f} on the test half).",
        "",
        "Timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
        f"Machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=2500, help="stdlib functions in the pool (default 2500)")
    parser.add_argument("--originals", type=int, default=400, help="functions cloned (default 400)")
    parser.add_argument("--min-lines", type=int, default=5, help="minimum function length (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--precision", type=float, default=0.95, help="precision for the duplicate threshold")
    parser.add_argument("--related-precision", type=float, default=0.80, help="precision for the related threshold")
    parser.add_argument("--max-length", type=int, default=256, help="encoder token limit (default 256, as indexed)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--cache", type=Path, default=None, help="embedding cache (SQLite) to reuse vectors across runs"
    )
    parser.add_argument("--markdown", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    pairs, timings = build_pairs(args)
    text = report(pairs, args, timings)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
