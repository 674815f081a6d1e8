"""Payload parsing into events, and routing events to task names under the policy."""

from __future__ import annotations

from typing import Any

import pytest

from bot.webhooks.dispatch import Policy, route
from bot.webhooks.events import (
    ZERO_SHA,
    CommentEvent,
    InstallationEvent,
    PayloadError,
    PullRequestEvent,
    PushEvent,
    Unhandled,
    parse_event,
)
from tests.conftest_bot import comment_payload, pull_request_payload
from workers.tasks import names

POLICY = Policy(review_drafts=False, bot_login="doppel[bot]")


def _route(event: str, payload: dict[str, Any], policy: Policy = POLICY):
    return route(parse_event(event, payload), policy)


def test_pull_request_is_parsed() -> None:
    event = parse_event("pull_request", pull_request_payload("synchronize", number=3, head_sha="f" * 40))
    assert event == PullRequestEvent(
        action="synchronize",
        installation_id=42,
        repo="octo/widgets",
        number=3,
        head_sha="f" * 40,
        base_sha="b" * 40,
        base_ref="main",
        draft=False,
        state="open",
        sender="octocat",
    )


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
def test_review_actions_queue_one_review(action: str) -> None:
    decision = _route("pull_request", pull_request_payload(action, head_sha="d" * 40))
    assert [job.task for job in decision.jobs] == [names.REVIEW_PULL_REQUEST]
    assert decision.jobs[0].kwargs == {
        "installation_id": 42,
        "repo": "octo/widgets",
        "pr_number": 7,
        "head_sha": "d" * 40,
        "action": action,
    }
    assert decision.reason == f"pull_request.{action}"


@pytest.mark.parametrize("action", ["closed", "labeled", "edited", "converted_to_draft"])
def test_other_pull_request_actions_are_ignored(action: str) -> None:
    decision = _route("pull_request", pull_request_payload(action))
    assert not decision.accepted and decision.reason == f"ignored.pull_request.{action}"


def test_drafts_are_skipped_unless_configured() -> None:
    payload = pull_request_payload("opened", draft=True)
    assert _route("pull_request", payload).reason == "ignored.draft"
    assert _route("pull_request", payload, Policy(review_drafts=True)).accepted


def test_the_bots_own_actions_are_skipped() -> None:
    payload = pull_request_payload("synchronize", sender="Doppel[bot]")
    assert _route("pull_request", payload).reason == "ignored.own_action"


def test_repository_webhooks_without_installation_still_route() -> None:
    decision = _route("pull_request", pull_request_payload(installation_id=None))
    assert decision.jobs[0].kwargs["installation_id"] is None


def test_issue_comment_with_command_queues_similar() -> None:
    decision = _route("issue_comment", comment_payload('/similar "parse dates"'))
    (job,) = decision.jobs
    assert job.task == names.SIMILAR_COMMAND
    assert job.kwargs == {
        "installation_id": 42,
        "repo": "octo/widgets",
        "pr_number": 7,
        "comment_id": 991,
        "command": {"kind": "query", "query": "parse dates"},
        "review_comment": False,
        "author": "octocat",
        "access": "check",  # the payload names no author_association: the worker asks GitHub
    }


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("/similar help", "help"),
        ("/similar config", "config"),
        ("/similar ignore", "ignore"),
        ("/similar a b", "invalid"),
    ],
)
def test_non_search_commands_queue_a_reply(body: str, kind: str) -> None:
    (job,) = _route("issue_comment", comment_payload(body)).jobs
    assert job.task == names.REPLY_COMMAND and job.kwargs["command"]["kind"] == kind


def test_bare_command_on_a_diff_comment_means_the_function_under_it() -> None:
    payload = comment_payload("/similar", event="pull_request_review_comment", path="pkg/a.py", line=12)
    event = parse_event("pull_request_review_comment", payload)
    assert isinstance(event, CommentEvent) and event.path == "pkg/a.py" and event.line == 12
    (job,) = route(event, POLICY).jobs
    assert job.task == names.SIMILAR_COMMAND
    assert job.kwargs["command"] == {"kind": "at", "path": "pkg/a.py", "line": 12}
    assert job.kwargs["review_comment"] is True  # answered in the diff thread


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (comment_payload("nice work"), "ignored.comment.no_command"),
        (comment_payload("/similar", on_pull_request=False), "ignored.comment.not_pull_request"),
        (comment_payload("/similar", author="doppel[bot]"), "ignored.own_comment"),
        ({**comment_payload("/similar"), "action": "edited"}, "ignored.issue_comment.edited"),
    ],
)
def test_comments_that_ask_for_nothing_are_ignored(payload: dict[str, Any], reason: str) -> None:
    decision = _route("issue_comment", payload)
    assert not decision.accepted and decision.reason == reason


