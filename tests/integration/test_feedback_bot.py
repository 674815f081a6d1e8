"""Feedback through the production runtime: a review the bot publishes remembers its pairs, a 👎
polled by the collection step shows in the ``/similar config`` reply, and dropping the repository
deletes its feedback. The bot of ``test_review_plan`` (fake GitHub, real git, Redis DB 15, the
hashing encoder, Qdrant Edge), in a module-scoped instance of its own."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain import RepoRef
from github_adapter.client import GitHubClient
from tests.integration.test_review_plan import SLUG, TOKEN, _Bot, _config_command, bot, hash_encoder, verdict_file
from workers.services.feedback import feedback_counts, prepare_feedback
from workers.services.feedback_store import FeedbackCounts, store_path

pytestmark = pytest.mark.integration
__all__ = ["bot", "hash_encoder", "verdict_file"]  # the fixtures this module borrows

REPO = RepoRef(SLUG)


def _config_reply(bot: _Bot, number: int) -> str:
    from workers.services import flows

    comment = bot.state.add_issue_comment(SLUG, number, "alice", "/similar config")
    flows.reply_command(bot.rt, _config_command(number, comment["id"]))
    replies = [c["body"] for c in bot.state.issue_comments_on(SLUG, number) if "doppel configuration" in c["body"]]
    return replies[-1]


def test_published_findings_are_remembered_and_a_thumbs_down_reaches_the_config_reply(bot: _Bot) -> None:
    bot.configure(None)
    number, head = bot.open_pull()
    assert bot.review(number, head) == "posted"
    roots: list[dict[str, Any]] = [c for c in bot.state.comments_on(SLUG, number) if c["in_reply_to"] is None]
    counts = feedback_counts(bot.settings, REPO)
    assert counts == FeedbackCounts(published=len(roots), positives=0, negatives=0) and len(roots) == 4
    assert "| Labelled pairs from reviews | none yet (4 commented finding(s)" in _config_reply(bot, number)

    bot.state.react(roots[0]["id"], "alice", "-1")  # alice has write access
    bot.state.react(roots[1]["id"], "mallory", "+1")  # a stranger: does not count
    client = GitHubClient.connect(
        TOKEN, api_url=bot.server.api_url, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )
    feedback = prepare_feedback(bot.settings, REPO, client)
    assert len(feedback.negatives) == 1 and feedback.positives == ()
    assert "| Labelled pairs from reviews | 1 (0 confirmed, 1 rejected, of 4 commented findings)" in _config_reply(
        bot, number
    )

    bot.rt.drop(REPO)  # uninstalled: its feedback goes too
    assert not store_path(bot.settings.data_dir, REPO).exists()
