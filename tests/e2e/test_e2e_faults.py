"""The bot end to end under faults and hostile users (see ``conftest``): GitHub answering 502, 429
and 422, a worker SIGKILLed after it posted but before its task was acknowledged, a stranger's
commands, and an uninstall of one of two repositories whose names collided before.

Payloads carry ``repository.id`` as GitHub sends it, so collections are named by id here. The
module runs on a Redis database of its own (``FAULTS_DB``), so that it can run beside the other
end-to-end modules: workers of two worlds on one database would take each other's tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from core.domain import RepoRef
from github_adapter.render import find_fingerprints, is_summary
from tests.e2e import sources as src
from tests.e2e.conftest import DUPLICATE_THRESHOLD, RELATED_THRESHOLD
from tests.e2e.harness import (
    BOT,
    USER,
    World,
    installation_payload,
    issue_comment_payload,
    open_world,
    pull_payload,
    redis_reachable,
    wait_until,
)
from tests.e2e.worker_app import DIE_AFTER_PUBLISH

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHOP, SHOP_INSTALLATION = "acme/shop", 1
CLASH, CLASH_INSTALLATION = ("acme/x", "acme/x__y"), 3
STRANGER = "mallory"
FAULTS_DB = 11
REDIS_URL = f"redis://127.0.0.1:6379/{FAULTS_DB}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The ``conftest`` world, on this module's own Redis database."""
    problem = redis_reachable(REDIS_URL)
    if problem is not None:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({problem}); start redis-server to run the e2e tests")
    root = tmp_path_factory.mktemp("e2e-faults")
    with open_world(
        root, redis_url=REDIS_URL, duplicate_threshold=DUPLICATE_THRESHOLD, related_threshold=RELATED_THRESHOLD
    ) as running:
        yield running


@dataclass
class Pull:
    number: int
    base: str
    head: str


