"""Hostile source files: deep nesting, many functions, huge files. Extraction stays linear in the
depth, never recurses, and a file over its budget is skipped with a reason instead of holding a job.

Issue 10 measured ``function f(){`` nested 1,000 times (16 KB) at 29 s, roughly cubic in depth:
every function walked ``Node.parent`` up to the root for its qualified name, and tree-sitter finds
each parent by descending from the root. The tests here assert on work done (functions found,
naming calls, nodes visited), not on time; ``benchmarks/bench_nesting.py`` shows the times.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import pytest

from core.domain import CodeFunction
from embedding.extract import ExtractOptions, body_hash, code_tokens, extract_source
from embedding.extract.budget import Deadline, OverBudgetError
from embedding.extract.docs import DOC_MAX_LINES, comment_doc
from embedding.extract.functions import DEADLINE_EVERY, MAX_QUALIFIED_NAME, scan
from embedding.extract.options import MAX_FUNCTIONS_PER_FILE
from embedding.extract.parsers import parse
from embedding.extract.syntax import SYNTAX

ALL_SIZES = ExtractOptions(min_function_lines=1)


def nested_js(depth: int) -> bytes:
    return b"function f(){\n" * depth + b"}\n" * depth


def nested_rust(depth: int) -> bytes:
    return b"fn f() {\n" * depth + b"}\n" * depth


def nested_python(depth: int) -> bytes:
    """One space of indent per level: Python's file size grows with depth², so depths stay lower."""
    return "".join(" " * level + "def f():\n" for level in range(depth)).encode() + b" " * depth + b"return 1\n"


NESTED: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "javascript": ("deep.js", nested_js),
    "rust": ("deep.rs", nested_rust),
    "python": ("deep.py", nested_python),
}


def _expected_name(depth: int) -> str:
    name = ".".join(["f"] * depth)
    return name if len(name) <= MAX_QUALIFIED_NAME else "…" + name[len(name) - MAX_QUALIFIED_NAME + 1 :]


def _assert_every_level_extracted(functions: list[CodeFunction], depth: int) -> None:
    assert len(functions) == depth
    assert [fn.start_line for fn in functions] == list(range(1, depth + 1))
    assert [fn.qualified_name for fn in functions[:3]] == ["f", "f.f", "f.f.f"]
    assert functions[-1].qualified_name == _expected_name(depth)
    innermost = functions[-1]
    assert body_hash(innermost.language, innermost.code) == innermost.body_hash


@pytest.mark.timeout(120)  # a hang guard: the code before the fix needed minutes at this depth
@pytest.mark.parametrize(("language", "depth"), [("javascript", 2000), ("rust", 2000), ("python", 400)])
def test_deep_nesting_extracts_every_function(language: str, depth: int) -> None:
    path, make = NESTED[language]
    result = extract_source(path, make(depth), ALL_SIZES)  # every level, the two-line innermost too
    assert result.skipped is None and result.warnings == []
    _assert_every_level_extracted(result.functions, depth)


@pytest.mark.parametrize(("language", "depth"), [("javascript", 300), ("rust", 300), ("python", 150)])
def test_naming_work_is_linear_in_depth(monkeypatch: pytest.MonkeyPatch, language: str, depth: int) -> None:
    """Each function and scope node is named once, not once per function below it."""
    calls = 0
    syntax = SYNTAX[language]

    def counting(*args: object) -> str | None:
        nonlocal calls
        calls += 1
        return syntax.name_of(*args)  # type: ignore[arg-type]

    monkeypatch.setitem(SYNTAX, language, dataclasses.replace(syntax, name_of=counting))
    path, make = NESTED[language]
    result = extract_source(path, make(depth), ALL_SIZES)
    assert len(result.functions) == depth
    assert calls == depth  # before the fix: depth·(depth+1)/2 (45,150 at depth 300)


@pytest.mark.parametrize("language", sorted(NESTED))
def test_the_walk_visits_each_node_at_most_once(language: str) -> None:
    path, make = NESTED[language]
    visits = {}
    for depth in (100, 200):
        source = make(depth)
        tree = parse(language, source)
        found = scan(language, tree.root_node, source, path)
        assert len(found.functions) == depth
        assert found.visited <= tree.root_node.descendant_count
        visits[depth] = found.visited
    assert visits[200] <= 2.1 * visits[100]  # linear: twice the depth, about twice the visits


@pytest.mark.timeout(60)
def test_nesting_far_past_the_size_budget_is_skipped_with_a_reason() -> None:
    source = nested_js(20_000)  # 320 KB; its functions' code adds up to 3.2 GB
    result = extract_source("src/deep.js", source)
    assert result.functions == []
    assert result.skipped is not None and "max_code_bytes" in result.skipped
    assert len(result.skipped) < 200  # a reason, not a dump


