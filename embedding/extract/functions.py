"""From a parsed file to ``CodeFunction`` values: find function nodes, name them, cut their code.

A tree-sitter query finds the function nodes (in C, fast); Python code then walks up from each
to build its qualified name and takes its text, signature, doc and tokens.
"""

from __future__ import annotations

import bisect
import re
import textwrap
from dataclasses import dataclass
from functools import cache

import tree_sitter

from core.domain import CodeFunction, text_hash
from embedding.extract.docs import comment_doc, python_docstring, removal_range
from embedding.extract.parsers import grammar, query
from embedding.extract.syntax import SYNTAX, Syntax
from embedding.extract.tokens import comment_pattern, merge_ranges, normalised_code

_SPACE = re.compile(r"\s+")


@dataclass
class SourceFile:
    """One file being extracted: its path, language, UTF-8 bytes and (lazily) its lines."""

    path: str
    language: str
    source: bytes
    comments: list[tuple[int, int]]  # merged comment byte ranges of the whole file
    _lines: list[str] | None = None
    _comment_starts: list[int] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.decode("utf-8", "replace").split("\n")
        return self._lines

    def comments_between(self, start: int, end: int) -> list[tuple[int, int]]:
        """Comment byte ranges that overlap ``[start, end)``."""
        if self._comment_starts is None:
            self._comment_starts = [first for first, _ in self.comments]
        low = max(bisect.bisect_right(self._comment_starts, start) - 1, 0)
        high = bisect.bisect_left(self._comment_starts, end)
        return [c for c in self.comments[low:high] if c[1] > start]


@cache
def _scan_pattern(language: str) -> str:
    """One query for the function nodes this grammar has (``@function``) and its comments."""
    known = [kind for kind in sorted(SYNTAX[language].functions) if grammar(language).id_for_node_kind(kind, True)]
    return "[" + " ".join(f"({kind})" for kind in known) + "] @function\n" + comment_pattern(language)


def scan(language: str, root: tree_sitter.Node) -> tuple[list[tree_sitter.Node], list[tuple[int, int]]]:
    """Function nodes in document order and merged comment ranges, in one pass over the tree."""
    captures = tree_sitter.QueryCursor(query(language, _scan_pattern(language))).captures(root)
    functions = sorted(captures.get("function", []), key=lambda node: node.start_byte)
    return functions, merge_ranges(captures.get("comment", []))


def qualified_name(syntax: Syntax, node: tree_sitter.Node, name: str) -> str:
    """``name`` prefixed by the names of the classes, modules and functions around ``node``."""
    parts = [name]
    ancestor = node.parent
    while ancestor is not None:
        kind = ancestor.type
        if kind in syntax.scopes or kind in syntax.functions:
            scope = syntax.name_of(ancestor)
            if scope:
                parts.append(scope)
        ancestor = ancestor.parent
    return ".".join(reversed(parts))


def _prefix_start(syntax: Syntax, span: tree_sitter.Node) -> tree_sitter.Node:
    """The first of the decorator/attribute siblings that directly precede ``span`` (or ``span``)."""
    first = span
    sibling = span.prev_named_sibling
    while sibling is not None and sibling.type in syntax.prefix_types:
        first = sibling
        sibling = sibling.prev_named_sibling
    return first


def _code_text(source: bytes, start: int, end: int, cut: tuple[int, int] | None) -> str:
    """The code between two bytes, docstring cut, dedented as if it stood at column 0.

    When other code shares the first line (``x = 1; function f() {``), the first line is kept
    as it is and the lines below are dedented among themselves.
    """
    line_start = source.rfind(b"\n", 0, start) + 1
    indent = source[line_start:start].decode("utf-8", "replace").replace("\ufeff", "")
    body = source[start:end] if cut is None else source[start : cut[0]] + source[cut[1] : end]
    text = body.decode("utf-8", "replace")
    if not indent.strip():
        return textwrap.dedent(indent + text).rstrip()
    first, _, rest = text.partition("\n")
    return (first + "\n" + textwrap.dedent(rest)).rstrip() if rest else first.rstrip()


def _signature(source: bytes, start: int, function: tree_sitter.Node, body_field: str) -> str:
    body = function.child_by_field_name(body_field) if body_field else None
    if body is not None:
        header = source[start : body.start_byte]
    else:
        line_end = source.find(b"\n", start)
        header = source[start : line_end if line_end != -1 else function.end_byte]
    return _SPACE.sub(" ", header.decode("utf-8", "replace")).strip()


def build_function(file: SourceFile, node: tree_sitter.Node) -> CodeFunction | None:
    """The ``CodeFunction`` of one function node, or ``None`` when it is anonymous or bodiless."""
    syntax = SYNTAX[file.language]
    if syntax.body_field and node.child_by_field_name(syntax.body_field) is None:
        return None  # declarations without code: prototypes, abstract and interface methods
    name = syntax.name_of(node)
    if not name:
        return None
    span = syntax.span_of(node)
    first = _prefix_start(syntax, span)
    start, end = first.start_byte, span.end_byte

    docstring: str | None = None
    cut: tuple[int, int] | None = None
    skip: tuple[int, int] | None = None
    if syntax.doc == "python":
        found = python_docstring(node)
        if found is not None:
            docstring, statement = found
            cut = removal_range(file.source, statement.start_byte, statement.end_byte)
            skip = (statement.start_byte, statement.end_byte)
    else:
        docstring = comment_doc(file.lines, first.start_point[0], syntax)

    cuts = file.comments_between(start, end) + ([skip] if skip else [])
    signature_start = node.start_byte if span.type == "decorated_definition" else span.start_byte
    return CodeFunction(
        language=file.language,
        path=file.path,
        qualified_name=qualified_name(syntax, node, name),
        start_line=first.start_point[0] + 1,
        end_line=span.end_point[0] + 1,
        signature=_signature(file.source, signature_start, node, syntax.body_field),
        code=_code_text(file.source, start, end, cut),
        docstring=docstring,
        body_hash=text_hash(normalised_code(file.source, start, end, cuts)),
    )
