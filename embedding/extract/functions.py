"""From a parsed file to ``CodeFunction`` values: find function nodes, name them, cut their code.

A tree-sitter query finds the function and scope nodes and the comments (in C, fast); one
iterative walk then goes down to each function node, carrying its ancestors on a stack, so
that names, spans and decorators come from the stack rather than from ``Node.parent`` (which
tree-sitter answers by descending from the root: asking it up a chain of ancestors made deep
nesting cost depth³). The walk goes into a node only when a captured node starts inside it and
visits each node at most once, so its work is linear in the tree, whatever the nesting.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import PurePosixPath

import tree_sitter

from core.domain import CodeFunction, text_hash
from embedding.extract.budget import Deadline
from embedding.extract.docs import comment_doc, python_docstring, removal_range
from embedding.extract.globs import normalise_path
from embedding.extract.parsers import grammar, query
from embedding.extract.syntax import ANCESTORS_KEPT, SYNTAX, Site, Syntax
from embedding.extract.tokens import NormalisedFile, comment_pattern, merge_ranges, normalise_file, normalised_code

_SPACE = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)
_BLANK_LINE_BYTES = re.compile(rb"^[ \t]+$", re.MULTILINE)
_INDENT = re.compile(r"(^[ \t]*)(?:[^ \t\n])", re.MULTILINE)

MAX_QUALIFIED_NAME = 300  # characters; deeper names keep their innermost part behind "…"
DEADLINE_EVERY = 1024  # walk steps between two looks at the clock


@dataclass
class SourceFile:
    """One file being extracted: its path, language, UTF-8 bytes and (lazily) its lines."""

    path: str
    language: str
    source: bytes
    comments: list[tuple[int, int]]  # merged comment byte ranges of the whole file
    normalised: NormalisedFile | None = None  # the whole file normalised once, for body hashes
    _lines: list[str] | None = None
    _comment_starts: list[int] | None = None
    _blank_lines: list[int] | None = None

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

    def has_blank_line(self, start: int, end: int) -> bool:
        """Whether a line of only blanks and tabs starts in ``[start, end)`` (found once per file)."""
        if self._blank_lines is None:
            self._blank_lines = [match.start() for match in _BLANK_LINE_BYTES.finditer(self.source)]
        index = bisect.bisect_left(self._blank_lines, start)
        return index < len(self._blank_lines) and self._blank_lines[index] < end


def module_name(path: str) -> str:
    """The name of a file's module: its stem before any dot, or its folder's name for ``index.*``.

    ``lib/parseHeaders.js`` → ``parseHeaders``, ``lib/headers/index.ts`` → ``headers``,
    ``Button.test.tsx`` → ``Button``. Anonymous default exports take this name.
    """
    pure = PurePosixPath(normalise_path(path))
    stem = pure.name.lstrip(".").split(".", 1)[0] or pure.name
    if stem == "index" and pure.parent.name:
        return pure.parent.name
    return stem


@dataclass(frozen=True, slots=True)
class Found:
    """A named function node with what the walk learnt around it."""

    node: tree_sitter.Node
    span: tree_sitter.Node  # the node whose text is the function's code
    first: tree_sitter.Node  # the first decorator/attribute sibling just before ``span`` (or ``span``)
    qualified_name: str


@dataclass
class Scan:
    """What one walk over a file's tree found, and how many nodes it visited (each at most once)."""

    functions: list[Found] = field(default_factory=list)
    comments: list[tuple[int, int]] = field(default_factory=list)
    visited: int = 0


_OTHER, _ANONYMOUS, _PREFIX, _FUNCTION, _SCOPE = range(5)  # what a node kind is to the walk


@cache
def _scan_pattern(language: str) -> str:
    """One query for this grammar's function nodes (``@function``), scope nodes (``@scope``) and comments."""
    syntax = SYNTAX[language]
    patterns = []
    for capture, kinds in (("function", syntax.functions), ("scope", syntax.scopes)):
        known = [kind for kind in sorted(kinds) if grammar(language).id_for_node_kind(kind, True)]
        if known:
            patterns.append("[" + " ".join(f"({kind})" for kind in known) + f"] @{capture}")
    return "\n".join([*patterns, comment_pattern(language)])