def test_deep_nesting_without_functions_does_not_recurse() -> None:
    """Deeper than Python's recursion limit many times over, in every walk over the tree."""
    depth = 200_000
    source = b"const x = " + b"(\n" * depth + b"1" + b")\n" * depth + b";\n"
    result = extract_source("src/parens.js", source)
    assert result.skipped is None and result.functions == []
    broken = b"function f(){\n" * 50_000  # never closed: the error search descends 50,000 levels
    result = extract_source("src/broken.js", broken)
    assert result.skipped is None and len(result.warnings) == 1 and "syntax error" in result.warnings[0]
    code = nested_js(5_000).decode()
    assert len(code_tokens("javascript", code)) == 5_000 * 6
    assert len(body_hash("javascript", code)) == 64


def test_time_budget_skips_the_file_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    options = ExtractOptions(max_file_seconds=1e-9)  # spent before the parse is over
    with caplog.at_level(logging.DEBUG, logger="embedding.extract.extractor"):
        result = extract_source("src/any.js", nested_js(50), options)
    assert result.path == "src/any.js" and result.functions == []
    assert result.skipped is not None and "max_file_seconds" in result.skipped
    assert any("src/any.js" in record.getMessage() for record in caplog.records)


def test_time_budget_is_looked_at_while_walking() -> None:
    source = nested_js(DEADLINE_EVERY)
    tree = parse("javascript", source)
    now = [0.0]
    deadline = Deadline(1.0, clock=lambda: now[0])
    assert len(scan("javascript", tree.root_node, source, "a.js", deadline).functions) == DEADLINE_EVERY
    now[0] = 2.0  # the budget is spent: the next walk stops at its first look at the clock
    with pytest.raises(OverBudgetError, match="walking the syntax tree"):
        scan("javascript", tree.root_node, source, "a.js", deadline)


def test_size_budget_counts_nested_code_again_and_skips_with_a_reason() -> None:
    source = nested_js(10)  # 160 bytes; its functions hold 16·(10 + 9 + … + 1) - 10 = 870 bytes of code
    assert len(extract_source("a.js", source, dataclasses.replace(ALL_SIZES, max_code_bytes=870)).functions) == 10
    result = extract_source("a.js", source, dataclasses.replace(ALL_SIZES, max_code_bytes=869))
    assert result.functions == [] and result.skipped is not None
    assert "870 bytes of code > max_code_bytes 869" in result.skipped


def _many_functions(count: int) -> bytes:
    return b"".join(b"function f%d(a) {\n  return a + %d;\n}\n" % (n, n) for n in range(count))


def test_function_cap_keeps_the_first_and_counts_the_rest() -> None:
    result = extract_source("src/many.js", _many_functions(25), ExtractOptions(max_functions_per_file=10))
    assert [fn.qualified_name for fn in result.functions] == [f"f{n}" for n in range(10)]
    assert result.warnings == ["src/many.js: 15 more functions left out (max_functions_per_file 10)"]


def test_default_function_cap_bounds_a_file_of_thousands_of_functions() -> None:
    count = MAX_FUNCTIONS_PER_FILE + 1_000
    result = extract_source("src/generated.js", _many_functions(count))
    assert len(result.functions) == MAX_FUNCTIONS_PER_FILE
    assert result.warnings == [
        f"src/generated.js: 1,000 more functions left out (max_functions_per_file {count - 1000:,})"
    ]


def test_qualified_names_stay_bounded_at_any_depth() -> None:
    result = extract_source("deep.js", nested_js(1_000))
    assert max(len(fn.qualified_name) for fn in result.functions) == MAX_QUALIFIED_NAME
    assert result.functions[-1].qualified_name.startswith("…f.f")


class _CountingLines(list[str]):
    reads = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        _CountingLines.reads += 1
        return super().__getitem__(index)


def test_doc_comment_search_reads_a_bounded_number_of_lines() -> None:
    """A line ending in ``*/`` that opens no comment (a regex literal) above every function made
    each function read the file up to its top: quadratic in the number of functions."""
    lines = _CountingLines(["const r = /x*/"] * 100_000 + ["function f() {"])
    _CountingLines.reads = 0
    assert comment_doc(lines, 100_000, SYNTAX["javascript"]) is None
    assert _CountingLines.reads <= DOC_MAX_LINES + 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_file_seconds", 0.0), ("max_code_bytes", 0), ("max_functions_per_file", 0), ("max_file_bytes", 0)],
)
def test_budgets_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ExtractOptions(**{field: value})
