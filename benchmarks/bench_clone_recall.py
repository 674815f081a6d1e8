"""Clone recall at fixed precision: cosine alone versus cosine combined with lexical similarity.

Functions of five lines or more are drawn from the running interpreter's standard library (a
seeded sample); a subset are "originals", and each original gets three synthetic clones
(``embedding.clones``): reformatted, renamed, renamed-and-edited. Non-clones are each original's
nearest different function in the pool by cosine (hard negatives, what a review's top-k search
returns; pool functions that are themselves near-copies of the original are skipped, see
``is_real_copy``) and a random pool function. Every pair is scored by cosine (the real base encoder) and
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
import difflib
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
from embedding.clones import COPY_KINDS, CloneKind, make_clone  # noqa: E402
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


def is_real_copy(a: str, b: str) -> bool:
    """Whether two pool functions are themselves near-copies: half or more of their lines identical.

    The standard library has dozens (``shutil.copy``/``copy2``, the UTF-16/UTF-32 codecs); such
    a pair is not a fair negative, since flagging it is what the verdict is for. Judged on raw
    lines, independently of both scores under test.
    """
    lines_a = [line.strip() for line in a.splitlines() if line.strip()]
    lines_b = [line.strip() for line in b.splitlines() if line.strip()]
    return difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False).ratio() >= 0.5


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
        for kind in COPY_KINDS:
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
        for j in np.argsort(-sims)[:20]:
            j = int(j)
            if not is_real_copy(pool[i].code, pool[j].code):
                pairs.append(Pair("hard", i, float(sims[j]), similarity(norm(i), norm(j))))
                break
        j = rng.randrange(len(pool) - 1)
        j += j >= i  # any function but the original
        pairs.append(Pair("random", i, float(pool_vecs[i] @ pool_vecs[j]), similarity(norm(i), norm(j))))
    timings["lexical"] = time.perf_counter() - started
    return pairs, timings


# --- thresholds ----------------------------------------------------------------------------------
class Scored:
    """One set of pairs as arrays, for fast threshold sweeps."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        self.cosine = np.array([p.cosine for p in pairs])
        self.lexical = np.array([p.lexical for p in pairs])
        self.positive = np.array([p.positive for p in pairs], dtype=bool)

    def scores(self, weight: float) -> np.ndarray:
        return combined_score(self.cosine, self.lexical, weight)  # type: ignore[return-value]

    def counts(self, weight: float, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flagged, true positives flagged) for ``score >= t`` at each threshold."""
        scores = self.scores(weight)
        all_sorted = np.sort(scores)
        pos_sorted = np.sort(scores[self.positive])
        flagged = len(all_sorted) - np.searchsorted(all_sorted, thresholds, side="left")
        hits = len(pos_sorted) - np.searchsorted(pos_sorted, thresholds, side="left")
        return flagged, hits

    def evaluate(self, weight: float, threshold: float) -> tuple[float, float]:
        """(recall, precision) of ``score >= threshold``."""
        flagged, hits = self.counts(weight, np.array([threshold]))
        positives = int(self.positive.sum())
        recall = float(hits[0]) / positives if positives else 0.0
        precision = float(hits[0]) / float(flagged[0]) if flagged[0] else 1.0
        return recall, precision

    def flagged_share(self, weight: float, threshold: float) -> float:
        """Share of the (negative) pairs at or above the threshold."""
        return float((self.scores(weight) >= threshold).mean()) if len(self.cosine) else 0.0


def lowest_threshold(
    sets: Sequence[Scored], weight: float, precision: float, hard: Scored | None = None, max_flagged: float = 1.0
) -> float:
    """The lowest threshold at which every set reaches ``precision`` and at most ``max_flagged`` of
    the ``hard`` negatives score at or above it (``inf`` when no threshold does)."""
    candidates = np.unique(np.concatenate([s.scores(weight)[s.positive] for s in sets]))
    ok = np.ones(len(candidates), dtype=bool)
    for s in sets:
        flagged, hits = s.counts(weight, candidates)
        ok &= (flagged > 0) & (hits >= precision * flagged)
    if hard is not None and len(hard.cosine):
        flagged, _ = hard.counts(weight, candidates)
        ok &= flagged <= max_flagged * len(hard.cosine)
    return float(candidates[ok].min()) if ok.any() else float("inf")


@dataclass(frozen=True)
class Calibration:
    weight: float
    duplicate: float
    related: float


def by_type(pairs: Sequence[Pair]) -> dict[str, Scored]:
    """Per clone type: its clones plus every negative (hard and random) of the same pairs."""
    negatives = [p for p in pairs if not p.positive]
    return {kind.value: Scored([p for p in pairs if p.kind == kind.value] + negatives) for kind in COPY_KINDS}


def calibrate(pairs: Sequence[Pair], args: argparse.Namespace) -> Calibration:
    """The lexical weight and thresholds at which every clone type keeps the precision asked for
    and few hard negatives are flagged. The weight is the smallest whose mean recall over clone
    types is within ``--recall-tolerance`` of the best: synthetic clones favour the lexical score
    (they are made of exactly the edits it ignores), so the embedding keeps what weight costs
    nothing measurable here, for the copies the lexical score cannot see."""
    sets = list(by_type(pairs).values())
    hard = Scored([p for p in pairs if p.kind == "hard"])
    results: list[tuple[float, float, float]] = []  # (weight, threshold, mean recall)
    for weight in WEIGHTS:
        t = lowest_threshold(sets, weight, args.precision, hard, args.max_hard_duplicate)
        results.append((weight, t, float(np.mean([s.evaluate(weight, t)[0] for s in sets]))))
    best_recall = max(recall for _, _, recall in results)
    weight, duplicate, _ = min(r for r in results if r[2] >= best_recall - args.recall_tolerance)
    related = min(lowest_threshold(sets, weight, args.related_precision, hard, args.max_hard_related), duplicate)
    return Calibration(weight, duplicate, related)


def split_halves(pairs: Sequence[Pair], seed: int) -> tuple[list[Pair], list[Pair]]:
    """Calibration and test halves, by original: a clone and its negatives stay together."""
    order = sorted({p.original for p in pairs})
    random.Random(seed).shuffle(order)
    calibration = set(order[::2])
    return [p for p in pairs if p.original in calibration], [p for p in pairs if p.original not in calibration]


def report(pairs: list[Pair], args: argparse.Namespace, timings: dict[str, float]) -> str:
    calib, test = split_halves(pairs, args.seed + 1)
    calib_sets, test_sets = by_type(calib), by_type(test)
    p95 = args.precision
    chosen = calibrate(calib, args)
    hard_calib = Scored([p for p in calib if p.kind == "hard"])
    hard_test = Scored([p for p in test if p.kind == "hard"])
    random_test = Scored([p for p in test if p.kind == "random"])

    means = ["| pair kind | n | cosine (mean ± sd) | lexical (mean ± sd) |", "|---|---:|---:|---:|"]
    for kind in [k.value for k in COPY_KINDS] + ["hard", "random"]:
        cos = [p.cosine for p in pairs if p.kind == kind]
        lex = [p.lexical for p in pairs if p.kind == kind]
        means.append(
            f"| {kind} | {len(cos)} | {np.mean(cos):.3f} ± {np.std(cos):.3f} | {np.mean(lex):.3f} ± {np.std(lex):.3f} |"
        )

    table = [
        f"| clone type | clones (test) | cosine alone: R@P{p95:.2f} | combined: R@P{p95:.2f} "
        "| at the defaults: recall | at the defaults: precision |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in COPY_KINDS:
        c, t = calib_sets[kind.value], test_sets[kind.value]
        cos_recall, _ = t.evaluate(0.0, lowest_threshold([c], 0.0, p95))
        comb_recall, _ = t.evaluate(chosen.weight, lowest_threshold([c], chosen.weight, p95))
        d_recall, d_prec = t.evaluate(chosen.weight, chosen.duplicate)
        table.append(
            f"| {kind.value} | {int(t.positive.sum())} | {cos_recall:.2f} | {comb_recall:.2f} "
            f"| {d_recall:.2f} | {d_prec:.2f} |"
        )

    sweep = [
        "| lexical weight | duplicate threshold (calibration) | mean recall (test) | renamed_edited recall (test) "
        "| worst precision (test) | hard negatives flagged (test) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for weight in WEIGHTS:
        t = lowest_threshold(list(calib_sets.values()), weight, p95, hard_calib, args.max_hard_duplicate)
        results = {kind: s.evaluate(weight, t) for kind, s in test_sets.items()}
        sweep.append(
            f"| {weight:.1f} | {t:.3f} | {np.mean([r for r, _ in results.values()]):.2f} "
            f"| {results['renamed_edited'][0]:.2f} | {min(p for _, p in results.values()):.2f} "
            f"| {hard_test.flagged_share(weight, t):.1%} |"
        )

    related = {kind: s.evaluate(chosen.weight, chosen.related) for kind, s in test_sets.items()}
    out = [
        f"Pool: {args.pool} standard-library functions of ≥{args.min_lines} lines, {args.originals} originals, "
        f"seed {args.seed}. Calibration half: {len(calib)} pairs; test half: {len(test)} pairs.",
        "",
        *means,
        "",
        f"Recall at precision {p95:.2f} on the test half, per clone type (that type's clones against every "
        "negative: hard and random); thresholds chosen on the calibration half:",
        "",
        *table,
        "",
        f"Lexical weight sweep (duplicate threshold: the lowest at which every clone type keeps precision "
        f"{p95:.2f} and at most {args.max_hard_duplicate:.0%} of hard negatives are flagged, on the calibration half):",
        "",
        *sweep,
        "",
        f"Recommended defaults (calibration half): lexical_weight = {chosen.weight:.1f}, "
        f"duplicate_threshold = {chosen.duplicate:.3f}, related_threshold = {chosen.related:.3f} "
        f"(related: precision ≥ {args.related_precision:.2f} per clone type, at most {args.max_hard_related:.0%} "
        "of hard negatives).",
        f"On the test half at these defaults: hard negatives flagged duplicate {hard_test.flagged_share(chosen.weight, chosen.duplicate):.1%}, "
        f"related or above {hard_test.flagged_share(chosen.weight, chosen.related):.1%}; random pairs flagged "
        f"{random_test.flagged_share(chosen.weight, chosen.related):.1%}; related recall "
        + ", ".join(f"{k} {r:.2f} (precision {p:.2f})" for k, (r, p) in related.items())
        + ".",
        "",
        "Timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
        f"Machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=2500, help="stdlib functions in the pool (default 2500)")
    parser.add_argument("--originals", type=int, default=800, help="functions cloned (default 800)")
    parser.add_argument("--min-lines", type=int, default=5, help="minimum function length (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--precision", type=float, default=0.95, help="precision for the duplicate threshold")
    parser.add_argument(
        "--max-hard-duplicate",
        type=float,
        default=0.03,
        help="most hard negatives the duplicate threshold may flag (default 0.03: a review compares every "
        "changed function with its nearest neighbours, so this is the false-alarm rate a user sees)",
    )
    parser.add_argument(
        "--max-hard-related",
        type=float,
        default=0.10,
        help="most hard negatives the related threshold may flag (default 0.10)",
    )
    parser.add_argument(
        "--recall-tolerance",
        type=float,
        default=0.01,
        help="take the smallest lexical weight whose mean recall is this close to the best (default 0.01)",
    )
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
