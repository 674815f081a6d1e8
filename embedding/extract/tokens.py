"""Lexical tokens of code from tree-sitter leaves, and the layout-proof ``body_hash``.

Tokens feed the lexical similarity (identifier-normalised) and synthetic clone generation.
Comments are dropped; a string literal is one token however many leaves the grammar gives it,
so that interpolation or escapes do not change how it compares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import tree_sitter

from core.domain import text_hash
from embedding.extract.parsers import grammar, parse, query

TokenKind = Literal["identifier", "literal", "keyword", "punct", "other"]

_SKIP = "skip"  # comments: not tokens at all
_ATOM = "atom"  # string-like nodes: one literal token, children not visited

_ATOMIC_TYPES = frozenset(
    {
        "string", "template_string", "regex", "encapsed_string", "heredoc", "nowdoc", "text_block",
        "interpolated_string_expression", "verbatim_string_literal", "raw_string_literal",
        "interpreted_string_literal", "string_literal", "char_literal", "character_literal",
        "rune_literal", "concatenated_string", "chained_string", "heredoc_body", "shell_command",
        "subshell",
    }
)  # fmt: skip
_LITERAL_TYPES = frozenset(
    {"true", "false", "null", "none", "nil", "undefined", "integer", "float", "number", "boolean",
     "simple_symbol", "hash_key_symbol", "iota", "null_literal", "boolean_literal", "imaginary_literal"}
)  # fmt: skip
_IDENTIFIER_TYPES = frozenset(
    {"name", "constant", "instance_variable", "class_variable", "global_variable", "variable_name",
     "metavariable", "label_name", "shorthand_property_identifier_pattern"}
)  # fmt: skip
_KEYWORD_TYPES = frozenset(
    {"primitive_type", "predefined_type", "integral_type", "floating_point_type", "boolean_type",
     "void_type", "this", "self", "super", "base", "sized_type_specifier", "type_qualifier",
     "storage_class_specifier", "visibility_modifier", "modifier", "mutable_specifier",
     "accessibility_modifier", "static_modifier", "abstract_modifier", "final_modifier"}
)  # fmt: skip
_WORD = re.compile(r"[A-Za-z_][\w?!]*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: its kind and its text as written."""

    kind: TokenKind
    text: str


def _classify(node_type: str, named: bool, text: str) -> str:
    """Token kind (or ``_SKIP``/``_ATOM``) of a node type; the result is cached per symbol."""
    if "comment" in node_type:
        return _SKIP
    if node_type in _ATOMIC_TYPES or (named and node_type.endswith("string_literal")):
        return _ATOM
    if not named:
        return "keyword" if _WORD.fullmatch(text) else "punct"
    if node_type.endswith("identifier") or node_type in _IDENTIFIER_TYPES:
        return "identifier"
    if node_type in _LITERAL_TYPES or node_type.endswith("_literal") or node_type.endswith("integer"):
        return "literal"
    if node_type in _KEYWORD_TYPES:
        return "keyword"
    return "other"


class _Classifier:
    """Per-language memo of kinds by grammar symbol id (a symbol's anonymous text never changes)."""

    _by_language: dict[str, _Classifier] = {}

    def __init__(self) -> None:
        self.kinds: dict[int, str] = {}

    @classmethod
    def of(cls, language: str) -> _Classifier:
        found = cls._by_language.get(language)
        if found is None:
            grammar(language)  # fail early, with a clear error, for unknown languages
            found = cls._by_language[language] = cls()
        return found

    def kind(self, node: tree_sitter.Node, text: str) -> str:
        symbol = node.kind_id
        kind = self.kinds.get(symbol)
        if kind is None:
            kind = self.kinds[symbol] = _classify(node.type, node.is_named, text)
        return kind


