"""The pure parts of the review: which functions a diff changes, what counts as its own old
version, the order of findings and the JSON shape of a result."""

from __future__ import annotations

import json

from core.domain import Finding, FindingKind, IndexedFunction, Match, RepoRef
from embedding.verdict import Signals, Verdict
from tests.factories import make_function
from workers.services.review import (
    Candidate,
    ReviewResult,
    ReviewStats,
    changed_functions,
    code_lines,
    is_previous_version,
    shortlist,
    sort_findings,
)

REPO = RepoRef("acme/shop")


def _target(path: str = "pkg/old.py", qualified_name: str = "helper", start_line: int = 1) -> IndexedFunction:
    return IndexedFunction(
        repo=REPO.slug, language="python", path=path, qualified_name=qualified_name, start_line=start_line,
        end_line=start_line + 3, commit="b" * 40, body_hash="h", adapter_version="hash64:base", code="def helper(): pass",
    )  # fmt: skip


def _finding(kind: FindingKind, score: float, path: str = "pkg/new.py", line: int = 1) -> Finding:
    fn = make_function(path=path, start_line=line)
    return Finding(kind, fn, _target(), score, score, score, "hash64:base")


def test_a_function_is_changed_when_an_added_line_falls_inside_it() -> None:
    first = make_function(start_line=1, qualified_name="first")  # lines 1-3
    second = make_function(start_line=10, qualified_name="second")  # lines 10-12
    assert changed_functions([first, second], {2}) == [first]
    assert changed_functions([first, second], {3, 10}) == [first, second]
    assert changed_functions([first, second], {5, 13}) == []
    assert changed_functions([first, second], set()) == []


def test_nested_functions_both_count_when_the_line_is_in_both() -> None:
    outer = make_function(
        "def outer():\n    def inner():\n        return 1\n    return inner\n", qualified_name="outer"
    )
    inner = make_function("def inner():\n    return 1\n", start_line=2, qualified_name="outer.inner")
    assert changed_functions([outer, inner], {3}) == [outer, inner]
    assert changed_functions([outer, inner], {4}) == [outer]


def test_own_previous_version_same_path_or_renamed_from() -> None:
    fn = make_function(path="pkg/new.py", qualified_name="helper")
    assert is_previous_version(fn, _target("pkg/new.py"), {})
    assert is_previous_version(fn, _target("pkg/old.py"), {"pkg/new.py": "pkg/old.py"})
    assert not is_previous_version(fn, _target("pkg/old.py"), {})
    assert not is_previous_version(fn, _target("pkg/new.py", "other"), {})


def test_findings_sort_duplicates_then_intra_then_related_best_first() -> None:
    findings = [
        _finding(FindingKind.RELATED, 0.99),
        _finding(FindingKind.DUPLICATE, 0.91, "b.py"),
        _finding(FindingKind.INTRA_PR, 0.97),
        _finding(FindingKind.DUPLICATE, 0.95, "z.py"),
        _finding(FindingKind.DUPLICATE, 0.91, "a.py"),
    ]
    ordered = sort_findings(findings)
    assert [(f.kind, f.score, f.function.path) for f in ordered] == [
        (FindingKind.DUPLICATE, 0.95, "z.py"),
        (FindingKind.DUPLICATE, 0.91, "a.py"),
        (FindingKind.DUPLICATE, 0.91, "b.py"),
        (FindingKind.INTRA_PR, 0.97, "pkg/new.py"),
        (FindingKind.RELATED, 0.99, "pkg/new.py"),
    ]


def test_code_lines_are_one_based_and_inclusive() -> None:
    assert code_lines(b"a\nb\nc\nd\n", 2, 3) == "b\nc"


