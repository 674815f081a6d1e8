"""The duplication report's pure pieces: clustering, folding nested pairs, totals, progress lines,
the side-by-side comparison and the HTML page (escaped, self-contained)."""

from __future__ import annotations

import re

from workers.services.dup_report import (
    DuplicationReport,
    ReportFunction,
    ReportPair,
    cluster_pairs,
    fold_nested_pairs,
    totals_of,
)
from workers.services.dup_report_html import render_html, side_by_side


def fn(id: int, path: str, name: str, start: int, end: int, language: str = "python", code: str = "") -> ReportFunction:  # noqa: A002
    return ReportFunction(id, language, path, name, start, end, code or f"def {name}():\n    return {id}\n")


def pair(a: int, b: int, score: float = 0.95) -> ReportPair:
    return ReportPair(min(a, b), max(a, b), score, score)


FUNCTIONS = [
    fn(0, "pkg/a.py", "load", 1, 20),
    fn(1, "pkg/b.py", "load_copy", 1, 18),
    fn(2, "pkg/sub/c.py", "load_again", 5, 30),
    fn(3, "pkg/a.py", "render", 30, 40),
    fn(4, "lib/d.js", "render", 1, 11, language="javascript"),
    fn(5, "lib/e.js", "unrelated", 1, 9, language="javascript"),
]


def test_pairs_chain_into_one_cluster_and_clusters_come_largest_first() -> None:
    clusters = cluster_pairs(FUNCTIONS, [pair(0, 1), pair(1, 2), pair(3, 4, 0.91)])
    assert [[m.id for m in c.members] for c in clusters] == [[0, 1, 2], [4, 3]]
    big = clusters[0]
    assert big.lines == 20 + 18 + 26
    assert big.redundant_lines == 20 + 18  # keeping the longest copy (26 lines) saves the rest
    assert clusters[1].languages == ["javascript", "python"]
    assert clusters[1].best_score == 0.91


def test_a_function_in_no_pair_is_in_no_cluster() -> None:
    clusters = cluster_pairs(FUNCTIONS, [pair(0, 1)])
    assert all(5 not in {m.id for m in c.members} for c in clusters)
    assert cluster_pairs(FUNCTIONS, []) == []


def test_pairs_of_nested_functions_fold_into_their_hosts_pair() -> None:
    functions = [
        fn(0, "a.py", "outer", 1, 30),
        fn(1, "a.py", "outer.callback", 10, 20),
        fn(2, "b.py", "outer_copy", 1, 30),
        fn(3, "b.py", "outer_copy.callback", 10, 20),
        fn(4, "c.py", "other_callback", 1, 10),
    ]
    pairs = [pair(0, 2), pair(1, 3), pair(1, 4), pair(0, 1)]
    kept, folded = fold_nested_pairs(functions, pairs)
    # The callbacks' pair is covered by the hosts' pair; a function and its own inner one are no
    # duplication; the callback against an outside function stays.
    assert [(p.first, p.second) for p in kept] == [(0, 2), (1, 4)]
    assert folded == 2


def test_totals_per_language_and_directory() -> None:
    clusters = cluster_pairs(FUNCTIONS, [pair(0, 1), pair(3, 4)])
    overall, by_language, by_directory = totals_of(FUNCTIONS, clusters)
    assert overall.functions == 6 and overall.clusters == 2
    assert overall.duplicated_functions == 4
    assert overall.lines == 20 + 18 + 26 + 11 + 11 + 9
    assert overall.duplicated_lines == 20 + 18 + 11 + 11
    assert by_language["javascript"].to_dict() == {
        "functions": 2,
        "lines": 20,
        "duplicated_functions": 1,
        "duplicated_lines": 11,
        "clusters": 1,
        "share": 0.55,
    }
    assert by_language["python"].clusters == 2  # the render pair spans both languages
    assert by_directory["pkg"].duplicated_lines == 20 + 18 + 11
    assert by_directory["pkg/sub"].duplicated_lines == 0
    assert by_directory["lib"].clusters == 1


def test_side_by_side_pairs_edited_lines_and_marks_what_changed() -> None:
    a = ["def total(items):", "    s = 0", "    for i in items:", "        s += i", "    return s"]
    b = ["def amount(rows):", "    s = 0", "    for i in rows:", "        s += i", "    log(s)", "    return s"]
    rows = side_by_side(a, b, 10, 40)
    kinds = [r.kind for r in rows]
    assert kinds == ["changed", "same", "changed", "same", "right", "same"]
    assert (rows[0].left_no, rows[0].right_no) == (10, 40)
    assert "<mark>" in rows[0].left and "<mark>" in rows[0].right
    assert rows[4].left_no is None and rows[4].right == "    log(s)"
    assert rows[-1].left_no == 14 and rows[-1].right_no == 45


def test_side_by_side_does_not_mark_characters_of_unlike_lines() -> None:
    rows = side_by_side(["x = compute_everything(a, b)"], ["return None"])
    assert [r.kind for r in rows] == ["replaced"]
    assert "<mark>" not in rows[0].left


def _report(functions: list[ReportFunction], pairs: list[ReportPair]) -> dict:
    clusters = cluster_pairs(functions, pairs)
    overall, by_language, by_directory = totals_of(functions, clusters)
    return DuplicationReport("acme/shop", "a" * 40, clusters, overall, by_language, by_directory).to_dict()


def test_the_page_escapes_the_code_and_needs_no_network() -> None:
    hostile = "def evil():\n    return \"</script><script>fetch('https://x.invalid')</script><img src=x>\"\n"
    functions = [fn(0, "a.py", "evil", 1, 2, code=hostile), fn(1, "b.py", "evil2", 1, 2, code=hostile)]
    page = render_html(_report(functions, [pair(0, 1)]))
    assert "<img src=x>" not in page and "</script><script>fetch" not in page
    assert "&lt;/script&gt;" in page
    assert "default-src 'none'" in page  # the browser refuses any fetch the page might try
    assert not re.search(r"<[a-zA-Z][^<>]*\s(src|href)=", page)  # no tag loads or links anything
    assert page.count('<details class="cluster"') == 1


def test_the_page_shows_every_cluster_with_its_members_side_by_side() -> None:
    data = _report(FUNCTIONS, [pair(0, 1), pair(1, 2), pair(3, 4)])
    page = render_html(data)
    assert page.count('<details class="cluster"') == 2
    assert page.count('<div class="comparison">') == 2 + 1  # each member but the reference
    for name in ("load_copy", "load_again", "lib/d.js:1-11"):
        assert name in page
    assert "By directory" in page and "By language" in page


def test_the_page_of_a_repository_without_duplicates_says_so() -> None:
    page = render_html(_report(FUNCTIONS, []))
    assert "No near-duplicate functions found." in page


def test_report_json_counts_clusters_left_out() -> None:
    clusters = cluster_pairs(FUNCTIONS, [pair(0, 1), pair(3, 4)])
    overall, by_language, by_directory = totals_of(FUNCTIONS, clusters)
    data = DuplicationReport("r", "c", clusters[:1], overall, by_language, by_directory, clusters_left_out=1).to_dict()
    assert data["totals"]["clusters"] == 2 and len(data["clusters"]) == 1 and data["clusters_left_out"] == 1
