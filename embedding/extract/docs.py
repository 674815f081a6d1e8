"""Docstrings and doc comments: found, split from the code, and cleaned of their markers.

Python docstrings live inside the function (the first statement of its body) and are cut out
of ``code``. Other languages document a function with comments directly above it; those are
found by reading the lines above the function (no blank line between), which also covers
grammars that attach such comments to an enclosing node (Ruby's first method of a class).
"""

from __future__ import annotations

import inspect
import re
import textwrap

import tree_sitter

from embedding.extract.syntax import Syntax

DOC_MAX_LINES = 256  # a doc comment is looked for this many lines up at most: a line ending in
# "*/" with no "/*" above (a regex literal) must not make every function read the whole file

_STRING_QUOTES = re.compile(r"^[rRuUbBfF]{0,2}(\"\"\"|'''|\"|')(.*)\1$", re.DOTALL)


def python_docstring(function: tree_sitter.Node, source: bytes) -> tuple[str, tree_sitter.Node] | None:
    """The cleaned docstring of a Python function (``source``: the file's bytes) and the statement holding it."""
    body = function.child_by_field_name("body")
    first = body.named_child(0) if body is not None else None  # not named_children: no list of the body
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return None
    string = first.named_child(0)
    if string is None or string.type != "string":
        return None
    raw = source[string.start_byte : string.end_byte].decode("utf-8", "replace")
    quoted = _STRING_QUOTES.match(raw)
    return inspect.cleandoc(quoted.group(2) if quoted else raw), first


def removal_range(source: bytes, start: int, end: int) -> tuple[int, int]:
    """Byte range to cut for a node: its whole lines when nothing else shares them."""
    line_start = source.rfind(b"\n", 0, start) + 1
    line_end = source.find(b"\n", end)
    line_end = len(source) if line_end == -1 else line_end
    if source[line_start:start].strip() or source[end:line_end].strip():
        return start, end
    return line_start, min(line_end + 1, len(source))


def _clean_block(lines: list[str]) -> str:
    """Text of a ``/* … */`` comment without its markers and leading ``*`` gutters."""
    joined = "\n".join(line.strip() for line in lines)
    joined = re.sub(r"^/\*+!?", "", joined)
    joined = re.sub(r"\*+/$", "", joined)
    cleaned = [re.sub(r"^\*(?!/) ?", "", line.strip()) for line in joined.split("\n")]
    return textwrap.dedent("\n".join(cleaned)).strip()


def _clean_line_run(lines: list[str], markers: tuple[str, ...]) -> str:
    cleaned = []
    for line in lines:
        stripped = line.strip()
        for marker in markers:
            if stripped.startswith(marker):
                stripped = stripped[len(marker) :]
                break
        cleaned.append(stripped.rstrip())
    return textwrap.dedent("\n".join(cleaned)).strip()


def _is_doc_line(line: str, markers: tuple[str, ...]) -> bool:
    stripped = line.lstrip()
    if stripped.startswith(("//!", "#!", "#[")):  # inner docs, shebangs and Rust attributes are not docs
        return False
    return any(stripped.startswith(marker) for marker in markers)


def comment_doc(lines: list[str], start_row: int, syntax: Syntax) -> str | None:
    """The doc comment directly above ``start_row`` (0-based), cleaned, or ``None``."""
    row = start_row - 1
    if row < 0:
        return None
    above = lines[row].strip()
    lowest = max(row - DOC_MAX_LINES + 1, 0)
    if above.endswith("*/") and syntax.doc in ("block", "line"):
        top = row
        while top >= lowest and "/*" not in lines[top]:
            top -= 1
        if top < lowest or not lines[top].lstrip().startswith("/*"):
            return None
        if syntax.doc == "block" and not lines[top].lstrip().startswith("/**"):
            return None
        return _clean_block(lines[top : row + 1]) or None
    if not syntax.line_markers or not _is_doc_line(above, syntax.line_markers):
        return None
    top = row
    while top - 1 >= lowest and _is_doc_line(lines[top - 1], syntax.line_markers):
        top -= 1
    return _clean_line_run(lines[top : row + 1], syntax.line_markers) or None
