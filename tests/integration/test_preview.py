"""``doppel review --format markdown`` shows what publishing posts: the same plan, the same text.

The preview (``github_adapter.publish.preview``) and a real first publication through the fake
GitHub are run on one result; the review body, every inline comment (path, line, body) and the
summary must be identical. The git side is checked too: ``GitSource.file_patches`` gives the
hunks GitHub's ``patch`` field holds, so comments land on the lines GitHub would accept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedding.source import GitSource, split_patches
from github_adapter.anchors import FilePatch, patches_by_path
from github_adapter.client import GitHubClient
from github_adapter.publish import PublishService, plan_publication, preview
from github_adapter.render import Links
from tests.factories import commit, make_repo
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from tests.fakes.github import scenario as sc

pytestmark = pytest.mark.integration

WEB = "https://github.example.test"
BOT = "doppel[bot]"
TOKEN = "ghs_test_installation_token"


@pytest.fixture
def fake() -> Iterator[FakeGitHubServer]:
    state = FakeGitHub(web_url=WEB)
    sc.arrange(state, bot_token=TOKEN, bot_login=BOT)
    with FakeGitHubServer(state) as server:
        yield server


def _publish(fake: FakeGitHubServer, max_comments: int) -> None:
    client = GitHubClient.connect(
        TOKEN, api_url=fake.api_url, web_url=WEB, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )
    PublishService(client, bot_login=BOT, max_comments=max_comments).publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())


def _patches() -> dict[str, FilePatch]:
    return patches_by_path((f.path, f.patch) for f in sc.FILES)


@pytest.mark.parametrize("max_comments", [10, 2])
def test_preview_is_exactly_what_the_first_publication_posts(fake: FakeGitHubServer, max_comments: int) -> None:
    _publish(fake, max_comments)
    links = Links(web_url=WEB, slug=sc.SLUG, base_sha=sc.BASE, head_sha=sc.HEAD)
    shown = preview(sc.result(sc.ALL_FINDINGS), _patches(), links, max_comments=max_comments)

    state = fake.state
    (review,) = state.reviews_on(sc.SLUG, sc.NUMBER)
    posted = sorted((c["path"], c["line"], c["body"]) for c in state.comments_on(sc.SLUG, sc.NUMBER))
    (summary,) = state.issue_comments_on(sc.SLUG, sc.NUMBER)
    assert shown.review_body == review["body"]
    assert sorted((c.path, c.line, c.body) for c in shown.comments) == posted
    assert len(posted) == min(max_comments, len(sc.INLINE_FINDINGS))
    assert shown.summary == summary["body"]


def test_preview_of_a_change_with_no_findings_posts_nothing() -> None:
    links = Links(web_url=WEB, slug=sc.SLUG, base_sha=sc.BASE, head_sha=sc.HEAD)
    shown = preview(sc.result([]), _patches(), links)
    assert (shown.review_body, shown.comments, shown.summary) == (None, [], None)


def test_the_plan_leaves_findings_already_commented_out_of_new_comments() -> None:
    plan = plan_publication(sc.result(sc.ALL_FINDINGS), _patches(), commented={sc.DUP_TOTAL.fingerprint})
    assert plan.kept == [sc.DUP_TOTAL.fingerprint]
    assert sc.DUP_TOTAL not in [p.finding for p in plan.placements]
    assert [f.fingerprint for f in plan.view.unplaced] == [sc.DUP_BIG.fingerprint]


def test_file_patches_hold_the_hunks_github_sends_from_the_merge_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a.py": "def f(x):\n    return x\n", "gone.py": "def g():\n    pass\n"})
    base = repo.head.commit.hexsha
    repo.git.checkout("-q", "-b", "feature")
    files = {"a.py": "def f(x):\n    y = x + 1\n    return y\n", "new.py": "def h():\n    return 1\n"}
    head = commit(repo, files, "c", delete=["gone.py"])
    repo.git.checkout("-q", "main")
    commit(repo, {"later.py": "def later():\n    pass\n"}, "base moved on")  # not part of the change

    source = GitSource(Path(repo.working_tree_dir or ""))
    patches = source.file_patches("main", head)
    assert set(patches) == {"a.py", "new.py"}  # the deleted file has no right side; later.py is not in it
    assert patches["new.py"] == "@@ -0,0 +1,2 @@\n+def h():\n+    return 1"
    assert FilePatch.parse("a.py", patches["a.py"]).added == frozenset({2, 3})
    assert source.added_lines(base, head) == {"a.py": {2, 3}, "new.py": {1, 2}}


def test_split_patches_ignores_binary_files_and_keeps_paths_with_spaces() -> None:
    diff = (
        b"diff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n"
        b"diff --git a/my file.py b/my file.py\nindex 1..2 100644\n--- a/my file.py\n+++ b/my file.py\t\n"
        b"@@ -1 +1,2 @@\n x = 1\n+y = 2\n"
    )
    assert split_patches(diff) == {"my file.py": "@@ -1 +1,2 @@\n x = 1\n+y = 2"}
