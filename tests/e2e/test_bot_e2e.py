"""The GitHub bot end to end: signed webhooks in, reviews and answers out, through the real queue,
a real worker with the production runtime, real git, MiniLM and Qdrant Edge (see ``conftest``).

Module-scoped fixtures build on each other: ``installed`` indexes both repositories through an
installation event; ``first_review`` opens a pull request that copies a function and waits for
its review. Each test states what it checks on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from github_adapter.render import SIMILAR_MARKER, find_fingerprints, is_summary, summary_head
from tests.e2e import sources as src
from tests.e2e.harness import (
    BOT,
    USER,
    World,
    installation_payload,
    issue_comment_payload,
    pull_payload,
    review_comment_payload,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHOP, GEO = "acme/shop", "globex/geo"
SHOP_INSTALLATION, GEO_INSTALLATION = 1, 2


@dataclass
class Pull:
    slug: str
    installation: int
    number: int
    base: str
    head: str


def _bot_roots(world: World, pull: Pull) -> list[dict[str, Any]]:
    return [
        c
        for c in world.state.comments_on(pull.slug, pull.number)
        if c["login"] == BOT and c["in_reply_to"] is None and find_fingerprints(c["body"])
    ]


def _summaries(world: World, pull: Pull) -> list[dict[str, Any]]:
    return [
        c for c in world.state.issue_comments_on(pull.slug, pull.number) if c["login"] == BOT and is_summary(c["body"])
    ]


def _open_pull(world: World, slug: str, number: int, files: dict[str, str]) -> Pull:
    remote = world.remotes[slug]
    remote.open_branch(number)
    base = remote.main
    head = remote.push_pull(number, files, f"pull request {number}")
    world.state.add_pull(slug, number, head_sha=head, base_sha=base, files=remote.pull_files(base, head), author=USER)
    return Pull(slug, world.installations[slug], number, base, head)


def _review(world: World, pull: Pull, action: str) -> str:
    (task,) = world.hooks.deliver(
        "pull_request", pull_payload(action, pull.installation, pull.slug, pull.number, pull.head, pull.base)
    )
    outcome: str = world.result(task)
    return outcome


@pytest.fixture(scope="module")
def installed(world: World) -> dict[str, dict[str, Any]]:
    """Both repositories pushed to their remotes and installed: the index stats of each."""
    for slug, installation, files in (
        (SHOP, SHOP_INSTALLATION, src.SHOP_FILES),
        (GEO, GEO_INSTALLATION, src.GEO_FILES),
    ):
        world.add_repository(slug, installation, files)
    stats = {}
    for slug in (SHOP, GEO):
        (task,) = world.hooks.deliver("installation", installation_payload(world.installations[slug], [slug]))
        stats[slug] = world.result(task, timeout=180)
    return stats


@pytest.fixture(scope="module")
def first_review(world: World, installed: dict[str, Any]) -> tuple[Pull, str]:
    """A pull request that adds a near-copy of ``apply_discount`` and an unrelated function."""
    pull = _open_pull(world, SHOP, 1, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    return pull, _review(world, pull, "opened")


def test_installation_indexes_each_repository_at_its_default_branch(
    world: World, installed: dict[str, dict[str, Any]]
) -> None:
    for slug, stats in installed.items():
        assert stats["commit"] == world.remotes[slug].main
        assert stats["mode"] == "full" and stats["functions"] > 0
    assert installed[SHOP]["functions"] > installed[GEO]["functions"]
    # App mode: each installation got its own token from the fake GitHub.
    assert {t["installation_id"] for t in world.state.installation_tokens} >= {SHOP_INSTALLATION, GEO_INSTALLATION}


def test_a_near_copy_gets_one_inline_comment_on_its_signature_and_one_summary(
    world: World, first_review: tuple[Pull, str]
) -> None:
    pull, outcome = first_review
    assert outcome == "posted"
    (review,) = world.state.reviews_on(pull.slug, pull.number)
    assert review["commit_id"] == pull.head and review["login"] == BOT
    (comment,) = _bot_roots(world, pull)
    assert (comment["path"], comment["line"]) == (src.NEAR_COPY_PATH, src.NEAR_COPY_SIGNATURE_LINE)
    assert "apply_discount" in comment["body"] and "shop/pricing.py" in comment["body"]
    (summary,) = _summaries(world, pull)
    assert summary_head(summary["body"]) == pull.head


def test_a_push_edits_the_summary_and_repeats_no_comment(world: World, first_review: tuple[Pull, str]) -> None:
    pull, _ = first_review
    remote = world.remotes[SHOP]
    head = remote.push_pull(pull.number, src.UNRELATED_EDIT, "unrelated change")
    world.state.push(SHOP, pull.number, head, files=remote.pull_files(pull.base, head))
    (summary_before,) = _summaries(world, pull)
    pushed = Pull(pull.slug, pull.installation, pull.number, pull.base, head)

    assert _review(world, pushed, "synchronize") == "posted"

    assert len(world.state.reviews_on(SHOP, pull.number)) == 1  # nothing new to comment on
    (comment,) = _bot_roots(world, pushed)
    assert comment["path"] == src.NEAR_COPY_PATH
    (summary,) = _summaries(world, pushed)
    assert summary["id"] == summary_before["id"] and summary_head(summary["body"]) == head
    edits = [e for e in world.github.exchanges if e.method == "PATCH" and e.path.endswith(f"/comments/{summary['id']}")]
    assert edits and all(e.status == 200 for e in edits)


def test_similar_on_the_conversation_reacts_and_answers_with_a_table(
    world: World, first_review: tuple[Pull, str]
) -> None:
    pull, _ = first_review
    command = world.state.add_issue_comment(SHOP, pull.number, USER, "/similar shop/pricing.py:apply_discount")
    (task,) = world.hooks.deliver("issue_comment", issue_comment_payload(pull.installation, SHOP, pull.number, command))
    assert world.result(task) == "function"

    reactions = [r for r in world.state.reactions if r["comment_id"] == command["id"]]
    assert [(r["login"], r["content"]) for r in reactions] == [(BOT, "eyes")]
    (answer,) = [c for c in world.state.issue_comments_on(SHOP, pull.number) if SIMILAR_MARKER in c["body"]]
    assert answer["login"] == BOT
    assert "| # | Function | Where | Cosine | Adapter |" in answer["body"]
    rows = [line for line in answer["body"].splitlines() if line.startswith("| ") and "/blob/" in line]
    assert rows and not any("`apply_discount`" in row for row in rows)  # never its own match


def test_similar_on_a_diff_line_is_answered_in_its_thread(world: World, first_review: tuple[Pull, str]) -> None:
    pull, _ = first_review
    current = world.state.repos[SHOP].pulls[pull.number].head_sha
    command = world.state.add_review_comment(
        SHOP, pull.number, login=USER, body="/similar", path=src.NEAR_COPY_PATH,
        line=src.NEAR_COPY_SIGNATURE_LINE + 2, commit_id=current, in_reply_to=None, review_id=None,
    )  # fmt: skip
    (task,) = world.hooks.deliver(
        "pull_request_review_comment", review_comment_payload(pull.installation, SHOP, pull.number, command)
    )
    assert world.result(task) == "at"

    assert [(r["login"], r["content"]) for r in world.state.reactions if r["comment_id"] == command["id"]] == [
        (BOT, "eyes")
    ]
    (reply,) = [c for c in world.state.comments_on(SHOP, pull.number) if c["in_reply_to"] == command["id"]]
    assert reply["login"] == BOT and SIMILAR_MARKER in reply["body"]
    best = next(line for line in reply["body"].splitlines() if line.startswith("| 1 |"))
    assert "apply_discount" in best  # the function under the comment resembles the original most


def test_an_installation_never_sees_another_installations_code(world: World, installed: dict[str, Any]) -> None:
    pull = _open_pull(world, GEO, 1, src.GEO_PULL_FILES)
    command = world.state.add_issue_comment(GEO, pull.number, USER, f'/similar "{src.SHOP_QUERY}"')
    (task,) = world.hooks.deliver("issue_comment", issue_comment_payload(pull.installation, GEO, pull.number, command))
    assert world.result(task) == "query"

    (answer,) = [c for c in world.state.issue_comments_on(GEO, pull.number) if SIMILAR_MARKER in c["body"]]
    rows = [line for line in answer["body"].splitlines() if line.startswith("| ") and "geo/" in line]
    assert rows, answer["body"]
    for shop_path in src.SHOP_FILES:
        assert shop_path not in answer["body"]
    assert "apply_discount" not in answer["body"]


def test_a_review_whose_worker_is_killed_is_redelivered_and_posted_once(
    world: World, installed: dict[str, Any]
) -> None:
    pull = _open_pull(world, SHOP, 2, {src.SECOND_COPY_PATH: src.SECOND_COPY})
    # Publishing starts by listing the PR's files: hold that answer, so that the worker is
    # certainly in the middle of the review (computed, not yet posted) when it dies.
    held = world.github.hold("GET", rf"/repos/{SHOP}/pulls/{pull.number}/files")
    (task,) = world.hooks.deliver(
        "pull_request", pull_payload("opened", pull.installation, SHOP, pull.number, pull.head, pull.base)
    )
    assert held.reached.wait(180), "the worker never reached publishing:\n" + world.workers.log_tail()
    world.workers.kill()
    held.release.set()
    world.workers.start()

    assert world.result(task, timeout=180) == "posted"
    (review,) = world.state.reviews_on(SHOP, pull.number)
    assert review["commit_id"] == pull.head
    (comment,) = _bot_roots(world, pull)
    assert (comment["path"], comment["line"]) == (src.SECOND_COPY_PATH, src.SECOND_COPY_SIGNATURE_LINE)
    assert len(_summaries(world, pull)) == 1
    listings = [e for e in world.github.exchanges if e.path.endswith(f"/pulls/{pull.number}/files")]
    assert len(listings) >= 2  # the killed worker's request, and the redelivered task's