def leaf_tokens(
    language: str, nodes: Iterable[tree_sitter.Node], source: bytes, skip: tuple[int, int] | None = None
) -> list[tuple[str, str]]:
    """``(kind, text)`` of the leaves under ``nodes``, in order; bytes inside ``skip`` (a docstring) are left out.

    Runs once per leaf in Python, hence plain tuples, a memo by grammar symbol and a cursor
    rather than ``node.children`` lists. (``body_hash`` avoids it: it needs no token kinds.)
    """
    classifier = _Classifier.of(language)
    kinds = classifier.kinds
    out: list[tuple[str, str]] = []
    append = out.append
    for top in nodes:
        cursor = top.walk()
        depth = 0
        while True:
            node = cursor.node
            assert node is not None
            kind = kinds.get(node.kind_id)
            leaf = node.child_count == 0
            if kind is None:
                text = source[node.start_byte : node.end_byte].decode("utf-8", "replace") if leaf else ""
                kind = classifier.kind(node, text)
            descend = False
            if kind == _SKIP or (skip is not None and skip[0] <= node.start_byte and node.end_byte <= skip[1]):
                pass
            elif leaf or kind == _ATOM:
                start, end = node.start_byte, node.end_byte
                if end > start:
                    append(("literal" if kind == _ATOM else kind, source[start:end].decode("utf-8", "replace")))
            else:
                descend = True
            if descend and cursor.goto_first_child():
                depth += 1
                continue
            while depth > 0 and not cursor.goto_next_sibling():
                cursor.goto_parent()
                depth -= 1
            if depth == 0:
                break
    return out


def _snippet_source(language: str, code: str) -> tuple[bytes, int]:
    """Bytes to parse for a code snippet, and how many leading bytes were added to make it parse.

    PHP is only code after ``<?php``; without it the grammar reads the snippet as inline HTML.
    """
    if language == "php" and "<?php" not in code[:200]:
        prefix = b"<?php\n"
        return prefix + code.encode("utf-8"), len(prefix)
    return code.encode("utf-8"), 0


def code_tokens(language: str, code: str) -> list[Token]:
    """The tokens of a code snippet of ``language`` (comments excluded)."""
    source, offset = _snippet_source(language, code)
    tree = parse(language, source)
    pairs = leaf_tokens(language, [tree.root_node], source)
    if offset:
        pairs = [pair for pair in pairs if pair[1] != "<?php"]
    return [Token(kind, text) for kind, text in pairs]  # type: ignore[arg-type]


_COMMENT_TYPES = ("comment", "line_comment", "block_comment")
_GAP = re.compile(r" (?!\w)|(?<!\w) ")
_WORD_CHAR = re.compile(r"\w")


def comment_pattern(language: str) -> str:
    """Query text capturing this grammar's comment nodes as ``@comment`` (empty when it has none)."""
    known = [kind for kind in _COMMENT_TYPES if grammar(language).id_for_node_kind(kind, True)]
    return "[" + " ".join(f"({kind})" for kind in known) + "] @comment" if known else ""


