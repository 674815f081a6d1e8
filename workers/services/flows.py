"""The job flows: what each task does with its typed job (``workers.jobs``), written against the
``Runtime`` ports (``workers.services.ports``) and free of Celery.

Each function returns a short outcome string (also logged as a dotted event name) so that
tests and task results say what happened: ``posted``, ``deferred``, ``stale_head`` and so on.
Precondition failures (a closed PR, a head that moved on) log and return; they never raise.

Every job that reviews, searches or answers ``/similar config`` resolves its ``ReviewPlan`` once
(``rt.plan``: the settings, ``.github/doppel.yml`` on the default branch, the adapter pointer)
and hands it on; a bad file never stops a job, the plan says what was wrong. Only index jobs
write to a repository's index (one writer at a time, under its lock); reviews and searches read it.
"""

from __future__ import annotations

import logging
from typing import Any

from core.commands import HELP_TEXT, CommandKind
from core.errors import ConfigError, DoppelError, ReviewError
from workers.jobs import CommandJob, DropJob, IndexJob, RetrainJob, ReviewJob
from workers.services.access import command_permitted
from workers.services.coalesce import PullKey
from workers.services.feedback import feedback_counts
from workers.services.ports import GitHubPort, Runtime
from workers.services.repo_config import render_config

log = logging.getLogger(__name__)


def review_pull_request(rt: Runtime, job: ReviewJob, *, token: str) -> str:
    """Review one head of a PR, coalesced per PR, and post only if that head is still current.

    ``job.action``: the pull request event that asked for it (``None``: the reconciler); the
    plan's ``events`` decide whether it starts a review. ``token``: the task's id (the PR lock's)."""
    ref, repo, pr_number, head_sha, action = job.ref, job.repo, job.pr_number, job.head_sha, job.action
    installation_id = job.installation_id
    if rt.registry.is_ignored(ref, pr_number):
        return _outcome("review.ignored", repo, pr_number, head_sha)
    pull_key = PullKey(repo, pr_number)
    if not rt.coalescer.start(pull_key, token, head_sha):
        return _outcome("review.deferred", repo, pr_number, head_sha)
    try:
        github = rt.github(installation_id)
        pull = github.pull(repo, pr_number)
        if pull.state != "open":
            return _outcome("review.pr_closed", repo, pr_number, head_sha)
        if pull.head_sha != head_sha:
            return _outcome("review.stale_head", repo, pr_number, head_sha)
        plan = rt.plan(ref)
        if plan.problem:
            log.warning("review.bad_repo_config repo=%s: %s", repo, plan.problem)
        if not plan.triggers_on(action):
            return _outcome("review.not_configured", repo, pr_number, head_sha)
        if pull.draft and not plan.settings.review_drafts:
            return _outcome("review.draft", repo, pr_number, head_sha)
        result = rt.review(ref, pr_number=pr_number, base=pull.base_sha, head=head_sha, plan=plan)
        # The review took a while: a push meanwhile makes this result stale. Its own review
        # (pending or queued) will post instead.
        if github.pull(repo, pr_number).head_sha != head_sha:
            return _outcome("review.outdated", repo, pr_number, head_sha)
        github.publish_review(repo, pr_number, result)
        return _outcome("review.posted", repo, pr_number, head_sha)
    finally:
        pending = rt.coalescer.finish(pull_key, token)
        if pending is not None and pending != head_sha:
            # A push while the review ran: review its head next.
            rt.enqueue(ReviewJob.for_repo(ref, pr_number=pr_number, head_sha=pending, action="synchronize"))


def similar_command(rt: Runtime, job: CommandJob) -> str:
    """Answer a ``/similar`` search at the PR's current head: 👀 on the command, then the answer
    (in the comment's thread when it was typed on the diff). The search runs against the PR's
    base through the read-only view of the index: it never writes, so a fork's code never enters
    the index. A search that cannot run for a reason the user can fix (no such function, no
    function on that line) is answered with it. ``job.author`` and ``job.access``: who asked, and
    whether GitHub must first say that they may (``workers.services.access``)."""
    parsed, ref, repo, pr_number, comment_id = job.command, job.ref, job.repo, job.pr_number, job.comment_id
    admitted = _admit(rt, job)
    if admitted is None:
        return _outcome("command.refused", repo, pr_number, "")
    github, on_diff = admitted
    pull = github.pull(repo, pr_number)
    plan = rt.plan(ref)
    try:
        answer = rt.similar(ref, pr_number=pr_number, head=pull.head_sha, base=pull.base_sha, command=parsed, plan=plan)
    except (ReviewError, ConfigError) as exc:
        answer = f"I could not run that search: {exc}"
        log.info("command.failed repo=%s pr=%d: %s", repo, pr_number, exc)
    github.reply(repo, pr_number, comment_id, answer, review_comment=on_diff)
    return _outcome(f"command.{parsed.kind.value}", repo, pr_number, pull.head_sha)


