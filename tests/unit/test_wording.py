"""Findings in words: what matches and how much, how it differs, what to do; no score jargon."""

from __future__ import annotations

from core.domain import Finding, FindingKind, IndexedFunction
from core.wording import amount, describe, line_comparison
from tests.factories import make_function

ORIGINAL = """def parse_headers(raw):
    headers = {}
    for line in raw.split("\\n"):
        key, _, value = line.partition(":")
        if key:
            headers[key.strip().lower()] = value.strip()
    return headers
"""
EDITED = """def parse_headers(raw, *, lower=True):
    headers = {}
    for line in raw.split("\\n"):
        key, _, value = line.partition(":")
        if key:
            name = key.strip().lower() if lower else key.strip()
            headers[name] = value.strip()
    return headers
"""


def _finding(kind: FindingKind, code: str, target_code: str, **extra: object) -> Finding:
    fn = make_function(EDITED if code is None else code, path="http/new.py")
    target = IndexedFunction(
        "acme/x", "python", "http/old.py", "parse_headers", 10, 16, "c" * 40, "h", "v", target_code
    )
    return Finding(kind, fn, target, 0.93, 0.9, 0.8, "minilm-l6:base", dict(extra))


def test_a_duplicate_says_how_much_matches_how_it_differs_and_what_to_do() -> None:
    words = describe(_finding(FindingKind.DUPLICATE, EDITED, ORIGINAL))
    assert "Much of `parse_headers` matches `parse_headers` (http/old.py, lines 10–16)" in words.headline
    assert "5 of its 8 lines" in words.headline
    assert "where the original has `headers[key.strip().lower()] = value.strip()`" in words.detail
    assert "instead of keeping a second copy" in words.advice
    text = words.text().lower()
    assert "cosine" not in text and "lexical" not in text and "0.93" not in text


def test_an_identical_copy_and_an_intra_change_copy_get_their_own_words() -> None:
    same = describe(_finding(FindingKind.DUPLICATE, ORIGINAL, ORIGINAL, identical=True))
    assert "only layout and comments differ" in same.headline
    intra = describe(_finding(FindingKind.INTRA_PR, EDITED, ORIGINAL))
    assert "Both functions are new in this change" in intra.advice


def test_renamed_copies_are_said_to_follow_the_statements_with_other_names() -> None:
    renamed = ORIGINAL.replace("headers", "fields").replace("raw", "text").replace("line", "row")
    words = describe(_finding(FindingKind.DUPLICATE, renamed, ORIGINAL))
    assert "with other names" in words.headline
    assert amount(_finding(FindingKind.DUPLICATE, renamed, ORIGINAL)) == "same statements, other names"


def test_line_comparison_counts_matching_lines_and_names_differences() -> None:
    matching, total, differences = line_comparison(EDITED, ORIGINAL)
    assert (matching, total) == (5, 8)
    assert len(differences) == 2 and differences[0].startswith("has `def parse_headers(raw, *, lower=True):`")