def _push(ref: str, after: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": "1" * 40,
        "after": after,
        "repository": {"full_name": "octo/widgets", "default_branch": "main"},
        "installation": {"id": 42},
        "sender": {"login": "octocat"},
    }


def test_push_to_default_branch_queues_incremental_index() -> None:
    event = parse_event("push", _push("refs/heads/main", "2" * 40))
    assert isinstance(event, PushEvent) and event.to_default_branch and not event.deleted
    (job,) = route(event, POLICY).jobs
    assert job.task == names.INDEX_PUSH
    assert job.kwargs == {"installation_id": 42, "repo": "octo/widgets", "commit": "2" * 40}


@pytest.mark.parametrize(
    ("ref", "after", "reason"),
    [
        ("refs/heads/feature", "2" * 40, "ignored.push.not_default_branch"),
        ("refs/tags/v1", "2" * 40, "ignored.push.not_default_branch"),
        ("refs/heads/main", ZERO_SHA, "ignored.push.deleted"),
    ],
)
def test_other_pushes_are_ignored(ref: str, after: str, reason: str) -> None:
    assert _route("push", _push(ref, after)).reason == reason


def _installation(action: str, key: str, repos: list[str]) -> dict[str, Any]:
    return {
        "action": action,
        "installation": {"id": 5},
        key: [{"full_name": name, "id": i} for i, name in enumerate(repos)],
        "sender": {"login": "octocat"},
    }


def test_installation_created_indexes_each_repository() -> None:
    event = parse_event("installation", _installation("created", "repositories", ["o/a", "o/b"]))
    assert event == InstallationEvent("installation", "created", 5, ("o/a", "o/b"), ())
    decision = route(event, POLICY)
    assert [(j.task, j.kwargs["repo"]) for j in decision.jobs] == [
        (names.INDEX_REPOSITORY, "o/a"),
        (names.INDEX_REPOSITORY, "o/b"),
    ]


def test_installation_deleted_drops_each_repository() -> None:
    decision = _route("installation", _installation("deleted", "repositories", ["o/a"]))
    assert [(j.task, j.kwargs) for j in decision.jobs] == [
        (names.DROP_REPOSITORY, {"installation_id": 5, "repo": "o/a"})
    ]


def test_installation_repositories_added_and_removed() -> None:
    payload = _installation("added", "repositories_added", ["o/new"])
    payload["repositories_removed"] = [{"full_name": "o/old"}]
    decision = _route("installation_repositories", payload)
    assert [(j.task, j.kwargs["repo"]) for j in decision.jobs] == [
        (names.INDEX_REPOSITORY, "o/new"),
        (names.DROP_REPOSITORY, "o/old"),
    ]


def test_installation_suspend_is_ignored() -> None:
    event = parse_event("installation", _installation("suspend", "repositories", []))
    assert event == Unhandled("installation", "suspend")
    assert route(event, POLICY).reason == "ignored.installation.suspend"


def test_unknown_events_are_unhandled() -> None:
    assert _route("star", {"action": "created"}).reason == "ignored.star.created"
    assert _route("ping", {"zen": "Design for failure.", "hook_id": 1}).reason == "ping"


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("pull_request", {"action": "opened"}, "pull_request"),
        ("pull_request", {**pull_request_payload(), "repository": {}}, "repository.full_name"),
        (
            "pull_request",
            {**pull_request_payload(), "pull_request": {**pull_request_payload()["pull_request"], "number": "7"}},
            "pull_request.number",
        ),
        ("issue_comment", {"action": "created", "issue": {"number": 1}}, "comment"),
        ("push", {"ref": "refs/heads/main", "repository": {"full_name": "o/a", "default_branch": "main"}}, "after"),
        ("installation", {"action": "created"}, "installation.id"),
    ],
)
def test_missing_fields_raise_payload_error_naming_them(event: str, payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError, match=field.replace(".", r"\.")):
        parse_event(event, payload)


def test_a_non_object_payload_is_refused() -> None:
    with pytest.raises(PayloadError, match="JSON object"):
        parse_event("ping", [1, 2])  # type: ignore[arg-type]
