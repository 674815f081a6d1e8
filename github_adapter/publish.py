"""Publishing a review's findings on a pull request: one review, inline comments, one sticky summary.

What is already on GitHub is the state: every run lists the bot's own review comments and reads
the fingerprints from their hidden markers, so a re-push or a rebase never repeats a finding, and
the summary comment (found by its marker) is edited in place. A run

1. drops the result when the pull request is closed or its head moved past the reviewed commit;
2. places at most ``max_comments`` new inline comments, each on a right-side diff line inside a
   hunk (``github_adapter.anchors``), all in one review whose ``commit_id`` is the reviewed head;
   when GitHub refuses that batch (422) it posts them one by one and moves what it still cannot
   place into the summary. At most one review per (pull request, head SHA): the review's body
   carries a hidden head marker, and a run that finds the bot's review of this head already there
   (a worker killed after it posted but before its task was acknowledged, whose task then ran
   again, perhaps under other settings) posts no second one and lists the rest in the summary;
3. minimizes (hides as outdated) the comments of findings that went away, except threads someone
   answered, which stay as they are; nothing is ever deleted;
4. writes the summary: duplicates, related code and copies within the pull request, each linking
   the matched code at the base commit with its score and adapter version, and the head SHA.

The service takes its GitHub client as an argument and knows nothing of Celery. Which findings
become inline comments (and on which line) and which go to the summary is decided by one pure
function, ``plan_publication``; ``preview`` renders, through it, exactly what a first run would
post on a pull request, for ``doppel review --format markdown`` to show without GitHub.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from core.domain import Finding, FindingKind, PullRef
from core.settings import Settings
from github_adapter.anchors import FilePatch, anchor_line, patches_by_path
from github_adapter.client import InlineComment, IssueComment, PullFile, PullInfo, PullReview, ReviewComment
from github_adapter.errors import GitHubError
from github_adapter.render import (
    SUMMARY_MARKER,
    Links,
    SummaryView,
    find_fingerprints,
    head_marker,
    render_inline,
    render_summary,
    summary_head,
    summary_resolved,
)

log = logging.getLogger(__name__)

REVIEW_MARKER = "<!-- doppel:review -->"
# The one default for the inline-comment cap: the setting's (a repository's config may lower it).
DEFAULT_MAX_COMMENTS: int = Settings.model_fields["max_inline_comments"].default


class PublishPolicy(Protocol):
    """What a job's plan decides about publishing (``workers.services.plan.ReviewPlan`` and
    ``RepoConfig`` both provide it): the comment cap and the paths never commented on."""

    max_comments: int

    def ignores(self, path: str) -> bool: ...


class PublishClient(Protocol):
    """The GitHub calls publishing makes (``github_adapter.client.GitHubClient`` provides them)."""

    web_url: str

    def pull(self, slug: str, number: int) -> PullInfo: ...
    def pull_files(self, slug: str, number: int) -> list[PullFile]: ...
    def review_comments(self, slug: str, number: int) -> list[ReviewComment]: ...
    def reviews(self, slug: str, number: int) -> list[PullReview]: ...
    def issue_comments(self, slug: str, number: int) -> list[IssueComment]: ...
    def create_review(
        self, slug: str, number: int, *, commit_id: str, body: str, comments: Sequence[InlineComment]
    ) -> int: ...
    def create_review_comment(
        self, slug: str, number: int, *, commit_id: str, comment: InlineComment
    ) -> ReviewComment: ...
    def create_issue_comment(self, slug: str, number: int, body: str) -> IssueComment: ...
    def edit_issue_comment(self, slug: str, comment_id: int, body: str) -> None: ...
    def minimize_comment(self, node_id: str, classifier: str = "OUTDATED") -> bool: ...


class ReviewOutput(Protocol):
    """What publishing reads from ``workers.services.review.ReviewResult``."""

    base: str
    head: str
    findings: list[Finding]
    warnings: list[str]


@dataclass
class PublishOutcome:
    """What one run did, for logs, task results and tests (fingerprints, not bodies)."""

    status: str  # "published" | "stale" | "closed"
    review_id: int | None = None
    posted: list[str] = field(default_factory=list)  # new inline comments
    kept: list[str] = field(default_factory=list)  # inline comments already there from an earlier run
    overflow: list[str] = field(default_factory=list)  # over the cap or second matches of one function: summary
    unplaced: list[str] = field(default_factory=list)  # no diff line GitHub accepts: summary
    minimized: list[str] = field(default_factory=list)
    kept_answered: list[str] = field(default_factory=list)  # gone, but someone replied: left visible
    summary_comment_id: int | None = None
    summary_action: str | None = None  # "created" | "edited" | "unchanged" | None (nothing to say)
    fallback: bool = False  # the batch was refused and comments went one by one
    review_existed: bool = False  # the bot's review of this head was there already: no second one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Placement:
    """A new inline comment: the finding and the right-side diff line it goes on."""

    finding: Finding
    line: int


@dataclass
class PublicationPlan:
    """Where each finding of a review goes, before anything is posted.

    ``view``: the summary's sections (``inline`` holds only findings already commented on by an
    earlier run; those of ``placements`` join it once posted). ``placements``: new inline comments,
    at most the cap minus those already there. ``kept``: fingerprints already commented on.
    ``findings``: every finding published, after the plan's ignored paths and one per fingerprint.
    """

    view: SummaryView
    placements: list[Placement]
    kept: list[str]
    findings: list[Finding]


def plan_publication(
    result: ReviewOutput,
    patches: Mapping[str, FilePatch],
    *,
    commented: Collection[str] = (),
    max_comments: int = DEFAULT_MAX_COMMENTS,
    policy: PublishPolicy | None = None,
) -> PublicationPlan:
    """Sort ``result``'s findings into inline comments and summary sections (pure).

    Duplicates get an inline comment, one per changed function (its best match; further matches
    go to the summary), on the line ``anchor_line`` picks in the function's file patch; a duplicate
    with no such line is listed as not placed; past ``max_comments`` (counting those in
    ``commented``, the fingerprints that already have a comment) the rest is listed as overflow.
    Related code and copies within the change are summary-only."""
    findings = _dedupe(f for f in result.findings if policy is None or not policy.ignores(f.function.path))
    cap = policy.max_comments if policy is not None else max_comments
    view = SummaryView(warnings=list(getattr(result, "warnings", []) or []))
    kept: list[str] = []
    best: dict[tuple[str, str], Finding] = {}
    for f in sorted((f for f in findings if f.kind is FindingKind.DUPLICATE), key=lambda f: -f.score):
        key = (f.function.path, f.function.qualified_name)
        if key in best:
            view.overflow.append(f)
        else:
            best[key] = f
    fresh: list[Finding] = []
    for f in best.values():
        if f.fingerprint in commented:
            view.inline.append(f)
            kept.append(f.fingerprint)
        else:
            fresh.append(f)
    slots = max(0, cap - len(view.inline))
    placements: list[Placement] = []
    for f in fresh:
        line = anchor_line(f.function, patches.get(f.function.path))
        if line is None:
            view.unplaced.append(f)
        elif len(placements) < slots:
            placements.append(Placement(f, line))
        else:
            view.overflow.append(f)
    view.related = [f for f in findings if f.kind is FindingKind.RELATED]
    view.intra_pr = [f for f in findings if f.kind is FindingKind.INTRA_PR]
    return PublicationPlan(view=view, placements=placements, kept=kept, findings=findings)


def inline_comments(placements: Iterable[Placement], links: Links) -> list[InlineComment]:
    """The inline review comments for ``placements``, as they are posted."""
    return [InlineComment(p.finding.function.path, p.line, render_inline(p.finding, links)) for p in placements]


def review_body(count: int, head: str) -> str:
    """The body of the review that carries ``count`` inline comments on ``head``."""
    return (
        f"doppel found {count} possible duplicate{'s' if count != 1 else ''} of existing code in this change. "
        f"The summary comment lists everything it found.\n{REVIEW_MARKER}\n{head_marker(head)}"
    )


@dataclass(frozen=True)
class Preview:
    """What a first run posts on a pull request that has no doppel comments yet: the review (its
    body and inline comments; ``None`` without any) and the summary comment (``None``: nothing
    found, so nothing is posted)."""

    review_body: str | None
    comments: list[InlineComment]
    summary: str | None


def preview(
    result: ReviewOutput,
    patches: Mapping[str, FilePatch],
    links: Links,
    *,
    max_comments: int = DEFAULT_MAX_COMMENTS,
    policy: PublishPolicy | None = None,
) -> Preview:
    """Render, without GitHub, what ``PublishService.publish`` posts for ``result`` the first time
    (every inline comment accepted): the same plan, the same renderers."""
    plan = plan_publication(result, patches, max_comments=max_comments, policy=policy)
    comments = inline_comments(plan.placements, links)
    view = plan.view
    view.inline += [p.finding for p in plan.placements]
    summary = render_summary(view, links) if view.total else None
    return Preview(review_body(len(comments), result.head) if comments else None, comments, summary)


class PublishService:
    """Publishes review results through ``client``; ``bot_login`` is the account the bot posts as
    (``<app-slug>[bot]`` for an App) so that only its own comments count as its state."""

    def __init__(
        self,
        client: PublishClient,
        *,
        bot_login: str | None = None,
        max_comments: int = DEFAULT_MAX_COMMENTS,
        web_url: str | None = None,
    ) -> None:
        self.client = client
        self.bot_login = bot_login
        self.max_comments = max_comments
        self.web_url = web_url or client.web_url

    # --- state read back from GitHub ----------------------------------------------------------
    def _mine(self, author: str) -> bool:
        return self.bot_login is None or author == self.bot_login

    def _own_threads(self, comments: Sequence[ReviewComment]) -> tuple[dict[str, ReviewComment], set[int]]:
        """``{fingerprint: root comment}`` of the bot's threads, and the ids of threads with replies."""
        roots: dict[str, ReviewComment] = {}
        for c in comments:
            if c.in_reply_to_id is None and self._mine(c.author):
                for fp in find_fingerprints(c.body):
                    roots.setdefault(fp, c)
        answered = {c.in_reply_to_id for c in comments if c.in_reply_to_id is not None}
        return roots, {cid for cid in answered if cid is not None}

    def _summary(self, comments: Sequence[IssueComment]) -> IssueComment | None:
        for c in comments:
            if self._mine(c.author) and c.body.startswith(SUMMARY_MARKER):
                return c
        return None

    def _own_review(self, slug: str, number: int, head: str) -> PullReview | None:
        """The bot's review of ``head`` on the pull request, found by the markers in its body."""
        marker = head_marker(head)
        for review in self.client.reviews(slug, number):
            if self._mine(review.author) and REVIEW_MARKER in review.body and marker in review.body:
                return review
        return None

    def has_review(self, slug: str, number: int, head_sha: str) -> bool:
        """True when the bot's summary on the pull request records ``head_sha`` (already reviewed)."""
        summary = self._summary(self.client.issue_comments(slug, number))
        return summary is not None and summary_head(summary.body) == head_sha

    # --- the run ------------------------------------------------------------------------------
    def publish(self, result: ReviewOutput, pull: PullRef, *, config: PublishPolicy | None = None) -> PublishOutcome:
        slug, number = pull.repo.slug, pull.number
        ctx = {"repo": slug, "pull": number, "head": result.head}
        gone = self._why_not_current(result, pull)
        if gone:
            return PublishOutcome(status=gone)

        links = Links(web_url=self.web_url, slug=slug, base_sha=result.base, head_sha=result.head)
        patches = patches_by_path((f.path, f.patch) for f in self.client.pull_files(slug, number))
        roots, answered = self._own_threads(self.client.review_comments(slug, number))
        summary = self._summary(self.client.issue_comments(slug, number))
        resolved = summary_resolved(summary.body) if summary else set()
        outcome = PublishOutcome(status="published")
        plan = plan_publication(result, patches, commented=roots.keys(), max_comments=self.max_comments, policy=config)
        view, placements, findings = plan.view, plan.placements, plan.findings
        outcome.kept = list(plan.kept)

        if placements:
            gone = self._why_not_current(result, pull)  # the head may have moved while we read
            if gone:
                return PublishOutcome(status=gone)
            existing = self._own_review(slug, number, result.head)
            if existing is not None:
                # This head has its review: an earlier run posted it and did not live to say so.
                log.info("publish.review_exists", extra={**ctx, "review": existing.id, "unposted": len(placements)})
                outcome.review_id, outcome.review_existed = existing.id, True
                view.overflow += [p.finding for p in placements]
            else:
                posted, refused = self._post(slug, number, result.head, placements, links, outcome)
                view.inline += posted
                view.unplaced += refused
        outcome.posted = [p.fingerprint for p in view.inline if p.fingerprint not in outcome.kept]
        outcome.overflow = [f.fingerprint for f in view.overflow]
        outcome.unplaced = [f.fingerprint for f in view.unplaced]

        # Findings that went away: hide their comments, unless someone answered the thread.
        current = {f.fingerprint for f in findings}
        resolved -= current
        for fp, root in roots.items():
            if fp in current or fp in resolved:
                continue
            if root.id in answered:
                outcome.kept_answered.append(fp)
            else:
                self.client.minimize_comment(root.node_id, "OUTDATED")
                outcome.minimized.append(fp)
            resolved.add(fp)
        view.resolved = sorted(resolved)

        self._write_summary(slug, number, summary, view, links, resolved, outcome)
        log.info(
            "publish.done",
            extra={
                **ctx,
                "posted": len(outcome.posted),
                "kept": len(outcome.kept),
                "overflow": len(outcome.overflow),
                "unplaced": len(outcome.unplaced),
                "minimized": len(outcome.minimized),
                "summary": outcome.summary_action,
            },
        )
        return outcome

    def _why_not_current(self, result: ReviewOutput, pull: PullRef) -> str | None:
        """``"closed"`` or ``"stale"`` (head moved past the reviewed commit) when the result must be dropped."""
        info = self.client.pull(pull.repo.slug, pull.number)
        ctx = {"repo": pull.repo.slug, "pull": pull.number, "reviewed": result.head, "current": info.head_sha}
        if info.state != "open":
            log.info("publish.pr_closed", extra=ctx)
            return "closed"
        if info.head_sha != result.head:
            log.info("publish.head_moved", extra=ctx)
            return "stale"
        return None

    def _post(
        self, slug: str, number: int, head: str, placements: list[Placement], links: Links, outcome: PublishOutcome
    ) -> tuple[list[Finding], list[Finding]]:
        """Post the inline comments as one review; on a 422, one by one. Returns (posted, refused)."""
        comments = inline_comments(placements, links)
        n = len(comments)
        body = review_body(n, head)
        try:
            outcome.review_id = self.client.create_review(slug, number, commit_id=head, body=body, comments=comments)
            return [p.finding for p in placements], []
        except GitHubError as exc:
            if not exc.unprocessable:
                raise
            log.warning("publish.review_refused", extra={"repo": slug, "pull": number, "comments": n})
        outcome.fallback = True
        posted: list[Finding] = []
        refused: list[Finding] = []
        for p, comment in zip(placements, comments, strict=True):
            try:
                self.client.create_review_comment(slug, number, commit_id=head, comment=comment)
                posted.append(p.finding)
            except GitHubError as exc:
                if not exc.unprocessable:
                    raise
                log.info(
                    "publish.comment_refused",
                    extra={"repo": slug, "pull": number, "path": comment.path, "line": comment.line},
                )
                refused.append(p.finding)
        return posted, refused

    def _write_summary(
        self,
        slug: str,
        number: int,
        existing: IssueComment | None,
        view: SummaryView,
        links: Links,
        resolved: set[str],
        outcome: PublishOutcome,
    ) -> None:
        if existing is None and view.total == 0 and not resolved:
            return  # nothing found and nothing said before: stay quiet
        body = render_summary(view, links, resolved_markers=resolved)
        if existing is None:
            outcome.summary_comment_id = self.client.create_issue_comment(slug, number, body).id
            outcome.summary_action = "created"
        elif existing.body != body:
            self.client.edit_issue_comment(slug, existing.id, body)
            outcome.summary_comment_id, outcome.summary_action = existing.id, "edited"
        else:
            outcome.summary_comment_id, outcome.summary_action = existing.id, "unchanged"


def _dedupe(findings: Any) -> list[Finding]:
    """One finding per fingerprint (the best score), in a stable order."""
    best: dict[str, Finding] = {}
    for f in findings:
        if f.fingerprint not in best or f.score > best[f.fingerprint].score:
            best[f.fingerprint] = f
    return list(best.values())