def test_result_to_dict_is_json_with_counts_and_verdicts() -> None:
    changed = [make_function(path="pkg/new.py")]
    findings = [_finding(FindingKind.DUPLICATE, 0.93), _finding(FindingKind.RELATED, 0.81)]
    result = ReviewResult(
        REPO, "a" * 40, "c" * 40, changed, findings, ["pkg/x.py: not reviewed: too large"],
        ReviewStats(files_changed=1, functions_changed=1, searches=1, candidates=3, seconds=0.12345),
        merge_base="a" * 40, verdicts={"hash64:base": Verdict.legacy(0.9, 0.8, 0.5, source="settings")},
    )  # fmt: skip
    data = json.loads(json.dumps(result.to_dict()))
    assert data["repo"] == "acme/shop"
    assert data["counts"] == {"duplicate": 1, "related": 1, "intra_pr": 0}
    assert data["changed"] == [
        {"language": "python", "path": "pkg/new.py", "qualified_name": "f", "start_line": 1, "end_line": 3}
    ]
    assert data["findings"][0]["kind"] == "duplicate"
    assert data["findings"][0]["target"]["path"] == "pkg/old.py"
    assert data["verdicts"]["hash64:base"]["duplicate"] == 0.9
    assert data["pre_existing"] == []
    assert data["stats"]["seconds"] == 0.123
    assert data["warnings"] == ["pkg/x.py: not reviewed: too large"]
    assert [f.kind for f in result.duplicates] == [FindingKind.DUPLICATE]
    assert [f.kind for f in result.related] == [FindingKind.RELATED]
    assert result.intra_pr == []


def test_ignore_markers_cover_the_line_above_and_the_body() -> None:
    from workers.services.review import is_ignored, marker_lines

    text = "x = 1\n# doppel: ignore\ndef f():\n    return 1\n\ndef g():\n    y = 2  // doppel:ignore\n    return y\n"
    markers = marker_lines(text)
    assert markers == {2, 7}
    f = make_function("def f():\n    return 1\n", start_line=3)  # lines 3-4, marker above
    g = make_function("def g():\n    y = 2\n    return y\n", start_line=6)  # lines 6-8, marker inside
    h = make_function(start_line=10)  # lines 10-12, none
    assert is_ignored(f, markers) and is_ignored(g, markers) and not is_ignored(h, markers)
    assert marker_lines("# doppel ignore\n# doppel: ignored-ish\n") == set()


def _candidate(rank: int, cosine: float, lexical: float, identical: bool = False, tokens: int = 80) -> Candidate:
    signals = Signals(cosine, lexical, lexical, 1.0, 0.0, 0.0, lexical, lexical)
    target = _target(qualified_name=f"neighbour_{rank}", start_line=rank * 10 + 1)
    return Candidate(Match(target, cosine), signals, identical, {"rank": rank}, tokens)


def test_a_renamed_copy_ranked_below_top_k_by_cosine_is_still_judged() -> None:
    """The demo's planted copy: its original is only the 6th nearest by cosine, behind five
    functions that merely share its words. Beyond the top_k, a lexical near-copy is judged too;
    an unrelated neighbour that deep is not."""
    lookalikes = [_candidate(rank, 0.70 - rank * 0.01, 0.1) for rank in range(5)]
    copy = _candidate(5, 0.64, 0.9)
    unrelated = _candidate(6, 0.63, 0.2)
    judged = shortlist([*lookalikes, copy, unrelated], top_k=5)
    assert judged == [*lookalikes, copy]
    assert shortlist([*lookalikes, copy, unrelated], top_k=5, near_copy=0.95) == lookalikes


def test_identical_bodies_are_judged_at_any_depth() -> None:
    strong = [_candidate(rank, 0.9, 0.9) for rank in range(3)]
    identical = _candidate(3, 0.5, 0.0, identical=True)
    assert shortlist([*strong, identical], top_k=1, near_copy=1.1) == [strong[0], identical]
    assert shortlist(strong, top_k=5) == strong


def test_a_one_line_idiom_deeper_than_top_k_is_not_judged_however_alike() -> None:
    """Memoised getters (``@subclasses ||= []``) normalise to the same tokens across a codebase: on
    thor's real edits, judging them at depth 30 flagged two genuinely new getters as duplicates."""
    near = [_candidate(rank, 0.8, 0.1) for rank in range(5)]
    getter = _candidate(11, 0.59, 1.0, tokens=7)
    assert shortlist([*near, getter], top_k=5) == near
    assert shortlist([*near, getter], top_k=5, min_tokens=5) == [*near, getter]
