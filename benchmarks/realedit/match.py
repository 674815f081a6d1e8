"""Old and new versions of the same functions, and new functions with no old counterpart (pure).

Functions are matched by (path, qualified name). When a file is gone from the new release's
point of view (its path does not exist in the old one), a function is matched to the old
function of the same qualified name in the one old file of the same base name (a directory
move), else to the one old function of that qualified name anywhere. Similarity is the set
Jaccard over token 3-grams of the raw ``code_tokens`` texts: identifiers kept as written, so that
it measures how much of the text the edit kept, independently of doppel's own lexical score.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.domain import CodeFunction
from embedding.extract import code_tokens

NGRAM = 3
LOW, HIGH = 0.3, 0.95  # pairs kept: LOW <= J <= HIGH (above HIGH the copy is trivially close)
NEGATIVE_MAX_JACCARD = 0.3  # a negative's best Jaccard against every old function stays below this
BANDS: tuple[tuple[str, float, float], ...] = (("0.3-0.5", 0.3, 0.5), ("0.5-0.7", 0.5, 0.7), ("0.7-0.95", 0.7, 0.95))

Shingles = frozenset[tuple[str, ...]]


def shingles(language: str, code: str, n: int = NGRAM) -> Shingles:
    """The set of token ``n``-grams of ``code`` (a function shorter than ``n`` tokens is one gram)."""
    texts = [token.text for token in code_tokens(language, code)]
    if len(texts) < n:
        return frozenset({tuple(texts)}) if texts else frozenset()
    return frozenset(tuple(texts[i : i + n]) for i in range(len(texts) - n + 1))


def jaccard(a: Shingles, b: Shingles) -> float:
    if not a and not b:
        return 1.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def band_of(value: float) -> str | None:
    """The Jaccard band a pair falls in (``0.3-0.5`` …), ``None`` outside 0.3–0.95."""
    for name, low, high in BANDS:
        if low <= value < high or (high == HIGH and value == HIGH):
            return name
    return None


def in_band(value: float, low: float = LOW, high: float = HIGH) -> bool:
    return low <= value <= high


def key(fn: CodeFunction) -> tuple[str, str]:
    return fn.path, fn.qualified_name


def nested(functions: Sequence[CodeFunction]) -> set[tuple[str, str, int]]:
    """(path, qualified name, start line) of the functions that lie inside another function of their file.

    Such an inner function travels with its outer one: placed on its own it would be found twice.
    """
    by_path: dict[str, list[CodeFunction]] = defaultdict(list)
    for fn in functions:
        by_path[fn.path].append(fn)
    inner: set[tuple[str, str, int]] = set()
    for fns in by_path.values():
        ordered = sorted(fns, key=lambda f: (f.start_line, -f.end_line))
        open_ends: list[int] = []  # end lines of the enclosing functions still open
        for fn in ordered:
            # One that ends before this one does cannot hold it: a sibling
            # may end on the very line where this one starts (`}, function onRejected(r) {`).
            while open_ends and open_ends[-1] < fn.end_line:
                open_ends.pop()
            if open_ends and fn.end_line <= open_ends[-1]:
                inner.add((fn.path, fn.qualified_name, fn.start_line))
            open_ends.append(fn.end_line)
    return inner


def units(functions: Sequence[CodeFunction]) -> list[CodeFunction]:
    """The functions that can be paired or placed: not nested, (path, qualified name) unique in the release."""
    inner = nested(functions)
    counts = Counter(key(fn) for fn in functions)
    return [fn for fn in functions if counts[key(fn)] == 1 and (fn.path, fn.qualified_name, fn.start_line) not in inner]


def match_functions(
    old: Sequence[CodeFunction], new: Sequence[CodeFunction]
) -> list[tuple[CodeFunction, CodeFunction]]:
    """(old, new) for each new function that has an old counterpart, by path and qualified name.

    Both sides should be ``units``. The moved-file rule applies only when the new path does not
    exist in the old release: the same qualified name in the unique old file of the same base name
    (a directory move), else the unique old function of that qualified name anywhere.
    """
    by_key = {key(fn): fn for fn in old}
    old_paths = {fn.path for fn in old}
    by_name: dict[str, list[CodeFunction]] = defaultdict(list)
    for fn in old:
        by_name[fn.qualified_name].append(fn)
    pairs: list[tuple[CodeFunction, CodeFunction]] = []
    for fn in new:
        found = by_key.get(key(fn))
        if found is None and fn.path not in old_paths:
            candidates = by_name.get(fn.qualified_name, [])
            basename = PurePosixPath(fn.path).name
            same_base = [c for c in candidates if PurePosixPath(c.path).name == basename]
            if len(same_base) == 1:
                found = same_base[0]
            elif len(candidates) == 1:
                found = candidates[0]
        if found is not None:
            pairs.append((found, fn))
    return pairs


@dataclass(frozen=True)
class Pair:
    """A function at the old release and its version at the new one, with their token Jaccard."""

    old: CodeFunction
    new: CodeFunction
    jaccard: float

    @property
    def band(self) -> str | None:
        return band_of(self.jaccard)


def select_pairs(
    matches: Iterable[tuple[CodeFunction, CodeFunction]], cap: int, seed: int, low: float = LOW, high: float = HIGH
) -> list[Pair]:
    """The matches whose Jaccard lies in [low, high], a seeded sample of at most ``cap``, in path order."""
    kept = []
    for old, new in matches:
        value = jaccard(shingles(old.language, old.code), shingles(new.language, new.code))
        if in_band(value, low, high):
            kept.append(Pair(old, new, value))
    if len(kept) > cap:
        kept = random.Random(seed).sample(kept, cap)
    return sorted(kept, key=lambda p: key(p.new))


class GramIndex:
    """Old functions' 3-gram sets with an inverted index, for exact best-Jaccard look-ups.

    A gram shared with almost every function says nothing; the look-up counts shared grams only
    through the postings it visits, so the cost is the postings of the query's grams, not the
    number of old functions times their size.
    """

    def __init__(self, grams: Sequence[Shingles]) -> None:
        self._sizes = [len(g) for g in grams]
        self._postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for index, gram_set in enumerate(grams):
            for gram in gram_set:
                self._postings[gram].append(index)

    def best(self, query: Shingles) -> float:
        """The largest Jaccard between ``query`` and any indexed set (0 when none shares a gram)."""
        shared: Counter[int] = Counter()
        for gram in query:
            shared.update(self._postings.get(gram, ()))
        best = 0.0
        for index, count in shared.items():
            best = max(best, count / (len(query) + self._sizes[index] - count))
        return best


def select_negatives(
    old: Sequence[CodeFunction],
    new: Sequence[CodeFunction],
    cap: int,
    seed: int,
    max_jaccard: float = NEGATIVE_MAX_JACCARD,
    grams: GramIndex | None = None,
) -> list[CodeFunction]:
    """New functions with no counterpart and no lexical near-copy in ``old``, a seeded sample of ≤ ``cap``.

    No counterpart: the qualified name occurs nowhere in the old release. No near-copy: the best
    Jaccard against every old function stays below ``max_jaccard``. Candidates are visited in a
    seeded order and checked until ``cap`` are found, so a large release costs only what it needs.
    """
    old_names = {fn.qualified_name for fn in old}
    candidates = [fn for fn in new if fn.qualified_name not in old_names]
    random.Random(seed).shuffle(candidates)
    index = grams if grams is not None else GramIndex([shingles(fn.language, fn.code) for fn in old])
    chosen: list[CodeFunction] = []
    for fn in candidates:
        if len(chosen) >= cap:
            break
        if index.best(shingles(fn.language, fn.code)) < max_jaccard:
            chosen.append(fn)
    return sorted(chosen, key=key)


def sample_base(
    files: Mapping[str, Sequence[CodeFunction]], keep: Iterable[str], cap: int, seed: int
) -> tuple[list[str], bool]:
    """The base's files: all when they hold ≤ ``cap`` functions; else the ``keep`` files (the
    originals') plus a seeded sample of the others up to about ``cap`` functions. Also says whether
    it sampled."""
    total = sum(len(fns) for fns in files.values())
    if total <= cap:
        return sorted(files), False
    chosen = {path for path in keep if path in files}
    budget = cap - sum(len(files[path]) for path in chosen)
    others = sorted(set(files) - chosen)
    random.Random(seed).shuffle(others)
    for path in others:
        if budget <= 0:
            break
        if len(files[path]) <= budget:
            chosen.add(path)
            budget -= len(files[path])
    return sorted(chosen), True