def _role(syntax: Syntax, node: tree_sitter.Node) -> int:
    if not node.is_named:
        return _ANONYMOUS  # keywords too: the ``function`` and ``class`` tokens share their node's type name
    kind = node.type
    if kind in syntax.functions:
        return _FUNCTION
    if kind in syntax.scopes:
        return _SCOPE
    return _PREFIX if kind in syntax.prefix_types else _OTHER


def _join(prefix: str, name: str) -> str:
    """``prefix.name``, its innermost ``MAX_QUALIFIED_NAME`` characters when longer (hostile nesting)."""
    joined = f"{prefix}.{name}" if prefix else name
    if len(joined) > MAX_QUALIFIED_NAME:
        return "…" + joined[len(joined) - MAX_QUALIFIED_NAME + 1 :]
    return joined


def scan(
    language: str, root: tree_sitter.Node, source: bytes, path: str = "", deadline: Deadline | None = None
) -> Scan:
    """Named function nodes in document order, with names and spans, and merged comment ranges.

    Iterative (no recursion however deep the tree). ``deadline`` is looked at every
    ``DEADLINE_EVERY`` steps and raises ``OverBudgetError`` when passed.
    """
    syntax = SYNTAX[language]
    captures = tree_sitter.QueryCursor(query(language, _scan_pattern(language))).captures(root)
    result = Scan(comments=merge_ranges(captures.get("comment", [])))
    targets = sorted(node.start_byte for name in ("function", "scope") for node in captures.get(name, []))
    if not targets:
        return result
    module = module_name(path)
    roles: dict[int, int] = {}
    # The ancestors of the current node, root first, and per ancestor: the first of the
    # decorators just before it, the qualified name inside it, and the run of decorators met
    # so far among its children.
    nodes: list[tuple[tree_sitter.Node, tree_sitter.Node, str, tree_sitter.Node | None]] = []
    run: tree_sitter.Node | None = None
    qualified = ""
    cursor = root.walk()
    target = 0
    while True:
        node = cursor.node
        assert node is not None
        result.visited += 1
        if deadline is not None and result.visited % DEADLINE_EVERY == 0:
            deadline.check("walking the syntax tree")
        role = roles.get(node.kind_id)
        if role is None:
            role = roles[node.kind_id] = _role(syntax, node)
        first = node if run is None else run
        if role == _PREFIX:
            run = first
        elif role != _ANONYMOUS:
            run = None
        inside = qualified
        if role == _FUNCTION or role == _SCOPE:
            site = Site(node, tuple(entry[0] for entry in nodes[: -ANCESTORS_KEPT - 1 : -1]), source, module)
            name = syntax.name_of(site)
            if name:
                inside = _join(qualified, name)
                if role == _FUNCTION:
                    level = syntax.span_of(site)
                    span, span_first = (node, first) if level == 0 else nodes[-level][:2]
                    result.functions.append(Found(node, span, span_first, inside))
        # Go down only when a function or scope other than this node starts inside it.
        start = node.start_byte
        while target < len(targets) and targets[target] < start:
            target += 1
        probe = target + 1 if role >= _FUNCTION and target < len(targets) and targets[target] == start else target
        holds = probe < len(targets) and (targets[probe] < node.end_byte or targets[probe] == start)
        if holds and cursor.goto_first_child():
            nodes.append((node, first, qualified, run))
            qualified, run = inside, None
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return result
            _, _, qualified, run = nodes.pop()


def dedent(text: str, blank_lines: bool = True) -> str:
    """``textwrap.dedent`` in a few regex passes (in C) instead of a Python loop over every line.

    The margin starts as the first indented line's indent and shrinks to its common prefix with
    any line that does not start with it; usually the first look finds none. ``blank_lines``
    False says the text has no lines of only blanks, which then need no clearing.
    """
    if blank_lines:
        text = _BLANK_LINE.sub("", text)
    first = _INDENT.search(text)
    margin = first.group(1) if first is not None else ""
    while margin:
        other = _shorter_than(margin).search(text)
        if other is None:
            break
        margin = os.path.commonprefix([margin, other.group(1)])
    return _margin(margin).sub("", text) if margin else text


@lru_cache(maxsize=256)
def _shorter_than(margin: str) -> re.Pattern[str]:
    """A line with text that does not start with ``margin`` (its indent is group 1)."""
    return re.compile(f"^(?!{margin})([ \t]*)[^ \t\n]", re.MULTILINE)


