"""Extraction of one file: skip checks, decoding, parsing, then the functions that parse cleanly.

Nothing here raises on bad input: a file that cannot be used comes back with ``skipped`` set,
and problems that still leave some functions usable come back as ``warnings``. The work is
bounded per file (``ExtractOptions``' budgets): past its time or code-size budget a file is
skipped with a reason, and functions past the per-file cap are counted in a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tree_sitter

from core.errors import ExtractionError
from embedding.extract.budget import Deadline, OverBudgetError
from embedding.extract.functions import Found, SourceFile, build_functions, scan
from embedding.extract.options import DEFAULT_OPTIONS, ExtractOptions, ExtractResult
from embedding.extract.parsers import parse
from embedding.extract.skip import content_skip_reason, decode_source, size_reason, skip_reason
from embedding.languages import language_for_path

logger = logging.getLogger(__name__)


def first_error(root: tree_sitter.Node) -> tree_sitter.Node | None:
    """The first ERROR or MISSING node in document order, or ``None`` for a clean tree.

    tree-sitter may wrap a long stretch of valid code in one ERROR node; the innermost error
    inside it points closer to the real problem, so the search keeps descending.
    """
    if not root.has_error:
        return None
    node = root
    while True:  # a loop, not recursion: trees can be thousands deep
        child = next((c for c in node.children if c.has_error or c.is_missing), None)
        if child is None:
            return node
        node = child


def _within_cap(found: list[Found], options: ExtractOptions) -> tuple[list[Found], int]:
    """The functions to build (the first ``max_functions_per_file`` long enough to keep) and
    how many more there were.

    Length is judged by line span here (before the docstring is cut), so the count of the
    rest can include a few that the docstring rule would drop.
    """
    cap = options.max_functions_per_file
    kept: list[Found] = []
    more = 0
    for item in found:
        if item.span.end_point[0] - item.first.start_point[0] + 1 < options.min_function_lines:
            continue
        if len(kept) < cap:
            kept.append(item)
        else:
            more += 1
    return kept, more


def _code_bytes(found: list[Found]) -> int:
    return sum(item.span.end_byte - item.first.start_byte for item in found)


def _skipped(path: str, reason: str) -> ExtractResult:
    logger.debug("extract.skipped path=%s reason=%s", path, reason)
    return ExtractResult(path=path, skipped=reason)


def extract_source(path: str, data: bytes, options: ExtractOptions = DEFAULT_OPTIONS) -> ExtractResult:
    """Functions of one file given its repo-relative ``path`` and bytes.

    Functions whose code (docstring removed) has fewer than ``options.min_function_lines``
    lines are dropped. With syntax errors, the functions whose own subtree is clean are kept
    and a warning names the first error's line.
    """
    reason = skip_reason(path, options) or content_skip_reason(data, options)
    if reason is not None:
        return _skipped(path, reason)
    language = language_for_path(path)
    assert language is not None  # skip_reason rejects unsupported paths
    _, source, warnings = decode_source(path, data)
    result = ExtractResult(path=path, warnings=warnings)
    try:
        deadline = Deadline(options.max_file_seconds)
        tree = parse(language.name, source, deadline)
        deadline.check("parsing")
        found = scan(language.name, tree.root_node, source, path, deadline)
        kept, more = _within_cap(found.functions, options)
        code_bytes = _code_bytes(kept)
        if code_bytes > options.max_code_bytes:
            return _skipped(
                path,
                f"functions too large in all ({code_bytes:,} bytes of code > max_code_bytes "
                f"{options.max_code_bytes:,}; nested functions count again inside each enclosing one)",
            )
        if more:
            result.warnings.append(
                f"{path}: {more:,} more functions left out (max_functions_per_file {options.max_functions_per_file:,})"
            )
        clean = [item for item in kept if not item.node.has_error]
        broken = len(kept) - len(clean)
        file = SourceFile(path, language.name, source, found.comments)
        for function in build_functions(file, clean, deadline):
            if function.code.count("\n") + 1 >= options.min_function_lines:
                result.functions.append(function)
        error = first_error(tree.root_node)
        if error is not None:
            what = f"missing {error.type!r}" if error.is_missing else "unexpected input"
            result.warnings.append(
                f"{path}:{error.start_point[0] + 1}: syntax error ({what}); extracted the functions that parse, "
                f"skipped {broken} that contain errors"
            )
    except OverBudgetError as exc:
        return _skipped(path, str(exc))
    except (ValueError, RecursionError, ExtractionError) as exc:
        # A grammar or naming bug must not stop a whole repository scan: report it for this file.
        logger.exception("extract.failed path=%s", path)
        return _skipped(path, f"extraction failed: {type(exc).__name__}: {exc}")
    for warning in result.warnings:
        logger.warning("%s", warning)
    return result


def extract_file(root: Path, relpath: str, options: ExtractOptions = DEFAULT_OPTIONS) -> ExtractResult:
    """Functions of ``root / relpath``; the path is judged (globs, size) before the file is read.

    Raises ``ExtractionError`` when the file cannot be read at all.
    """
    reason = skip_reason(relpath, options)
    if reason is not None:
        return _skipped(relpath, reason)
    full = root / relpath
    try:
        reason = size_reason(full.stat().st_size, options)
        if reason is not None:
            return _skipped(relpath, reason)
        data = full.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read {full}: {exc.strerror or exc}") from exc
    return extract_source(relpath, data, options)