def _with_ids(world: World, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the numeric ids GitHub puts on every repository it names."""
    for repo in [payload.get("repository"), *payload.get("repositories", [])]:
        if repo:
            repo["id"] = world.state.repos[repo["full_name"]].id
    return payload


def _open_pull(world: World, number: int, files: dict[str, str]) -> Pull:
    remote = world.remotes[SHOP]
    remote.open_branch(number)
    base = remote.main
    head = remote.push_pull(number, files, f"pull request {number}")
    world.state.add_pull(SHOP, number, head_sha=head, base_sha=base, files=remote.pull_files(base, head), author=USER)
    return Pull(number, base, head)


def _review(world: World, pull: Pull, timeout: float = 180) -> str:
    payload = pull_payload("opened", SHOP_INSTALLATION, SHOP, pull.number, pull.head, pull.base)
    (task,) = world.hooks.deliver("pull_request", _with_ids(world, payload))
    outcome: str = world.result(task, timeout=timeout)
    return outcome


def _statuses(world: World, method: str, path: str) -> list[int]:
    return [e.status for e in world.github.exchanges if e.method == method and e.path == path]


def _bot_roots(world: World, number: int) -> list[dict[str, Any]]:
    return [
        c
        for c in world.state.comments_on(SHOP, number)
        if c["login"] == BOT and c["in_reply_to"] is None and find_fingerprints(c["body"])
    ]


def _summaries(world: World, number: int) -> list[dict[str, Any]]:
    return [c for c in world.state.issue_comments_on(SHOP, number) if c["login"] == BOT and is_summary(c["body"])]


@pytest.fixture(scope="module")
def installed(world: World) -> None:
    world.add_repository(SHOP, SHOP_INSTALLATION, src.SHOP_FILES)
    (task,) = world.hooks.deliver("installation", _with_ids(world, installation_payload(SHOP_INSTALLATION, [SHOP])))
    world.result(task, timeout=240)


# --- GitHub's 502, 429 and 422 ---------------------------------------------------------------


def test_a_502_on_posting_the_review_is_retried_and_the_review_lands_once(world: World, installed: None) -> None:
    pull = _open_pull(world, 21, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    reviews = f"/repos/{SHOP}/pulls/{pull.number}/reviews"
    world.github.fail("POST", reviews, 502)

    assert _review(world, pull) == "posted"

    assert _statuses(world, "POST", reviews) == [502, 200]
    (review,) = world.state.reviews_on(SHOP, pull.number)
    assert review["commit_id"] == pull.head and len(_bot_roots(world, pull.number)) == 1
    assert len(_summaries(world, pull.number)) == 1


def test_a_502_after_github_wrote_the_review_posts_no_second_one(world: World, installed: None) -> None:
    pull = _open_pull(world, 22, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    reviews = f"/repos/{SHOP}/pulls/{pull.number}/reviews"
    world.github.fail("POST", reviews, 502, after_write=True)  # the review exists; its answer was lost

    assert _review(world, pull) == "posted"

    assert _statuses(world, "POST", reviews) == [502]  # the retry found it and posted nothing
    assert len(world.state.reviews_on(SHOP, pull.number)) == 1 and len(_bot_roots(world, pull.number)) == 1
    assert len(_summaries(world, pull.number)) == 1


def test_a_429_with_retry_after_is_retried_after_that_long_and_lands_once(world: World, installed: None) -> None:
    pull = _open_pull(world, 23, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    reviews = f"/repos/{SHOP}/pulls/{pull.number}/reviews"
    world.github.fail("POST", reviews, 429, headers={"Retry-After": "1"})

    assert _review(world, pull) == "posted"

    assert _statuses(world, "POST", reviews) == [429, 200]
    assert len(world.state.reviews_on(SHOP, pull.number)) == 1
    retries = re.findall(
        r"task\.retry name=doppel\.review_pull_request attempt=\d+ delay=([\d.]+)s", world.workers.log_tail(200_000)
    )
    assert "1.0" in retries  # the server's Retry-After, not the exponential backoff


def test_a_422_on_the_review_falls_back_to_single_comments_without_retrying(world: World, installed: None) -> None:
    pull = _open_pull(world, 24, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    reviews = f"/repos/{SHOP}/pulls/{pull.number}/reviews"
    world.github.fail("POST", reviews, 422)

    assert _review(world, pull) == "posted"

    assert _statuses(world, "POST", reviews) == [422]  # refused once, never tried again
    assert world.state.reviews_on(SHOP, pull.number) == []
    (comment,) = _bot_roots(world, pull.number)
    assert (comment["path"], comment["line"]) == (src.NEAR_COPY_PATH, src.NEAR_COPY_SIGNATURE_LINE)
    assert comment["review_id"] is None and len(_summaries(world, pull.number)) == 1


def test_a_line_github_will_not_resolve_goes_to_the_summary_without_a_crash_loop(world: World, installed: None) -> None:
    pull = _open_pull(world, 25, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    world.state.repos[SHOP].pulls[pull.number].reject_lines = {(src.NEAR_COPY_PATH, src.NEAR_COPY_SIGNATURE_LINE)}

    assert _review(world, pull) == "posted"

    assert _statuses(world, "POST", f"/repos/{SHOP}/pulls/{pull.number}/reviews") == [422]
    assert _statuses(world, "POST", f"/repos/{SHOP}/pulls/{pull.number}/comments") == [422]
    assert _bot_roots(world, pull.number) == []
    (summary,) = _summaries(world, pull.number)
    assert "holiday_price" in summary["body"]


# --- commands from someone without write access ------------------------------------------------


def test_a_strangers_ignore_is_refused_once_after_asking_github(world: World, installed: None) -> None:
    pull = _open_pull(world, 26, {src.NEAR_COPY_PATH: src.NEAR_COPY})
    commands = []
    for body in ("/similar ignore", "/similar shop/pricing.py:apply_discount"):
        command = world.state.add_issue_comment(SHOP, pull.number, STRANGER, body)
        commands.append(command["id"])
        payload = _with_ids(world, issue_comment_payload(SHOP_INSTALLATION, SHOP, pull.number, command))
        payload["comment"]["author_association"] = "NONE"
        (task,) = world.hooks.deliver("issue_comment", payload)
        assert world.result(task) == "refused"

    asked = [e for e in world.github.exchanges if e.path == f"/repos/{SHOP}/collaborators/{STRANGER}/permission"]
    assert len(asked) == 2 and all(e.status == 404 for e in asked)  # not a collaborator at all
    replies = [c for c in world.state.issue_comments_on(SHOP, pull.number) if c["login"] == BOT]
    assert len(replies) == 1 and "write access" in replies[0]["body"]
    assert not [r for r in world.state.reactions if r["comment_id"] in commands]  # no 👀: nothing ran
    ref = RepoRef(SHOP, SHOP_INSTALLATION)
    assert not redis.Redis.from_url(REDIS_URL).sismember(f"doppel:ignored:{ref.installation_id}:{SHOP}", "26")
    assert _review(world, pull) == "posted"  # the pull request is still reviewed


# --- an uninstall drops exactly one repository --------------------------------------------------


def test_an_uninstall_drops_exactly_one_of_two_formerly_colliding_repositories(world: World) -> None:
    from embedding.index.edge import EdgeIndex

    index = EdgeIndex(Path(world.workers.env["DOPPEL_DATA_DIR"]) / "index")
    for slug in CLASH:
        world.add_repository(slug, CLASH_INSTALLATION, src.GEO_FILES)
    payload = _with_ids(world, installation_payload(CLASH_INSTALLATION, list(CLASH)))
    for task in world.hooks.deliver("installation", payload):
        world.result(task, timeout=240)
    refs = [RepoRef(slug, CLASH_INSTALLATION, world.state.repos[slug].id) for slug in CLASH]
    wait_until(lambda: all(ref.collection_name in index.list_collections() for ref in refs), 240, "both indexed")

    removed = {
        "action": "removed",
        "installation": {"id": CLASH_INSTALLATION},
        "repositories_added": [],
        "repositories_removed": [{"full_name": CLASH[0], "id": refs[0].repo_id}],
        "sender": {"login": USER},
    }
    (drop,) = world.hooks.deliver("installation_repositories", removed)
    assert world.result(drop) == "dropped"

    mine = {name for name in index.list_collections() if name.startswith(f"doppel_i{CLASH_INSTALLATION}_")}
    assert mine == {refs[1].collection_name}


# --- a worker killed after posting, before the ack ---------------------------------------------


def test_a_worker_killed_after_posting_leads_to_exactly_one_review(
    world: World, installed: None, tmp_path: Path
) -> None:
    """Last in the module: it restarts the worker. The first worker places one inline comment
    (a cap of 1), publishes and SIGKILLs itself before the ack; the task is redelivered to a
    worker started with the default cap (a deploy in the crash window), which would place the
    second comment in a second review if publishing were not idempotent per head."""
    flag = tmp_path / "die-after-publish"
    flag.touch()
    world.workers.stop()
    world.workers.env.update({DIE_AFTER_PUBLISH: str(flag), "DOPPEL_MAX_INLINE_COMMENTS": "1"})
    dying = world.workers.start()
    pull = _open_pull(world, 27, {src.NEAR_COPY_PATH: src.NEAR_COPY, src.SECOND_COPY_PATH: src.SECOND_COPY})
    payload = pull_payload("opened", SHOP_INSTALLATION, SHOP, pull.number, pull.head, pull.base)
    (task,) = world.hooks.deliver("pull_request", _with_ids(world, payload))

    wait_until(lambda: dying.poll() is not None, 240, "the worker killing itself after publishing")
    assert dying.returncode == -9 and not flag.exists()
    assert len(world.state.reviews_on(SHOP, pull.number)) == 1 and len(_bot_roots(world, pull.number)) == 1

    world.workers.env["DOPPEL_MAX_INLINE_COMMENTS"] = "20"
    world.workers.start()
    assert world.result(task, timeout=240) == "posted"

    (review,) = world.state.reviews_on(SHOP, pull.number)
    assert review["commit_id"] == pull.head
    assert len(_bot_roots(world, pull.number)) == 1
    (summary,) = _summaries(world, pull.number)
    assert "holiday_price" in summary["body"] and "following_step" in summary["body"]
    runs = [
        e for e in world.github.exchanges if e.method == "GET" and e.path == f"/repos/{SHOP}/pulls/{pull.number}/files"
    ]
    assert len(runs) >= 2  # the killed worker's publish, and the redelivered task's
