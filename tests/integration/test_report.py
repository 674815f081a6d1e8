"""``doppel report`` on real git repositories with real extraction: what is clustered, what is not.

The service tests use the hashing encoder and the memory index with pinned cut-offs (fast, the
plumbing); the CLI test runs the real default model and the shipped verdict end to end, as a user
would, and reads the JSON and the HTML it writes.
"""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest
from git import Repo

from cli.main import main
from core.domain import RepoRef
from core.settings import Settings
from embedding.source import GitSource
from tests.factories import blend_verdict_file, commit, make_repo
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from tests.samples import ORDER_TOTAL, ORDER_TOTAL_NEAR_COPY, PARSE_DURATION, SLUGIFY
from workers.services.dup_report import DuplicationReport, build_report
from workers.services.indexing import IndexService
from workers.services.plan import resolve_plan
from workers.services.review import ReviewService

pytestmark = pytest.mark.integration

REPO = RepoRef("acme/shop")
# A copy of slugify, renamed, that its author marked as deliberate.
IGNORED_COPY = "# doppel: ignore\n" + SLUGIFY.replace("def slugify", "def slug_for_urls")
FILES = {
    "shop/billing.py": ORDER_TOTAL + "\n\n" + SLUGIFY,
    "shop/invoices.py": ORDER_TOTAL_NEAR_COPY,
    "shop/text/util.py": SLUGIFY.replace("slugify", "make_slug") + "\n\n" + PARSE_DURATION,
    "shop/text/legacy.py": IGNORED_COPY,
    "README.md": "# shop\n",
}


def cluster_names(data: dict) -> list[set[str]]:
    return [{m["qualified_name"] for m in c["members"]} for c in data["clusters"]]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path, FILES)


def _report(tmp_path: Path, repo: Repo) -> DuplicationReport:
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict)
    encoder, index = HashEncoder(dim=256), MemoryIndex()
    indexer = IndexService(settings, encoder, index, progress=False)
    reviewer = ReviewService(settings, encoder, index, indexer)
    plan = resolve_plan(settings)
    with GitSource(Path(repo.working_tree_dir or "")) as source:
        indexer.update(source, REPO, "HEAD", plan=plan)
        return build_report(reviewer, encoder, source, REPO, "HEAD", plan, progress=False)


def test_copies_are_clustered_and_counted(tmp_path: Path, repo: Repo, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="core.progress"):
        data = _report(tmp_path, repo).to_dict()
    assert sorted(map(sorted, cluster_names(data))) == [["invoice_sum", "order_total"], ["make_slug", "slugify"]]
    # parse_duration is like nothing; the copy marked `doppel: ignore` is not even searched.
    assert data["stats"]["ignored"] == 1 and data["stats"]["functions"] == 5
    totals = data["totals"]
    assert (totals["functions"], totals["duplicated_functions"], totals["clusters"]) == (5, 4, 2)
    assert data["by_directory"]["shop/text"]["duplicated_functions"] == 1
    assert data["by_directory"]["shop"]["duplicated_functions"] == 3
    assert data["by_language"]["python"]["clusters"] == 2
    # Off a terminal the progress is a log line, counted in functions.
    assert any("searching acme/shop: 5/5 functions (100%)" in r.getMessage() for r in caplog.records)


def test_the_report_never_writes_the_index_and_sees_the_commit_asked_for(tmp_path: Path, repo: Repo) -> None:
    """A commit the index does not hold yet is laid over it in memory: its new copy is found."""
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict)
    encoder, index = HashEncoder(dim=256), MemoryIndex()
    indexer = IndexService(settings, encoder, index, progress=False)
    reviewer = ReviewService(settings, encoder, index, indexer)
    plan = resolve_plan(settings)
    with GitSource(Path(repo.working_tree_dir or "")) as source:
        indexed = source.resolve("HEAD")
        indexer.update(source, REPO, indexed, plan=plan)
        head = commit(repo, {"shop/tax.py": PARSE_DURATION.replace("parse_duration", "duration_of")})
        report = build_report(reviewer, encoder, source, REPO, head, plan)
        assert indexer.state(source, REPO, plan=plan).commit == indexed
    assert {"parse_duration", "duration_of"} in cluster_names(report.to_dict())
    assert report.stats.view is not None and report.stats.view["mode"] == "overlay"


