"""Rendering: markers, permalinks at the base commit, findings in words, short snippets only."""

from __future__ import annotations

import re

from core.domain import Match
from core.wording import amount
from github_adapter.render import (
    SUMMARY_MARKER,
    Links,
    SummaryView,
    find_fingerprints,
    render_inline,
    render_similar,
    render_summary,
    snippet,
    summary_head,
    summary_resolved,
)
from tests.fakes.github import scenario

WEB = "https://ghe.example.com"
LINKS = Links(web_url=WEB, slug=scenario.SLUG, base_sha=scenario.BASE, head_sha=scenario.HEAD)


def test_inline_comment_links_target_at_base_with_line_range() -> None:
    body = render_inline(scenario.DUP_TOTAL, LINKS)
    assert f"{WEB}/acme/shop/blob/{scenario.BASE}/lib/cart.py#L10-L24" in body
    # In words, with what to do; the raw scores and the model stay in the JSON and SARIF.
    assert "cart_total" in body and "instead of keeping a second copy" in body
    assert "0.95" not in body and "cosine" not in body.lower() and "lexical" not in body.lower()
    assert find_fingerprints(body) == [scenario.DUP_TOTAL.fingerprint]
    assert f"<!-- doppel:fp={scenario.DUP_TOTAL.fingerprint} -->" in body


def test_inline_comment_shows_only_a_short_snippet() -> None:
    body = render_inline(scenario.DUP_TOTAL, LINKS)
    code = scenario.DUP_TOTAL.target.code
    assert code.splitlines()[0] in body
    assert code.strip() not in body  # the whole body is never pasted
    shown = [line for line in code.splitlines() if line in body.splitlines()]
    assert 0 < len(shown) <= 6


def test_snippet_caps_lines_and_characters() -> None:
    code = "\n".join(f"line_{i} = {'x' * 50}" for i in range(40))
    short = snippet(code)
    assert len(short) <= 400 + 2 and short.endswith("…")
    assert snippet("a = 1\nb = 2") == "a = 1\nb = 2"


def test_intra_pr_target_links_at_head() -> None:
    body = render_inline(scenario.INTRA, LINKS)
    assert f"/blob/{scenario.HEAD}/app/report.py#L1-L5" in body


def test_summary_sections_markers_and_head() -> None:
    view = SummaryView(
        inline=[scenario.DUP_TOTAL, scenario.DUP_FORMAT],
        unplaced=[scenario.DUP_BIG],
        related=[scenario.RELATED_TOTAL],
        intra_pr=[scenario.INTRA],
        warnings=["app/gen.py: skipped (minified)"],
    )
    body = render_summary(view, LINKS, resolved_markers=["abc1234567890def"])
    assert body.startswith(SUMMARY_MARKER)
    assert summary_head(body) == scenario.HEAD
    assert summary_resolved(body) == {"abc1234567890def"}
    for f in (scenario.DUP_TOTAL, scenario.DUP_FORMAT, scenario.DUP_BIG, scenario.RELATED_TOTAL):
        t = f.target
        assert f"{WEB}/acme/shop/blob/{scenario.BASE}/{t.path}#L{t.start_line}-L{t.end_line}" in body
        assert amount(f) in body
    assert "could not be placed" in body and "Related code" in body and "within this pull request" in body
    assert body.count(scenario.ADAPTER) == 1  # named once, in the footer: no scores or model jargon per row
    assert "cosine" not in body.lower() and "lexical" not in body.lower()
    assert "app/gen.py: skipped (minified)" in body
    assert "step_0" not in body  # the summary carries links and scores, never code
    # The changed function links to the head.
    assert f"/blob/{scenario.HEAD}/app/billing.py#L11-L15" in body


def test_summary_without_findings_says_so() -> None:
    body = render_summary(SummaryView(), LINKS)
    assert "No near-duplicates" in body and summary_head(body) == scenario.HEAD
    assert summary_resolved(body) == set()


def test_table_cells_escape_pipes() -> None:
    odd = scenario.finding(scenario.COMPUTE_TOTAL, scenario.target("lib/a|b.py", "x|y"), 0.95)
    body = render_summary(SummaryView(inline=[odd]), LINKS)
    rows = [line for line in body.splitlines() if "x\\|y" in line]
    assert len(rows) == 1 and rows[0].count(" | ") == 2


def test_similar_table_ranks_matches_with_permalinks() -> None:
    matches = [Match(scenario.DUP_TOTAL.target, 0.97), Match(scenario.DUP_FORMAT.target, 0.81)]
    body = render_similar(matches, web_url=WEB, slug=scenario.SLUG, commit=scenario.HEAD, subject="`compute_total`")
    rows = [line for line in body.splitlines() if re.match(r"\| \d \|", line)]
    assert [r.split("|")[1].strip() for r in rows] == ["1", "2"]
    assert f"blob/{scenario.BASE}/lib/cart.py#L10-L24" in rows[0] and "0.97" in rows[0]
    assert "Nothing similar" in render_similar([], web_url=WEB, slug=scenario.SLUG, commit="c" * 40, subject="x")
