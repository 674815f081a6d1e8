"""Lexical similarity of two functions over identifier-normalised tokens.

Copies of a function keep its token structure when their variables are renamed, their literals
changed or their layout redone; an unrelated function that merely talks about the same things
(and so embeds close by) does not. The comparison therefore ignores what a copy-and-edit
changes and keeps what it doesn't:

* local names (variables, parameters) become ``$``-placeholders, so a consistent renaming does
  not show; member names after ``.``/``->``/``::``, keyword-argument names and the names of
  called functions stay, since a copy calls the same things (the defined function's own name
  is a placeholder too);
* literals become their type (``STR``, ``NUM``): a changed constant or message does not show;
* comments and whitespace are gone (the tokenizer drops them).

The similarity is a Dice coefficient over the multisets of token 3-grams of that sequence: an
inserted or deleted statement only disturbs the n-grams around it. A data-flow view (each local
replaced by the distance to its previous use, as in Baker's parameterised matching) was tried
and dropped: on the clone benchmark it lowered edited copies' scores without separating
unrelated code any better (``benchmarks/results/clone_recall.md``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

NGRAM = 3  # chosen on the clone benchmark over 4 and 5: one edit touches few n-grams
# ``similarity`` at which two functions count as near-copies of each other: renamed copies score
# 0.9 and more, edited ones 0.6–0.9, unrelated neighbours rarely 0.5. Training never takes such a
# pair as a negative, and a review judges such a neighbour however deep the cosine ranks it.
NEAR_COPY_SIMILARITY = 0.6
MEMBER_ACCESS = frozenset({".", "->", "::", "?.", "?->"})
_STRING = re.compile(r"""[rRbBuUfFL8@$]{0,3}['"`]""")  # quotes with prefixes: r"", b'', f"", @"", L"", u8""


@dataclass(frozen=True)
class NormalizedCode:
    """The normalised tokens of one function, ready for ``similarity``; compute once, compare often."""

    shape: tuple[str, ...]  # locals → "$", literals → type, members, keyword arguments and callees kept
    params: tuple[str, ...] = ()  # identifiers of the defined function's parameter list, as written
    name: str = ""  # the defined function's name, as written ("" when none was seen)
    names: tuple[str, ...] = ()  # the names a copy keeps: members, keyword arguments, callees
    literals: tuple[str, ...] = ()  # string and number literals as written (messages, keys)

    def __len__(self) -> int:
        return len(self.shape)


def literal_class(text: str) -> str:
    """A literal's type: ``STR`` for strings and characters, ``NUM`` for numbers, else the text itself
    (``true``, ``None``, ``nil`` stay: swapping one for another is a real change)."""
    if _STRING.match(text):
        return "STR"
    if text[:1].isdigit() or (text[:1] in ".-+" and text[1:2].isdigit()):
        return "NUM"
    return text


def normalize_tokens(tokens: Sequence[tuple[str, str]]) -> NormalizedCode:
    """The normalised sequence from ``(kind, text)`` pairs as ``code_tokens`` yields them (kinds: identifier,
    literal, keyword, punct, other). Pure, so any tokenizer's output can be compared."""
    shape: list[str] = []
    params: list[str] = []
    names: list[str] = []
    literals: list[str] = []
    name = ""
    seen_definition = False
    depth = 0  # parenthesis depth
    params_depth = -1  # depth inside the defined function's parameter list, while in it
    for i, (kind, text) in enumerate(tokens):
        if text == "(" and kind == "punct":
            depth += 1
            if seen_definition and params_depth == -2:
                params_depth = depth
        elif text == ")" and kind == "punct":
            if depth == params_depth:
                params_depth = -1
            depth -= 1
        if kind == "literal":
            shape.append(literal_class(text))
            literals.append(text)
            continue
        if kind != "identifier":
            shape.append(text)
            continue
        if params_depth > 0:
            params.append(text)
        previous = tokens[i - 1][1] if i > 0 else ""
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        keyword_argument = following == "=" and depth > 0 and params_depth < 0
        if previous in MEMBER_ACCESS or keyword_argument:
            # Member and keyword-argument names belong to another object or callee: a copy keeps them.
            shape.append(text)
            names.append(text)
            continue
        if following == "(" and seen_definition:
            shape.append(text + "()")
            names.append(text + "()")
            continue
        if following == "(":
            # The first name followed by "(" is the function being defined: a copy renames it.
            seen_definition = True
            name = text
            params_depth = -2  # the next "(" opens its parameters
        shape.append("$")
    return NormalizedCode(tuple(shape), tuple(params), name, tuple(names), tuple(literals))


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def dice(a: Counter[tuple[str, ...]], b: Counter[tuple[str, ...]]) -> float:
    """Multiset Dice coefficient: 2|A∩B| / (|A|+|B|), 1.0 for two empty sets."""
    total = sum(a.values()) + sum(b.values())
    if total == 0:
        return 1.0
    return 2.0 * sum((a & b).values()) / total


def similarity(a: NormalizedCode, b: NormalizedCode, *, n: int = NGRAM) -> float:
    """Lexical similarity in [0, 1] of two normalised functions (1.0: same up to renaming/literals)."""
    return dice(_ngrams(a.shape, n), _ngrams(b.shape, n))


def containment(a: NormalizedCode, b: NormalizedCode, *, n: int = NGRAM) -> float:
    """Share of the smaller function's token 3-grams found in the larger one, in [0, 1].

    A copy that gained parameters, branches or a helper call keeps most of the original inside
    it: its Dice similarity drops with every added line, its containment does not."""
    first, second = _ngrams(a.shape, n), _ngrams(b.shape, n)
    smaller = min(sum(first.values()), sum(second.values()))
    if smaller == 0:
        return 1.0 if not first and not second else 0.0
    return sum((first & second).values()) / smaller


def normalize(language: str, code: str) -> NormalizedCode:
    """Tokenise ``code`` with the tree-sitter grammar of ``language`` and normalise it."""
    from embedding.extract import code_tokens  # tree-sitter: imported on use, keeps this module light

    return normalize_tokens([(token.kind, token.text) for token in code_tokens(language, code)])


def lexical_similarity(language: str, a: str, b: str) -> float:
    """Identifier-normalised token similarity of two functions of ``language``, in [0, 1]."""
    return similarity(normalize(language, a), normalize(language, b))
