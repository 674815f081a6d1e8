"""ReviewService on real git repositories with real extraction, a hashing encoder and the memory index.

The hashing encoder's cosine is a bag-of-tokens overlap, so these tests pin thresholds of their
own and check the review's plumbing: what is searched, what is left out, what is reported.
The real model's verdict is checked by ``test_demo_change.py`` style tests below (``slow``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from git import Repo

from core.domain import FindingKind, RepoRef
from core.errors import ConfigError, ReviewError
from core.settings import Settings
from embedding.source import GitSource
from tests.factories import blend_verdict_file, commit, make_repo
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from tests.samples import ORDER_TOTAL, ORDER_TOTAL_NEAR_COPY, SLUGIFY
from workers.services.indexing import IndexService
from workers.services.review import ReviewService

pytestmark = pytest.mark.integration

REPO = RepoRef("acme/shop")

TOTALS, SLUGS = ORDER_TOTAL, SLUGIFY
# order_total, renamed throughout, with one statement more: a near-duplicate.
TOTALS_COPY = ORDER_TOTAL_NEAR_COPY
# Nothing like anything above.
EASTER = textwrap.dedent(
    """\
    def easter_sunday(year):
        a = year % 19
        b, c = divmod(year, 100)
        d, e = divmod(b, 4)
        g = (8 * b + 13) // 25
        h = (19 * a + b - d - g + 15) % 30
        j, k = divmod(c, 4)
        m = (a + 11 * h) // 319
        r = (2 * e + 2 * j - k - h + m + 32) % 7
        n = (h - m + r + 90) // 25
        p = (h - m + r + n + 19) % 32
        return year, n, p
    """
)
BASE_FILES = {
    "shop/billing.py": TOTALS + "\n\n" + SLUGS,
    "shop/util.py": SLUGS.replace("slugify", "make_slug"),
    "README.md": "# shop\n",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    return Settings(data_dir=tmp_path / "data", verdict_path=verdict)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = make_repo(tmp_path, BASE_FILES)
    repo.git.checkout("-q", "-b", "feature")
    return repo


class _Env:
    def __init__(self, settings: Settings, repo: Repo, encoder: Any = None) -> None:
        self.encoder = encoder or HashEncoder(dim=256)
        self.index = MemoryIndex()
        self.indexer = IndexService(settings, self.encoder, self.index, progress=False)
        self.service = ReviewService(settings, self.encoder, self.index, self.indexer)
        self.source = GitSource(Path(repo.working_tree_dir or ""))

    def review(self, base: str = "main", head: str = "HEAD"):
        return self.service.review(self.source, REPO, base, head)


def _pairs(result) -> list[tuple[str, str, str]]:
    return [(f.kind.value, f.function.qualified_name, f.target.qualified_name) for f in result.findings]


def test_a_renamed_copy_is_a_duplicate_and_a_new_function_is_not_flagged(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/invoices.py": TOTALS_COPY + "\n\n" + EASTER}, "add invoices")
    env = _Env(settings, repo)
    result = env.review()
    assert [fn.qualified_name for fn in result.changed] == ["invoice_sum", "easter_sunday"]
    duplicates = result.duplicates
    assert [(f.function.qualified_name, f.target.path, f.target.qualified_name) for f in duplicates] == [
        ("invoice_sum", "shop/billing.py", "order_total")
    ], _pairs(result)
    assert duplicates[0].lexical_score > 0.8
    assert not [f for f in result.findings if f.function.qualified_name == "easter_sunday"], _pairs(result)
    assert result.stats.functions_changed == 2 and result.stats.searches == 2
    assert result.stats.index is not None and result.stats.index["commit"] == env.source.resolve("main")
    assert result.verdicts["hash256:base"].source == "default"


def test_an_ignore_marker_above_the_new_function_silences_it(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/invoices.py": "# doppel: ignore (kept apart on purpose)\n" + TOTALS_COPY}, "add invoices")
    result = _Env(settings, repo).review()
    assert result.changed == [] and result.findings == []


def test_existing_code_with_an_ignore_marker_is_never_offered_as_a_match(settings: Settings, repo: Repo) -> None:
    marked = TOTALS.replace("    subtotal = 0\n", "    subtotal = 0  # doppel: ignore\n")
    repo.git.checkout("-q", "main")
    commit(repo, {"shop/billing.py": marked + "\n\n" + SLUGS}, "mark order_total")
    repo.git.checkout("-q", "feature")
    repo.git.rebase("-q", "main")
    commit(repo, {"shop/invoices.py": TOTALS_COPY}, "add invoices")
    result = _Env(settings, repo).review()
    assert [fn.qualified_name for fn in result.changed] == ["invoice_sum"]
    assert not [f for f in result.findings if f.target.qualified_name == "order_total"], _pairs(result)


def test_editing_a_function_does_not_match_its_own_previous_version(settings: Settings, repo: Repo) -> None:
    edited = TOTALS.replace("    tax = subtotal * tax_rate\n", "    tax = subtotal * tax_rate\n    tax = max(tax, 0)\n")
    commit(repo, {"shop/billing.py": edited + "\n\n" + SLUGS}, "clamp tax")
    result = _Env(settings, repo).review()
    assert [fn.qualified_name for fn in result.changed] == ["order_total"]
    assert all(f.target.qualified_name != "order_total" for f in result.findings), _pairs(result)


def test_a_renamed_file_does_not_match_its_old_path(settings: Settings, repo: Repo) -> None:
    edited = TOTALS.replace("discount=0", "discount=1")
    commit(repo, {"shop/orders.py": edited + "\n\n" + SLUGS}, "rename", delete=["shop/billing.py"])
    result = _Env(settings, repo).review()
    assert "order_total" in [fn.qualified_name for fn in result.changed]
    assert all(
        not (f.function.qualified_name == "order_total" and f.target.qualified_name == "order_total")
        for f in result.findings
    ), _pairs(result)


def test_moving_a_function_to_another_file_is_not_duplication(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/billing.py": SLUGS, "shop/totals.py": TOTALS}, "move order_total")
    result = _Env(settings, repo).review()
    assert "order_total" in [fn.qualified_name for fn in result.changed]
    assert not [f for f in result.findings if f.target.qualified_name == "order_total"], _pairs(result)


def test_a_copy_of_code_in_a_deleted_file_is_not_flagged(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/invoices.py": TOTALS_COPY}, "replace billing", delete=["shop/billing.py"])
    result = _Env(settings, repo).review()
    assert not [f for f in result.findings if f.target.path == "shop/billing.py"], _pairs(result)


def test_an_exact_copy_is_a_duplicate_even_with_strict_thresholds(repo: Repo, tmp_path: Path) -> None:
    strict = Settings(data_dir=tmp_path / "d", duplicate_threshold=1.0, related_threshold=0.99)
    commit(repo, {"shop/copy.py": "# a comment\n" + SLUGS.replace("    words = []", "    words  =  []")}, "copy")
    result = _Env(strict, repo).review()
    found = [(f.kind, f.target.path, f.extra.get("identical")) for f in result.findings]
    assert (FindingKind.DUPLICATE, "shop/billing.py", True) in found


def test_two_copies_added_together_are_an_intra_change_finding(settings: Settings, repo: Repo) -> None:
    second = EASTER.replace("easter_sunday", "paschal_date").replace("year", "yr")
    commit(repo, {"shop/dates.py": EASTER, "shop/more_dates.py": second}, "two calendars")
    result = _Env(settings, repo).review()
    intra = result.intra_pr
    assert [(f.function.path, f.target.path, f.target.qualified_name) for f in intra] == [
        ("shop/more_dates.py", "shop/dates.py", "easter_sunday")
    ]
    assert intra[0].lexical_score == pytest.approx(1.0)
    assert intra[0].target.commit == result.head


def test_a_change_without_code_reviews_nothing_and_indexes_nothing(settings: Settings, repo: Repo) -> None:
    commit(repo, {"README.md": "# shop\n\nNow with docs.\n"}, "docs")
    env = _Env(settings, repo)
    result = env.review()
    assert result.changed == [] and result.findings == []
    assert env.index.calls == []
    assert result.to_dict()["counts"] == {"duplicate": 0, "related": 0, "intra_pr": 0}


class _CalibratedEncoder(HashEncoder):
    """A hashing encoder with a python adapter whose doppel.json carries a verdict (or, from before
    the verdict model, calibrated thresholds of the linear blend)."""

    def __init__(self, *args: Any, metadata: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metadata = metadata

    def adapter_metadata(self, name: str | None) -> dict[str, Any]:
        return self._metadata if name == "python" else {}


def test_legacy_thresholds_come_from_the_adapter_when_calibrated(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/invoices.py": TOTALS_COPY}, "add invoices")
    metadata = {"thresholds": {"duplicate": 0.99, "related": 0.98}}
    encoder = _CalibratedEncoder(dim=256, adapters={"python": "v1"}, metadata=metadata)
    result = _Env(settings, repo, encoder).review()
    verdict = result.verdicts["hash256:python@v1"]
    assert (verdict.duplicate, verdict.related, verdict.source, verdict.link) == (
        0.99,
        0.98,
        "adapter:python",
        "linear",
    )
    assert result.findings == []  # nothing reaches 0.98 but an identical copy


def test_the_review_uses_the_verdict_stored_with_the_adapter(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/invoices.py": TOTALS_COPY}, "add invoices")
    # A verdict that only looks at the names: the renamed copy (invoice_sum ~ order_total) scores 0.
    by_name = {"link": "linear", "weights": {"name": 1.0}, "bias": 0.0, "duplicate": 0.9, "related": 0.5}
    encoder = _CalibratedEncoder(dim=256, adapters={"python": "v1"}, metadata={"verdict": by_name})
    result = _Env(settings, repo, encoder).review()
    assert result.verdicts["hash256:python@v1"].weights == {"name": 1.0}
    assert not result.duplicates, _pairs(result)
    base = _Env(settings, repo).review()  # the same change judged with the default verdict
    assert base.duplicates, _pairs(base)


def test_similar_by_name_position_and_text(settings: Settings, repo: Repo) -> None:
    env = _Env(settings, repo)
    by_name = env.service.similar(env.source, REPO, function="slugify")
    assert by_name[0].target.qualified_name == "make_slug"
    assert all(not (m.target.path == "shop/billing.py" and m.target.qualified_name == "slugify") for m in by_name)
    by_path = env.service.similar(env.source, REPO, function="shop/util.py:make_slug", limit=1)
    assert [(m.target.path, m.target.qualified_name) for m in by_path] == [("shop/billing.py", "slugify")]
    at_line = env.service.similar(env.source, REPO, at=("shop/billing.py", 5))
    assert at_line[0].target.qualified_name in ("slugify", "make_slug")
    assert at_line[0].target.qualified_name != "order_total"
    by_text = env.service.similar(env.source, REPO, query="order total tax discount subtotal items", limit=2)
    assert by_text[0].target.qualified_name == "order_total"
    assert len(by_text) == 2


def test_similar_reports_unknown_ambiguous_and_bad_arguments(settings: Settings, repo: Repo) -> None:
    commit(repo, {"shop/other.py": SLUGS}, "second slugify")
    env = _Env(settings, repo)
    with pytest.raises(ReviewError, match="ambiguous"):
        env.service.similar(env.source, REPO, function="slugify")
    with pytest.raises(ReviewError, match="no function named"):
        env.service.similar(env.source, REPO, function="nope")
    with pytest.raises(ReviewError, match="no function contains line"):
        env.service.similar(env.source, REPO, at=("shop/billing.py", 500))
    with pytest.raises(ConfigError, match="exactly one"):
        env.service.similar(env.source, REPO, function="slugify", query="x")


# --- the demo change, with the real model ----------------------------------------------------------
_PROJECT = Path(__file__).resolve().parents[2]
_DEMO_SUBSET = ("core", "embedding/languages.py", "embedding/verdict.py", "embedding/lexical.py")


def _load_demo_script() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("apply_demo_change", _PROJECT / "examples" / "apply_demo_change.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_demo_change_flags_the_near_copy_and_not_the_new_function(tmp_path: Path) -> None:
    """``examples/apply_demo_change.py`` on a copy of part of doppel, reviewed with the real encoder
    and the default settings: the near-copy is a duplicate of the method it copies, the new
    function is not reported at all."""
    from embedding.encoder import Encoder
    from embedding.index import open_index

    demo = _load_demo_script()

    files: dict[str, str] = {}
    for entry in _DEMO_SUBSET:
        source_path = _PROJECT / entry
        paths = sorted(source_path.rglob("*.py")) if source_path.is_dir() else [source_path]
        for path in paths:
            files[str(path.relative_to(_PROJECT))] = path.read_text(encoding="utf-8")
    repo = make_repo(tmp_path, files, name="doppel-copy")
    root = Path(repo.working_tree_dir or "")
    base = repo.head.commit.hexsha
    demo.apply(root)
    commit(repo, message="demo change")

    settings = Settings(data_dir=tmp_path / "data")
    encoder = Encoder("default", max_length=settings.max_length, device="cpu")
    with open_index(settings) as index:
        indexer = IndexService(settings, encoder, index, progress=False)
        service = ReviewService(settings, encoder, index, indexer)
        with GitSource(root) as source:
            result = service.review(source, REPO, base, "HEAD")
    scores = [(f.kind.value, f.function.qualified_name, f.target.qualified_name, round(f.embedding_score, 3),
               round(f.lexical_score, 3), round(f.score, 3)) for f in result.findings]  # fmt: skip
    assert sorted(fn.qualified_name for fn in result.changed) == sorted([demo.COPY_NAME, demo.NEW_NAME])
    copy_findings = [f for f in result.findings if f.function.qualified_name == demo.COPY_NAME]
    assert copy_findings and copy_findings[0].kind is FindingKind.DUPLICATE, scores
    assert (copy_findings[0].target.path, copy_findings[0].target.qualified_name) == demo.COPIED, scores
    assert copy_findings[0].function.path == demo.DEMO_PATH
    assert not [f for f in result.findings if f.function.qualified_name == demo.NEW_NAME], scores


# --- only the duplication a change introduces (issue 9) ------------------------------------------
SEND = textwrap.dedent(
    """\
    def send_request(client, request, timeout):
        transport = client.transport_for(request.url)
        started = client.clock()
        response = transport.handle(request, timeout=timeout)
        response.elapsed = client.clock() - started
        client.log_response(request, response)
        return response
    """
)
ASYNC_SEND = SEND.replace("def send_request", "def send_request_async")


def test_an_edit_inside_a_function_that_already_had_a_twin_in_the_base_gives_no_finding(tmp_path: Path) -> None:
    """httpx's Client._send_single_request had an async twin before the change: a two-line edit
    inside it must not be blamed for that duplication (nor fail --fail-on-duplicates)."""
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict)
    repo = make_repo(tmp_path, {"http/sync.py": SEND, "http/aio.py": ASYNC_SEND})
    repo.git.checkout("-q", "-b", "feature")
    edited = SEND.replace("    return response\n", "    client.metrics.observe(response)\n    return response\n")
    commit(repo, {"http/sync.py": edited}, "observe responses")
    result = _Env(settings, repo).review()
    assert [fn.qualified_name for fn in result.changed] == ["send_request"]
    assert result.duplicates == [], _pairs(result)
    assert [(f.function.qualified_name, f.target.qualified_name) for f in result.pre_existing] == [
        ("send_request", "send_request_async")
    ]
    assert result.to_dict()["pre_existing"][0]["target"]["qualified_name"] == "send_request_async"


def test_a_new_copy_of_a_function_that_has_a_twin_is_still_introduced(tmp_path: Path) -> None:
    """The previous-version rule only excuses the function's own earlier copy-ness: a new file
    that copies send_request is reported even though send_request_async exists too."""
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict)
    repo = make_repo(tmp_path, {"http/sync.py": SEND, "http/aio.py": ASYNC_SEND})
    repo.git.checkout("-q", "-b", "feature")
    commit(repo, {"http/third.py": SEND.replace("def send_request", "def send_again")}, "a third copy")
    result = _Env(settings, repo).review()
    assert {f.target.qualified_name for f in result.duplicates} >= {"send_request"}, _pairs(result)
    assert result.pre_existing == []


OUTER_WITH_CALLBACK = textwrap.dedent(
    """\
    function parseHeaders(raw) {
      const parsed = {};
      raw.split('\\n').forEach(function parser(line) {
        const i = line.indexOf(':');
        const key = line.substring(0, i).trim().toLowerCase();
        const val = line.substring(i + 1).trim();
        if (!key || parsed[key]) {
          return;
        }
        parsed[key] = val;
      });
      return parsed;
    }
    """
)


def test_a_nested_copy_gives_one_finding_not_two(tmp_path: Path) -> None:
    """axios' parseHeaders copied and renamed gave two findings, one on the inner callback."""
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict)
    repo = make_repo(tmp_path, {"lib/headers.js": OUTER_WITH_CALLBACK})
    repo.git.checkout("-q", "-b", "feature")
    copy = OUTER_WITH_CALLBACK.replace("parseHeaders", "readHeaders").replace("parsed", "out")
    commit(repo, {"lib/other.js": copy}, "copy")
    result = _Env(settings, repo).review()
    assert {fn.qualified_name for fn in result.changed} >= {"readHeaders"}
    duplicates = result.duplicates
    assert [(f.function.qualified_name, f.target.qualified_name) for f in duplicates] == [
        ("readHeaders", "parseHeaders")
    ], _pairs(result)
    assert duplicates[0].extra.get("folded"), duplicates[0].extra


def test_a_short_inner_callback_is_never_reported_alone(tmp_path: Path) -> None:
    verdict = blend_verdict_file(tmp_path, duplicate=0.7, related=0.55, lexical_weight=0.5)
    settings = Settings(data_dir=tmp_path / "data", verdict_path=verdict, min_nested_function_lines=20)
    callback = textwrap.dedent(
        """\
        function renderRows(table, rows, options) {
          const header = table.createHeader(options.columns);
          header.style = options.headerStyle || 'bold';
          rows.forEach(function step(x) {
            total += x.price;
            count += 1;
          });
          table.footer = options.footer ? options.footer(rows.length) : null;
          return table.render({ width: options.width, border: options.border });
        }
        """
    )
    repo = make_repo(
        tmp_path,
        {
            "lib/a.js": "function sumAll(xs) {\n  let total = 0;\n  xs.forEach(function step(x) {\n    total += x.price;\n    count += 1;\n  });\n  return total;\n}\n"
        },
    )
    repo.git.checkout("-q", "-b", "feature")
    commit(repo, {"lib/b.js": callback}, "a different outer with the same short callback")
    result = _Env(settings, repo).review()
    assert not [f for f in result.findings if f.function.qualified_name.endswith("step")], _pairs(result)
