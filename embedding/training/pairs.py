"""Training pairs mined from a repository's own functions: pure functions over ``CodeFunction``.

Two kinds of pair teach two skills:

- ``text2code``: (doc text, the function's code without its doc) for documented functions, and
  (identifier words of name and signature, body) as a weaker source tagged ``identifiers``;
- ``code2code``: the same function at two commits where it changed modestly (``history``), and
  synthetic clones and edits from ``embedding.clones`` (renamed copies, and the edits real changes
  resemble: a parameter added, type hints, a branch changed, a helper extracted, statements
  reordered, an equivalent call) tagged ``synthetic``.

Every pair remembers the function it came from (``function_key``) and that function's body hash,
so batches can avoid false negatives, and its file, so the train/validation/test split is made
BY FILE (a file's functions all land in the same split; nothing about a held-out file is seen in
training). Reading files and git history lives in ``mining.py``.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from core.domain import CodeFunction, text_hash

PairKind = Literal["text2code", "code2code"]
Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Declaration keywords and receivers: in every signature, so they say nothing about the function.
_SIGNATURE_NOISE = frozenset(
    "def async func function fn pub public private protected internal static void const let var self this cls "
    "final override virtual inline extern unsafe mut abstract synchronized sub".split()
)
# Doc text that carries no meaning worth learning from.
_BOILERPLATE = re.compile(r"^\s*(todo|fixme|xxx|deprecated|see\b|override|inheritdoc|\{@inheritdoc\})", re.I)
# A block tag of PHPDoc, JSDoc, YARD, Javadoc, Doxygen or epytext, where the summary ends: the
# text after it is a parameter list, types or annotations. Inline tags ({@link …}) are not matched.
_BLOCK_TAG = re.compile(
    r"(?:^|(?<=\s))@(?:param|returns?|throws?|exception|raises?|rtype|type|var|ivar|cvar|keyword|kwarg|arg"
    r"|see|sa|since|deprecated|api|option|yield\w*|example|note|internal|author|version|todo|link"
    r"|psalm-[\w-]+|phpstan-[\w-]+|template\w*|extends|implements|inheritdoc|override|final|abstract"
    r"|private|public|protected|access|package|subpackage|category|license|copyright|uses|method"
    r"|property(?:-read|-write)?|mixin|global|ignore|group|covers\w*|dataProvider|depends|readonly"
    r"|pure|immutable|overload|callback|memberof|namespace|module|typedef|enum|constant|fires|event"
    r"|async|generator|class|constructor|augments|lends|this|emits|tparam|retval|pre|post|details)(?=[\s{(\[]|$)",
    re.I,
)
_SUMMARY_TAG = re.compile(r"^@(?:brief|summary|description|desc)\b:?\s*", re.I)


@dataclass(frozen=True)
class TrainingPair:
    """One positive pair: ``query`` (text, or another version of the code) and the function's ``code``.

    ``clone_type`` is set for synthetic pairs: the ``embedding.clones.CloneKind`` that made the
    query (``renamed``, ``renamed_edited``, ``added_parameter``, ``changed_branch`` …).
    """

    kind: PairKind
    source: str  # docstring | identifiers | history | synthetic
    language: str
    path: str
    function_key: str
    query: str
    code: str
    body_hash: str
    split: Split = "train"
    clone_type: str | None = None

    @property
    def dedup_key(self) -> tuple[str, str, str]:
        return (self.kind, text_hash(self.query), text_hash(self.code))


def function_key(fn: CodeFunction) -> str:
    """Identity of a function within a repository (path and qualified name)."""
    return f"{fn.path}::{fn.qualified_name}"


def identifier_words(text: str) -> list[str]:
    """Lower-case words of identifiers: ``parseHTTPResponse_v2`` → parse, http, response, v, 2."""
    words: list[str] = []
    for ident in _IDENT.findall(text):
        words.extend(w.lower() for w in _WORD.findall(ident))
    return words


def clean_doc(doc: str) -> str:
    """The doc text used as a query: its first paragraph up to its first block tag (``@param``,
    ``@return``, …), whitespace collapsed; empty when the doc is only tags.

    The summary says what the function does; parameter lists, types and examples that follow
    mostly repeat the code and would make the task too easy. A ``@brief``/``@summary`` tag
    introduces the summary and is dropped.
    """
    paragraph = _SUMMARY_TAG.sub("", re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0].strip())
    tag = _BLOCK_TAG.search(paragraph)
    return " ".join((paragraph[: tag.start()] if tag else paragraph).split())


def strip_signature(fn: CodeFunction) -> str:
    """The body: the code after the signature (the first line when the signature is not found)."""
    code = fn.code
    sig = fn.signature.strip()
    if sig and sig in code:
        rest = code.split(sig, 1)[1]
        return rest.lstrip(" :{\t\r\n") if rest.strip() else code
    lines = code.splitlines()
    return "\n".join(lines[1:]) if len(lines) > 1 else code


def text_pairs(
    functions: Iterable[CodeFunction], *, identifiers: bool = True, min_query_chars: int = 12
) -> list[TrainingPair]:
    """text→code pairs: doc text → code (without doc), and identifier words → body (tagged)."""
    pairs: list[TrainingPair] = []
    for fn in functions:
        key = function_key(fn)
        if fn.docstring:
            doc = clean_doc(fn.docstring)
            if len(doc) >= min_query_chars and not _BOILERPLATE.match(doc):
                pairs.append(
                    TrainingPair("text2code", "docstring", fn.language, fn.path, key, doc, fn.code, fn.body_hash)
                )
        if identifiers:
            words = [w for w in identifier_words(fn.signature or fn.name) if w not in _SIGNATURE_NOISE]
            query = " ".join(words)
            body = strip_signature(fn)
            if len(query) >= min_query_chars and body.strip() and body != fn.code:
                pairs.append(
                    TrainingPair("text2code", "identifiers", fn.language, fn.path, key, query, body, fn.body_hash)
                )
    return pairs


def history_pair(
    old: CodeFunction, new: CodeFunction, *, min_ratio: float = 0.5, max_ratio: float = 0.97
) -> TrainingPair | None:
    """(old version → new version) when the function changed modestly, else ``None``.

    Identical bodies teach nothing and rewrites are no longer "the same function"; the similarity
    ratio of their lines decides (difflib's quick ratio on lines).
    """
    if old.body_hash == new.body_hash or old.language != new.language:
        return None
    ratio = line_similarity(old.code, new.code)
    if not min_ratio <= ratio <= max_ratio:
        return None
    return TrainingPair(
        "code2code", "history", new.language, new.path, function_key(new), old.code, new.code, new.body_hash
    )


def line_similarity(a: str, b: str) -> float:
    """Similarity of two texts by their stripped lines (0..1), as difflib's ratio."""
    import difflib

    left = [line.strip() for line in a.splitlines() if line.strip()]
    right = [line.strip() for line in b.splitlines() if line.strip()]
    return difflib.SequenceMatcher(a=left, b=right, autojunk=False).ratio()


def synthetic_pairs(
    functions: Iterable[CodeFunction],
    *,
    per_function: int = 1,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
) -> list[TrainingPair]:
    """code→code pairs from synthetic clones and edits (``embedding.clones``), tagged with their kind.

    Each function's clones take turns through ``kinds`` (default ``TRAINING_KINDS``: the renamed
    copies and every edit a real change resembles) from a seeded start; a kind with nothing to
    edit in that function (no ``if`` to change, say) passes to the next, so a function still gets
    its ``per_function`` clones while any kind applies.
    """
    from embedding.clones import TRAINING_KINDS, CloneKind, training_clone

    order = [CloneKind(k) for k in kinds] if kinds is not None else list(TRAINING_KINDS)
    pairs: list[TrainingPair] = []
    if not order:
        return pairs
    for fn in functions:
        key = function_key(fn)
        start = stable_int(key, seed)
        made: set[str] = set()
        tried = 0
        for i in range(per_function):
            while tried < len(order):
                kind = order[(start + i + tried) % len(order)]
                rng = random.Random(stable_int(f"{key}#{i}#{kind.value}", seed))
                clone = training_clone(fn, kind, rng)
                if clone is None or clone.strip() == fn.code.strip() or clone in made:
                    tried += 1
                    continue
                made.add(clone)
                pairs.append(
                    TrainingPair(
                        "code2code",
                        "synthetic",
                        fn.language,
                        fn.path,
                        key,
                        clone,
                        fn.code,
                        fn.body_hash,
                        clone_type=kind.value,
                    )
                )
                break
    return pairs


def stable_int(text: str, seed: int) -> int:
    """A deterministic integer from a text and a seed (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256(f"{seed}\0{text}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def split_for_path(path: str, *, seed: int = 0, validation: float = 0.1, test: float = 0.1) -> Split:
    """The split a file belongs to: a seeded hash of its path, so it never changes between runs."""
    u = stable_int(path, seed) / 2**64  # uniform in [0, 1)
    if u < test:
        return "test"
    if u < test + validation:
        return "validation"
    return "train"


def assign_splits(
    pairs: Iterable[TrainingPair], *, seed: int = 0, validation: float = 0.1, test: float = 0.1
) -> list[TrainingPair]:
    """Pairs tagged with their file's split."""
    return [replace(p, split=split_for_path(p.path, seed=seed, validation=validation, test=test)) for p in pairs]


def filter_pairs(
    pairs: Iterable[TrainingPair], *, min_code_chars: int, max_code_chars: int, min_query_chars: int = 1
) -> list[TrainingPair]:
    """Drop exact duplicates and pairs whose code or query is too short or too long."""
    seen: set[tuple[str, str, str]] = set()
    kept: list[TrainingPair] = []
    for p in pairs:
        if not min_code_chars <= len(p.code) <= max_code_chars:
            continue
        if len(p.query.strip()) < min_query_chars or len(p.query) > max_code_chars:
            continue
        if p.query.strip() == p.code.strip():
            continue
        if p.dedup_key in seen:
            continue
        seen.add(p.dedup_key)
        kept.append(p)
    return kept


def cap_pairs(pairs: Sequence[TrainingPair], limit: int, *, seed: int = 0) -> list[TrainingPair]:
    """At most ``limit`` pairs, a seeded random subset in a stable order."""
    if len(pairs) <= limit:
        return list(pairs)
    ranked = sorted(pairs, key=lambda p: stable_int("|".join(p.dedup_key), seed))
    return ranked[:limit]


def balance_kinds(pairs: Sequence[TrainingPair], ratio: float | None, *, seed: int = 0) -> list[TrainingPair]:
    """Cap each language's code→code TRAINING pairs at ``ratio`` times its text→code ones.

    Every function yields a synthetic clone but only documented ones a doc-text pair, so left
    alone code→code pairs outnumber text→code ones several times over and the steps go to the
    easier task. History pairs (real changes) are kept before synthetic ones. Validation and test
    pairs are never touched; ``None`` (or a negative ratio) keeps everything.
    """
    if ratio is None or ratio < 0:
        return list(pairs)
    dropped: set[int] = set()
    for language in sorted({p.language for p in pairs}):
        train = [p for p in pairs if p.language == language and p.split == "train"]
        limit = int(ratio * sum(p.kind == "text2code" for p in train))
        history = [p for p in train if p.kind == "code2code" and p.source == "history"]
        others = [p for p in train if p.kind == "code2code" and p.source != "history"]
        kept = cap_pairs(history, limit, seed=seed)
        kept += cap_pairs(others, limit - len(kept), seed=seed)
        kept_ids = {id(p) for p in kept}
        dropped.update(id(p) for p in history + others if id(p) not in kept_ids)
    return [p for p in pairs if id(p) not in dropped]


def by_split(pairs: Iterable[TrainingPair]) -> dict[Split, list[TrainingPair]]:
    out: dict[Split, list[TrainingPair]] = {s: [] for s in SPLITS}
    for p in pairs:
        out[p.split].append(p)
    return out


def pair_statistics(pairs: Iterable[TrainingPair]) -> dict[str, int]:
    """Counts per ``split/kind/source`` (for doppel.json's data statistics)."""
    counts: dict[str, int] = {}
    for p in pairs:
        for key in (p.split, f"{p.split}/{p.kind}", f"{p.split}/{p.kind}/{p.source}"):
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