@pytest.mark.slow
def test_cli_report_with_the_default_model_writes_json_and_html(tmp_path: Path, repo: Repo, capsys) -> None:
    out = tmp_path / "report"
    code = main(
        [
            "report",
            str(repo.working_tree_dir),
            "--data-dir",
            str(tmp_path / "data"),
            "--html",
            str(out),
            "--format",
            "json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "report.json").read_text())
    assert printed["clusters"] == written["clusters"]
    names = cluster_names(written)
    assert {"order_total", "invoice_sum"} in names
    assert any({"slugify", "make_slug"} <= group for group in names)
    assert all("parse_duration" not in group for group in names)
    page = (out / "index.html").read_text()
    assert page.count('<details class="cluster"') == len(written["clusters"])
    assert "shop/invoices.py:1-10" in page


def test_cli_report_text_summary_and_bad_arguments(tmp_path: Path, repo: Repo, capsys) -> None:
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    assert main(["report", str(repo.working_tree_dir), "--html", str(not_a_dir)]) == 1
    assert "not a directory" in capsys.readouterr().err
    assert main(["report", str(repo.working_tree_dir), "--top", "-1"]) == 1
    assert "--top must be 0 or more" in capsys.readouterr().err


def test_render_summary_lists_the_largest_clusters(tmp_path: Path, repo: Repo) -> None:
    from cli.report import render_summary

    text = render_summary(_report(tmp_path, repo).to_dict(), top=1)
    first = text.splitlines()[0]
    assert first.startswith("doppel report acme/shop at ") and "2 clusters, 4 of 5 functions" in first
    assert "#1: 2 functions" in text and "#2" not in text


def test_a_repository_without_functions_gives_an_empty_report(tmp_path: Path) -> None:
    empty = make_repo(tmp_path, {"README.md": "# nothing\n", "notes.txt": textwrap.dedent("just text\n")})
    data = _report(tmp_path, empty).to_dict()
    assert data["clusters"] == [] and data["totals"]["functions"] == 0


def test_a_one_line_idiom_deeper_than_top_k_is_not_clustered_as_a_review_would_not_judge_it(tmp_path: Path) -> None:
    """The report follows the review's rule beyond top_k (``review.judged_at_any_depth``): a
    memoised getter that normalises like another is not paired at rank 2, while a renamed copy of
    real code at the same rank is. Before the rule was shared, the report skipped the token minimum
    and paired the getters."""
    from core.domain import CodeFunction, IndexedFunction, Match
    from tests.factories import make_function
    from workers.services.dup_report import ReportFunction, ReportStats, _PairSearch

    def function(i: int, name: str, code: str) -> tuple[CodeFunction, ReportFunction]:
        fn = make_function(code, path=f"shop/m{i}.py", qualified_name=name, body_hash=f"h{i}")
        return fn, ReportFunction(i, "python", fn.path, name, fn.start_line, fn.end_line, code, f"h{i}")

    getter, other_getter = "def size(self):\n    return self._size", "def name(self):\n    return self._name"
    copy = SLUGIFY.replace("slugify", "make_slug")
    functions = [
        function(0, "size", getter), function(1, "unrelated_a", PARSE_DURATION), function(2, "unrelated_b", ORDER_TOTAL),
        function(3, "name", other_getter), function(4, "slugify", SLUGIFY), function(5, "make_slug", copy),
    ]  # fmt: skip
    by_key = {(r.path, r.qualified_name, r.start_line): r for _, r in functions}

    class View:  # the search, as the index would answer it: itself first, then three neighbours
        def __init__(self, order: list[int]) -> None:
            self.order = order

        def search(self, vector, **_):  # type: ignore[no-untyped-def]
            hits = []
            for i in self.order:
                fn, _r = functions[i]
                target = IndexedFunction.from_function(REPO, fn, commit="c" * 40, adapter_version="hash64:base")
                hits.append(Match(target, 0.9))
            return hits

    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict, top_k=2, search_depth=30)
    encoder, index = HashEncoder(dim=256), MemoryIndex()
    reviewer = ReviewService(settings, encoder, index, IndexService(settings, encoder, index, progress=False))
    plan = resolve_plan(settings)
    pairs = {}
    for me, order in ((0, [0, 1, 2, 3]), (4, [4, 1, 2, 5])):  # the twin is the 3rd neighbour (rank 2)
        search = _PairSearch(reviewer, plan, View(order), by_key, ReportStats())  # type: ignore[arg-type]
        search.neighbours(functions[me][0], functions[me][1], None, "hash64:base")
        pairs[me] = {(p.first, p.second) for p in search.pairs}
    assert pairs[4] == {(4, 5)}  # the renamed copy is judged and paired at rank 2
    assert pairs[0] == set()  # the getters normalise alike, but 10 tokens are below the minimum