@lru_cache(maxsize=256)
def _margin(margin: str) -> re.Pattern[str]:
    return re.compile(f"^{margin}", re.MULTILINE)


def _code_text(file: SourceFile, start: int, end: int, cut: tuple[int, int] | None) -> str:
    """The code between two bytes, docstring cut, dedented as if it stood at column 0.

    When other code shares the first line (``x = 1; function f() {``), the first line is kept
    as it is and the lines below are dedented among themselves.
    """
    source = file.source
    line_start = source.rfind(b"\n", 0, start) + 1
    blank_lines = cut is not None or file.has_blank_line(line_start, end)
    indent = source[line_start:start].decode("utf-8", "replace").replace("\ufeff", "")
    body = source[start:end] if cut is None else source[start : cut[0]] + source[cut[1] : end]
    text = body.decode("utf-8", "replace")
    if not indent.strip():
        return dedent(indent + text, blank_lines).rstrip()
    first, _, rest = text.partition("\n")
    return (first + "\n" + dedent(rest, blank_lines)).rstrip() if rest else first.rstrip()


def _signature(source: bytes, start: int, function: tree_sitter.Node, body_field: str) -> str:
    body = function.child_by_field_name(body_field) if body_field else None
    if body is not None:
        header = source[start : body.start_byte]
    else:
        line_end = source.find(b"\n", start)
        header = source[start : line_end if line_end != -1 else function.end_byte]
    return _SPACE.sub(" ", header.decode("utf-8", "replace")).strip()


def build_function(file: SourceFile, found: Found) -> CodeFunction | None:
    """The ``CodeFunction`` of one function the walk found, or ``None`` when it has no body.

    Its work is the function's own text (cut, dedented, hashed) plus a few nodes around it.
    """
    python = SYNTAX[file.language].doc == "python"
    return _build(file, found, python_docstring(found.node, file.source) if python else None)


def _build(file: SourceFile, found: Found, doc: tuple[str, tree_sitter.Node] | None) -> CodeFunction | None:
    syntax = SYNTAX[file.language]
    node, span, first = found.node, found.span, found.first
    if syntax.body_field and node.child_by_field_name(syntax.body_field) is None:
        return None  # declarations without code: prototypes, abstract and interface methods
    start, end = first.start_byte, span.end_byte

    docstring: str | None = None
    cut: tuple[int, int] | None = None
    skip: tuple[int, int] | None = None
    if syntax.doc == "python":
        if doc is not None:
            docstring, statement = doc
            cut = removal_range(file.source, statement.start_byte, statement.end_byte)
            skip = (statement.start_byte, statement.end_byte)
    else:
        docstring = comment_doc(file.lines, first.start_point[0], syntax)

    hashed = file.normalised.between(start, end, skip) if file.normalised is not None else None
    if hashed is None:  # an edge the file-wide pass could not place exactly: this function alone
        hashed = normalised_code(file.source, start, end, file.comments_between(start, end) + ([skip] if skip else []))
    signature_start = node.start_byte if span.type == "decorated_definition" else span.start_byte
    return CodeFunction(
        language=file.language,
        path=file.path,
        qualified_name=found.qualified_name,
        start_line=first.start_point[0] + 1,
        end_line=span.end_point[0] + 1,
        signature=_signature(file.source, signature_start, node, syntax.body_field),
        code=_code_text(file, start, end, cut),
        docstring=docstring,
        body_hash=text_hash(hashed),
    )


def build_functions(file: SourceFile, found: Sequence[Found], deadline: Deadline | None = None) -> list[CodeFunction]:
    """The ``CodeFunction`` of each found function that has a body, in order.

    The file is normalised once, split at every function's edges and docstring, so that each
    body hash is a slice: nested functions are not normalised again inside each enclosing one.
    """
    python = SYNTAX[file.language].doc == "python"
    docs = [python_docstring(item.node, file.source) if python else None for item in found]
    offsets = [edge for doc in docs if doc is not None for edge in (doc[1].start_byte, doc[1].end_byte)]
    spans = [(item.first.start_byte, item.span.end_byte) for item in found]
    file.normalised = normalise_file(file.source, file.comments, spans, offsets)
    functions: list[CodeFunction] = []
    for item, doc in zip(found, docs, strict=True):
        if deadline is not None:
            deadline.check("building functions")
        function = _build(file, item, doc)
        if function is not None:
            functions.append(function)
    return functions