def merge_ranges(nodes: Iterable[tree_sitter.Node]) -> list[tuple[int, int]]:
    """Sorted, merged byte ranges of ``nodes`` (nested doc-comment nodes fold into their comment)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((node.start_byte, node.end_byte) for node in nodes):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def comment_ranges(language: str, root: tree_sitter.Node) -> list[tuple[int, int]]:
    """Byte ranges of the comments under ``root``, sorted and merged (found by a query, in C)."""
    pattern = comment_pattern(language)
    if not pattern:
        return []
    return merge_ranges(tree_sitter.QueryCursor(query(language, pattern)).captures(root).get("comment", []))


def normalised_code(source: bytes, start: int, end: int, cuts: Sequence[tuple[int, int]] = ()) -> str:
    """The code between two bytes with ``cuts`` (comments, a docstring) removed and layout dropped.

    Whitespace runs become one space, kept only between two word characters (``return x``) and
    dropped elsewhere (``f(a, b)`` and ``f(a,b)`` agree). Whitespace inside string literals is
    treated the same way: re-indenting a function must not change its hash.
    """
    pieces: list[bytes] = []
    position = start
    for cut_start, cut_end in sorted(cuts):
        if cut_end <= position or cut_start >= end:
            continue
        pieces.append(source[position : max(cut_start, position)])
        pieces.append(b" ")
        position = max(position, cut_end)
    pieces.append(source[position:end])
    text = _SPACE.sub(" ", b"".join(pieces).decode("utf-8", "replace")).strip()
    return _GAP.sub("", text)


@dataclass(frozen=True)
class NormalisedFile:
    """A whole file normalised once as ``normalised_code`` does, and where some byte offsets land.

    A nested function's text is also part of every function around it, so normalising each
    function on its own costs the sum of their sizes (depth² bytes through two regexes for deep
    nesting). Normalising the file once and slicing costs one pass. Offsets are kept only where
    the slice is exact: at token edges (never inside a comment, never between two blanks).
    """

    text: str
    at: dict[int, int] = field(default_factory=dict)  # byte offset → position in ``text``

    def between(self, start: int, end: int, cut: tuple[int, int] | None = None) -> str | None:
        """``normalised_code(source, start, end, comments + [cut])``; ``None`` for an offset not kept."""
        if cut is None:
            low, high = self.at.get(start), self.at.get(end)
            return None if low is None or high is None else self.text[low:high].strip(" ")
        left, right = self.between(start, cut[0]), self.between(cut[1], end)
        if left is None or right is None:
            return None
        # The cut becomes one blank, kept only between two word characters (as ``_GAP`` does).
        joint = " " if left and right and _WORD_CHAR.match(left[-1]) and _WORD_CHAR.match(right[0]) else ""
        return left + joint + right


def normalise_file(
    source: bytes, comments: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]], offsets: Iterable[int] = ()
) -> NormalisedFile:
    """The code of ``spans`` (byte ranges, nested or not) normalised once, split at their edges and ``offsets``.

    ``comments`` are sorted, merged byte ranges. Each stretch between two split points is
    normalised on its own, with the characters on either side as context for the blanks at its
    edges, so the whole costs one pass over the code the spans cover. A split point inside a
    comment or with blanks on both sides is not kept (slices from it fall back).
    """
    regions: list[list[int]] = []  # the union of the spans
    for start, end in sorted(spans):
        if regions and start <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    edges = {edge for start, end in spans for edge in (start, end)}
    points = sorted(point for point in edges.union(offsets) if 0 <= point <= len(source))
    stretches: list[str | None] = []  # None: outside every span, not normalised
    lost: set[int] = set()
    index = region = 0
    for low, high in zip(points, points[1:], strict=False):
        while region < len(regions) and regions[region][1] <= low:
            region += 1
        if region == len(regions) or regions[region][0] > low:
            while index < len(comments) and comments[index][1] <= high:
                index += 1
            stretches.append(None)
            continue
        pieces: list[bytes] = []
        position = low
        while index < len(comments) and comments[index][0] < high:
            cut_start, cut_end = comments[index]
            if cut_end <= low:
                index += 1
                continue
            if cut_start < low:
                lost.add(low)  # the point lies inside this comment
            pieces += [source[position : max(cut_start, position)], b" "]
            position = max(position, cut_end)
            if cut_end > high:
                lost.add(high)
                break  # the comment goes on into the next stretch
            index += 1
        pieces.append(source[position:high])
        stretches.append(_SPACE.sub(" ", b"".join(pieces).decode("utf-8", "replace")))
    # Blanks on both sides of a point are one blank of the whole: keep the left one, and drop
    # the point (a slice starting or ending there would not be exact).
    last = ""
    for number, stretch in enumerate(stretches):
        if stretch is None:
            last = ""
            continue
        if last == " " and stretch.startswith(" "):
            stretch = stretches[number] = stretch[1:]
            lost.add(points[number])
        last = stretch[-1:] or last
    following = [""] * len(stretches)  # the first character after each stretch
    upcoming = ""
    for number in range(len(stretches) - 1, -1, -1):
        following[number] = upcoming
        stretch = stretches[number]
        upcoming = "" if stretch is None else stretch[:1] or upcoming
    text: list[str] = []
    at: dict[int, int] = {}
    length = 0
    last = ""
    for number, stretch in enumerate(stretches):
        if stretch is None:
            last = ""
            continue
        if points[number] not in lost:
            at[points[number]] = length
        # The blanks at a stretch's edges keep or lose their place by their neighbours outside it.
        left = last if stretch.startswith(" ") else ""
        right = following[number] if stretch.endswith(" ") else ""
        joined = _GAP.sub("", left + stretch + right)
        piece = joined[len(left) : len(joined) - len(right)]
        text.append(piece)
        length += len(piece)
        last = stretch[-1:] or last
        if number + 1 == len(stretches) or stretches[number + 1] is None:
            if points[number + 1] not in lost:
                at[points[number + 1]] = length
    return NormalisedFile("".join(text), at)


def body_hash(language: str, code: str) -> str:
    """Hash of the code with comments and layout dropped and identifiers kept.

    Two copies of a function that differ only in whitespace, line breaks or comments hash the
    same; renaming a variable changes the hash. Extraction computes the same value from the
    file's own tree, so ``fn.body_hash == body_hash(fn.language, fn.code)``.
    """
    source, offset = _snippet_source(language, code)
    tree = parse(language, source)
    return text_hash(normalised_code(source, offset, len(source), comment_ranges(language, tree.root_node)))