def reply_command(rt: Runtime, job: CommandJob) -> str:
    """Answer ``help``, ``config``, ``ignore`` and commands that did not parse (for those who may)."""
    parsed, ref, repo, pr_number, comment_id = job.command, job.ref, job.repo, job.pr_number, job.comment_id
    admitted = _admit(rt, job)
    if admitted is None:
        return _outcome("command.refused", repo, pr_number, "")
    github, on_diff = admitted
    if parsed.kind is CommandKind.IGNORE:
        rt.registry.ignore(ref, pr_number)
        body = "doppel will not review this pull request again."
    elif parsed.kind is CommandKind.CONFIG:
        # The plan a review would use now, problems included, and what reviewers taught it.
        body = render_config(rt.plan(ref), feedback=feedback_counts(rt.settings, ref))
    elif parsed.kind is CommandKind.INVALID:
        body = f"I could not read that command: {parsed.error}.\n\n{HELP_TEXT}"
    else:
        body = HELP_TEXT
    github.reply(repo, pr_number, comment_id, body, review_comment=on_diff)
    return _outcome(f"command.{parsed.kind.value}", repo, pr_number, "")


def _admit(rt: Runtime, job: CommandJob) -> tuple[GitHubPort, bool] | None:
    """GitHub for the command's installation and whether it was typed on the diff, once 👀 says
    it is being worked on; ``None`` when its author may not run it (they were told, at most once)."""
    github = rt.github(job.installation_id)
    on_diff = _on_diff(github, job.repo, job.pr_number, job.comment_id, job.review_comment)
    permitted = command_permitted(
        rt, github, job.ref, job.pr_number, job.comment_id, job.command, job.author, job.access, on_diff=on_diff
    )
    if not permitted:
        return None
    github.react(job.repo, job.comment_id, "eyes", review_comment=on_diff)
    return github, on_diff


def _on_diff(github: GitHubPort, repo: str, number: int, comment_id: int, review_comment: bool | None) -> bool:
    """Whether the command was typed on the diff: as the producer said, else asked of GitHub."""
    if review_comment is not None:
        return review_comment
    return github.is_review_comment(repo, number, comment_id)


def index_repository(rt: Runtime, job: IndexJob) -> dict[str, Any]:
    """Bring a repository's index to its default branch (the one writer, under the lock) and,
    with ``job.register``, remember it for the nightly jobs. ``job.commit`` (a push's) is a hint
    only: the index follows the default branch's head, so a delayed job never moves it back.
    Without ``register`` (the reconciler), a repository no longer served is left alone."""
    ref, repo, commit = job.ref, job.repo, job.commit
    if job.register:
        rt.registry.add(ref)
    elif not rt.registry.contains(ref):
        log.info("index.skipped_unregistered repo=%s", repo)
        return {"mode": "skipped", "commit": commit}
    stats = rt.index(ref, commit=commit)
    log.info("index.done repo=%s commit=%s", repo, commit or "default-branch")
    return stats


def drop_repository(rt: Runtime, job: DropJob) -> str:
    ref = job.ref
    rt.drop(ref)
    rt.registry.remove(ref)
    log.info("repository.dropped repo=%s installation=%s", job.repo, job.installation_id)
    return "dropped"


def retrain_repository(rt: Runtime, job: RetrainJob) -> dict[str, Any]:
    return rt.retrain(job.ref)


def nightly_retrain(rt: Runtime) -> int:
    """Queue one retrain per served repository; returns how many were queued."""
    repos = rt.registry.repositories()
    for ref in repos:
        rt.enqueue(RetrainJob.for_repo(ref))
    log.info("retrain.scheduled repositories=%d", len(repos))
    return len(repos)


def reconcile_open_pulls(rt: Runtime) -> int:
    """Queue an index update for every served repository (a lost push leaves its index behind;
    an update that finds it current costs a fetch) and a review for every open PR whose head has
    no doppel review yet (lost deliveries, downtime). Returns how many reviews were queued; a
    repository GitHub refuses is skipped."""
    queued = 0
    for ref in rt.registry.repositories():
        rt.enqueue(IndexJob.for_repo(ref, register=False))
        github = rt.github(ref.installation_id)
        try:
            pulls = github.open_pulls(ref.slug)
        except DoppelError as exc:  # one repository's failure must not starve the others
            log.warning("reconcile.repo_failed repo=%s: %s", ref.slug, exc)
            continue
        for pull in pulls:
            if pull.draft and not rt.settings.review_drafts:
                continue
            if rt.registry.is_ignored(ref, pull.number) or github.has_review(ref.slug, pull.number, pull.head_sha):
                continue
            rt.enqueue(ReviewJob.for_repo(ref, pr_number=pull.number, head_sha=pull.head_sha))
            queued += 1
    log.info("reconcile.done queued=%d", queued)
    return queued


def _outcome(event: str, repo: str, number: int, head_sha: str) -> str:
    log.info("%s repo=%s pr=%d head=%s", event, repo, number, head_sha[:12])
    return event.split(".", 1)[1]
