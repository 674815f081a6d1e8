"""Anchoring findings on the diff: signature line if the change added it, else the first added line."""

from __future__ import annotations

import pytest

from github_adapter.anchors import FilePatch, anchor_line, parse_patch, signature_line
from tests.factories import make_function
from tests.fakes.github import scenario


def test_parse_patch_counts_right_side_lines() -> None:
    (hunk,) = parse_patch(scenario.BILLING_PATCH)
    assert (hunk.start, hunk.count) == (1, 22)
    assert hunk.added == frozenset({3, 4, *range(9, 23)})
    assert hunk.context == frozenset({1, 2, 5, 6, 7, 8})


def test_parse_patch_several_hunks_and_no_newline_marker() -> None:
    patch = "@@ -1,2 +1,2 @@\n a\n-b\n+B\n@@ -40,3 +40,4 @@ def g():\n x\n+y\n z\n w\n\\ No newline at end of file"
    first, second = parse_patch(patch)
    assert first.added == {2} and first.context == {1}
    assert second.added == {41} and second.context == {40, 42, 43}


@pytest.mark.parametrize(
    ("fn", "line"),
    [
        (scenario.APPLY_DISCOUNT, 3),  # signature is context: first added line
        (scenario.COMPUTE_TOTAL, 11),  # signature added
        (scenario.FORMAT_INVOICE, 18),
    ],
)
def test_anchor_in_billing(fn, line) -> None:  # type: ignore[no-untyped-def]
    patch = FilePatch.parse("app/billing.py", scenario.BILLING_PATCH)
    assert anchor_line(fn, patch) == line
    assert patch.commentable(line)


def test_signature_line_skips_decorators() -> None:
    fn = make_function(
        "@cache\n@trace(level=2)\ndef lookup(key):\n    return key\n", qualified_name="Store.lookup", start_line=20
    )
    assert signature_line(fn) == 22


def test_decorated_function_with_changed_signature_anchors_on_def_line() -> None:
    fn = make_function(
        "@cache\ndef lookup(key, default=None):\n    return key\n", qualified_name="lookup", start_line=5
    )
    patch = FilePatch.parse(
        "m.py", "@@ -5,3 +5,3 @@\n @cache\n-def lookup(key):\n+def lookup(key, default=None):\n     return key"
    )
    assert anchor_line(fn, patch) == 6


def test_only_deleted_lines_anchor_on_context_inside_function() -> None:
    fn = make_function("def f(a):\n    x = a\n    return x\n", start_line=10)
    patch = FilePatch.parse("m.py", "@@ -9,5 +9,4 @@\n import os\n def f(a):\n-    y = 2\n     x = a\n     return x")
    assert anchor_line(fn, patch) == 10


def test_never_outside_a_hunk() -> None:
    fn = make_function("def far(a):\n    return a\n    # end\n", start_line=100)
    patch = FilePatch.parse("m.py", "@@ -1,2 +1,3 @@\n a\n+b\n c")
    assert anchor_line(fn, patch) is None
    assert anchor_line(fn, None) is None
    assert anchor_line(scenario.BIG, FilePatch.parse("app/big.py", None)) is None


def test_anchor_is_always_a_commentable_line() -> None:
    patch = FilePatch.parse("app/billing.py", scenario.BILLING_PATCH)
    for start in range(1, 25):
        fn = make_function("def g(a):\n    b = a\n    return b\n", start_line=start)
        line = anchor_line(fn, patch)
        assert line is None or (patch.commentable(line) and fn.contains_line(line))
