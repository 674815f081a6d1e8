"""Publishing against the fake GitHub: one review, sticky summary, no repeats, minimize, 422 fallback.

Every request the publisher sends, and every answer the fake gives, is checked against GitHub's
OpenAPI description when ``@octokit/openapi`` is installed under ``tests/.npm``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from github_adapter.client import GitHubClient
from github_adapter.publish import PublishService
from github_adapter.render import find_fingerprints, is_summary, summary_head
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from tests.fakes.github import scenario as sc
from tests.fakes.github.openapi import load_checker
from workers.services.repo_config import RepoConfig

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
        checker = load_checker()
        if checker is not None:
            problems = [p for e in server.exchanges for p in checker.check(e)]
            assert not problems, "requests or answers GitHub does not document:\n" + "\n".join(problems)


@pytest.fixture
def publisher(fake: FakeGitHubServer) -> PublishService:
    client = GitHubClient.connect(
        TOKEN, api_url=fake.api_url, web_url=WEB, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )
    return PublishService(client, bot_login=BOT)


def writes(server: FakeGitHubServer, since: int = 0) -> list[tuple[str, str, int]]:
    return [(e.method, e.path, e.status) for e in server.exchanges[since:] if e.method != "GET"]


def bot_roots(state: FakeGitHub) -> dict[str, dict]:
    return {
        fp: c
        for c in state.comments_on(sc.SLUG, sc.NUMBER)
        if c["login"] == BOT and c["in_reply_to"] is None
        for fp in find_fingerprints(c["body"])
    }


def summaries(state: FakeGitHub) -> list[dict]:
    return [c for c in state.issue_comments_on(sc.SLUG, sc.NUMBER) if is_summary(c["body"])]


def test_first_run_posts_one_review_with_inline_comments_and_one_summary(
    fake: FakeGitHubServer, publisher: PublishService
) -> None:
    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())

    state = fake.state
    (review,) = state.reviews_on(sc.SLUG, sc.NUMBER)
    assert review["commit_id"] == sc.HEAD and review["state"] == "COMMENTED" and review["login"] == BOT
    roots = bot_roots(state)
    assert set(roots) == {f.fingerprint for f in sc.INLINE_FINDINGS}
    for f in sc.INLINE_FINDINGS:
        comment = roots[f.fingerprint]
        assert (comment["path"], comment["line"]) == sc.EXPECTED_LINES[f.function.qualified_name]
        assert comment["review_id"] == review["id"] and comment["commit_id"] == sc.HEAD
        assert f"/blob/{sc.BASE}/{f.target.path}#L10-L24" in comment["body"]
    (summary,) = summaries(state)
    assert summary["login"] == BOT and summary_head(summary["body"]) == sc.HEAD
    body = summary["body"]
    assert "could not be placed" in body and "crunch_numbers" in body  # app/big.py has no patch
    assert "sum_values" in body and "Related code" in body
    assert "within this pull request" in body and f"/blob/{sc.HEAD}/app/report.py#L1-L5" in body
    assert writes(fake) == [
        ("POST", f"/repos/{sc.SLUG}/pulls/{sc.NUMBER}/reviews", 200),
        ("POST", f"/repos/{sc.SLUG}/issues/{sc.NUMBER}/comments", 201),
    ]
    assert sorted(outcome.posted) == sorted(f.fingerprint for f in sc.INLINE_FINDINGS)
    assert outcome.unplaced == [sc.DUP_BIG.fingerprint] and outcome.summary_action == "created"


def test_second_run_same_head_writes_nothing(fake: FakeGitHubServer, publisher: PublishService) -> None:
    publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    mark = len(fake.exchanges)
    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    assert writes(fake, mark) == []
    assert outcome.posted == [] and sorted(outcome.kept) == sorted(f.fingerprint for f in sc.INLINE_FINDINGS)
    assert outcome.summary_action == "unchanged"
    assert publisher.has_review(sc.SLUG, sc.NUMBER, sc.HEAD)


def test_repush_with_same_findings_edits_summary_in_place_and_posts_no_review(
    fake: FakeGitHubServer, publisher: PublishService
) -> None:
    publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    (first,) = summaries(fake.state)
    new_head = "2" * 40
    fake.state.push(sc.SLUG, sc.NUMBER, new_head)  # a rebase: same changes, new commit
    mark = len(fake.exchanges)

    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS, head=new_head), sc.pull_ref(new_head))

    assert writes(fake, mark) == [("PATCH", f"/repos/{sc.SLUG}/issues/comments/{first['id']}", 200)]
    assert len(fake.state.reviews_on(sc.SLUG, sc.NUMBER)) == 1
    assert len(bot_roots(fake.state)) == len(sc.INLINE_FINDINGS)
    (summary,) = summaries(fake.state)
    assert summary["id"] == first["id"] and summary_head(summary["body"]) == new_head
    assert outcome.summary_action == "edited" and not publisher.has_review(sc.SLUG, sc.NUMBER, sc.HEAD)


def test_gone_finding_is_minimized_and_answered_thread_is_kept(
    fake: FakeGitHubServer, publisher: PublishService
) -> None:
    publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    roots = bot_roots(fake.state)
    answered = roots[sc.DUP_APPLY.fingerprint]
    fake.state.reply(sc.SLUG, sc.NUMBER, answered["id"], "alice", "Intended: the rounding differs.")
    new_head = "3" * 40
    fake.state.push(sc.SLUG, sc.NUMBER, new_head)
    remaining = [f for f in sc.ALL_FINDINGS if f not in (sc.DUP_TOTAL, sc.DUP_APPLY, sc.RELATED_TOTAL)]

    outcome = publisher.publish(sc.result(remaining, head=new_head), sc.pull_ref(new_head))

    assert outcome.minimized == [sc.DUP_TOTAL.fingerprint]
    assert outcome.kept_answered == [sc.DUP_APPLY.fingerprint]
    assert fake.state.minimized == {roots[sc.DUP_TOTAL.fingerprint]["node_id"]: "OUTDATED"}
    assert answered["id"] in fake.state.review_comments  # nothing is ever deleted
    assert not [e for e in fake.exchanges if e.method == "DELETE"]
    (summary,) = summaries(fake.state)
    assert "2 earlier findings no longer apply" in summary["body"]

    # A further run does not minimize again: the summary remembers what was resolved.
    mark = len(fake.exchanges)
    again = publisher.publish(sc.result(remaining, head=new_head), sc.pull_ref(new_head))
    assert again.minimized == [] and writes(fake, mark) == []


def test_refused_batch_falls_back_to_single_comments_and_summary(
    fake: FakeGitHubServer, publisher: PublishService
) -> None:
    pull = fake.state.repos[sc.SLUG].pulls[sc.NUMBER]
    pull.reject_lines = {sc.EXPECTED_LINES["format_invoice"]}  # GitHub will not resolve this line

    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())

    assert outcome.fallback and outcome.review_id is None
    assert fake.state.reviews_on(sc.SLUG, sc.NUMBER) == []
    assert set(bot_roots(fake.state)) == {f.fingerprint for f in sc.INLINE_FINDINGS if f is not sc.DUP_FORMAT}
    assert sorted(outcome.unplaced) == sorted([sc.DUP_BIG.fingerprint, sc.DUP_FORMAT.fingerprint])
    statuses = [s for m, p, s in writes(fake) if p.endswith("/reviews") or p.endswith("/comments")]
    assert statuses[0] == 422 and sorted(statuses[1:5]) == [201, 201, 201, 422]
    (summary,) = summaries(fake.state)
    placed_section = summary["body"].split("could not be placed", 1)[1]
    assert "join_lines" in placed_section and "crunch_numbers" in placed_section


def test_head_moved_posts_nothing(fake: FakeGitHubServer, publisher: PublishService) -> None:
    fake.state.push(sc.SLUG, sc.NUMBER, "4" * 40)
    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    assert outcome.status == "stale" and writes(fake) == []


def test_closed_pull_request_posts_nothing(fake: FakeGitHubServer, publisher: PublishService) -> None:
    fake.state.repos[sc.SLUG].pulls[sc.NUMBER].state = "closed"
    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    assert outcome.status == "closed" and writes(fake) == []


def test_inline_comments_are_capped_and_rest_go_to_summary(fake: FakeGitHubServer, publisher: PublishService) -> None:
    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=RepoConfig(max_comments=2))
    roots = bot_roots(fake.state)
    # The best-scoring duplicates get the two comments.
    assert set(roots) == {sc.DUP_TOTAL.fingerprint, sc.DUP_FORMAT.fingerprint}
    assert sorted(outcome.overflow) == sorted([sc.DUP_SUMMARIZE.fingerprint, sc.DUP_APPLY.fingerprint])
    (summary,) = summaries(fake.state)
    assert "over the inline comment limit" in summary["body"] and "lib/money.py" in summary["body"]


def test_ignored_paths_and_empty_results_stay_quiet(fake: FakeGitHubServer, publisher: PublishService) -> None:
    config = RepoConfig(ignore=("app/**",))
    outcome = publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=config)
    assert writes(fake) == [] and outcome.summary_action is None


def test_other_authors_markers_are_not_the_bots_state(fake: FakeGitHubServer, publisher: PublishService) -> None:
    # Someone quotes the summary marker in their own comment: the bot must not adopt or edit it.
    fake.state.add_issue_comment(sc.SLUG, sc.NUMBER, "alice", "<!-- doppel:summary -->\nmine")
    publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    bodies = {c["login"]: c["body"] for c in fake.state.issue_comments_on(sc.SLUG, sc.NUMBER)}
    assert bodies["alice"].endswith("mine") and summary_head(bodies[BOT]) == sc.HEAD
