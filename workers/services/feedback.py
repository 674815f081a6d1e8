"""Feedback from reviews: reviewers' 👍, 👎 and "resolved" on doppel's comments as labelled pairs.

Three moments, each a function here, with the repository's ``FeedbackStore`` passed in:

1. **Publishing** (``remember_published``): each inline comment doppel posts carries its
   finding's fingerprint in a hidden marker; the pair behind it (both functions, with their
   paths, qualified names, commits and code) is remembered under that fingerprint, so a vote
   can later be turned back into a pair without trusting anything the comment's text says.
2. **Collecting** (``FeedbackCollector.collect``): GitHub sends no webhook for reactions, so a
   collection step polls them: for the pull requests doppel commented on recently, it lists the
   review comments, keeps the bot's own root comments whose fingerprint the store knows, and
   reads the reactions of those whose ``reactions`` summary shows a 👍 or 👎 (or that had votes
   before, so a withdrawn one goes). "Resolved" arrives with the ``pull_request_review_thread``
   webhook (``record_resolution``).
3. **Learning** (``training_feedback``): the labelled pairs as training pairs (positives) and
   negative pairs for the nightly training, and as ``LabelledPair``s for the verdict refit
   (``verdict_pairs``), scored with the vectors of the adapter being fitted.

Whose say counts: only people with write access to the repository (``write``, ``maintain`` or
``admin`` from the collaborator-permission API, as for ``/similar`` commands), because a label
steers what every later review flags. The bot's own reactions (its 👀 on commands) and every other
App's (``type: Bot``) are ignored; so is a resolution by a reader or by the pull request's author
without write access. Everything is bounded: pull requests polled per run, reactions read per
comment, permission look-ups per run (``CollectLimits``), and what the store keeps
(``feedback_store.StoreLimits``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.domain import CodeFunction, Finding, FindingKind, RepoRef
from workers.services.access import WRITE_PERMISSIONS
from workers.services.feedback_store import (
    MAX_CODE_CHARS,
    FeedbackCounts,
    FeedbackInputError,
    FeedbackPair,
    FeedbackStore,
    PairSide,
    PublishedPair,
    StoreLimits,
    Vote,
    check_fingerprint,
    check_pull,
    valid_login,
)

if TYPE_CHECKING:
    import numpy as np

    from core.settings import Settings
    from embedding.training.pairs import TrainingPair
    from embedding.verdict_fit import LabelledPair
    from github_adapter.client import Reaction, ReviewComment
    from workers.jobs import ThreadFeedbackJob
    from workers.services.retrain import ExtraPairs

log = logging.getLogger(__name__)

THUMBS = {"+1": 1, "-1": -1}
DAY = 86_400.0
FEEDBACK_SOURCE = "feedback"  # TrainingPair.source of pairs that came from reviewers


# --- 1. publishing ------------------------------------------------------------------------------
def published_pairs(
    findings: Sequence[Finding],
    *,
    pull: int,
    head: str,
    base: str,
    fingerprints: Collection[str],
    now: float | None = None,
) -> list[PublishedPair]:
    """The pairs behind the inline comments named by ``fingerprints`` among ``findings``. Pure.

    Only duplicates get inline comments, so only they are remembered; a side whose code is longer
    than ``MAX_CODE_CHARS`` (a generated table, say) is not worth keeping, nor is its pair."""
    wanted = set(fingerprints)
    out: dict[str, PublishedPair] = {}
    for f in findings:
        fp = f.fingerprint
        if f.kind is not FindingKind.DUPLICATE or fp not in wanted or fp in out:
            continue
        if len(f.function.code) > MAX_CODE_CHARS or len(f.target.code) > MAX_CODE_CHARS:
            continue
        try:
            function = PairSide(
                f.function.language, f.function.path, f.function.qualified_name, head, f.function.body_hash,
                f.function.code,
            )  # fmt: skip
            target = PairSide(
                f.target.language, f.target.path, f.target.qualified_name, f.target.commit or base,
                f.target.body_hash, f.target.code,
            )  # fmt: skip
            out[fp] = PublishedPair(fp, pull, function, target, f.kind.value, float(f.score), now or 0.0)
        except FeedbackInputError as exc:
            log.info("feedback.pair_skipped fingerprint=%s: %s", fp, exc)
    return list(out.values())


def remember_published(store: FeedbackStore, result: Any, pull: int, fingerprints: Collection[str]) -> int:
    """Remember the pairs of a publication's inline comments (``PublishOutcome.posted`` and
    ``.kept``) from its ``ReviewResult``; returns how many were new. Never raises for the
    store's sake: the comments are on GitHub either way, and a lost record only loses a label."""
    pairs = published_pairs(
        result.findings, pull=pull, head=result.head, base=result.base, fingerprints=fingerprints, now=time.time()
    )
    try:
        added = store.remember(pairs)
    except (OSError, sqlite3.Error, FeedbackInputError) as exc:
        log.warning("feedback.remember_failed pull=%d: %s", pull, exc)
        return 0
    log.info("feedback.remembered pull=%d pairs=%d new=%d", pull, len(pairs), added)
    return added


def remember_publication(settings: Settings, result: Any, pull: int, fingerprints: Collection[str]) -> int:
    """``remember_published`` into the repository's own store (``result.repo``'s); a store that
    cannot be opened is logged, never raised: publishing is done by then."""
    try:
        store = open_repo_store(settings, result.repo)
    except (OSError, sqlite3.Error) as exc:
        log.warning("feedback.store_unavailable repo=%s: %s", result.repo.slug, exc)
        return 0
    try:
        return remember_published(store, result, pull, fingerprints)
    finally:
        store.close()


# --- 2. collecting ------------------------------------------------------------------------------
class FeedbackClient(Protocol):
    """The GitHub calls collection makes (``github_adapter.client.GitHubClient`` provides them)."""

    def review_comments(self, slug: str, number: int) -> list[ReviewComment]: ...
    def review_comment_reactions(self, slug: str, comment_id: int, *, limit: int = 100) -> list[Reaction]: ...
    def permission(self, slug: str, username: str) -> str: ...


@dataclass(frozen=True)
class CollectLimits:
    """How much one collection run may ask of GitHub for one repository."""

    pulls: int = 50  # pull requests polled, most recently commented first
    days: float = 30.0  # ... that doppel commented on within this many days
    reactions_per_comment: int = 100  # reactions read per comment (one page)
    permission_checks: int = 50  # distinct people whose permission is asked per run

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectLimits:
        return cls(pulls=settings.feedback_poll_pulls, days=float(settings.feedback_poll_days))


def store_limits(settings: Settings) -> StoreLimits:
    return StoreLimits(max_pairs=settings.feedback_max_pairs, max_pairs_per_pull=settings.feedback_max_pairs_per_pull)


@dataclass
class CollectStats:
    """What one collection run did, for logs and the task's result."""

    pulls: int = 0
    comments: int = 0  # the bot's comments of remembered findings
    reaction_reads: int = 0  # comments whose reactions were listed
    votes: int = 0  # votes recorded (after every filter)
    ignored_bots: int = 0
    ignored_not_allowed: int = 0
    ignored_unchecked: int = 0  # over the run's permission look-ups: left for the next run
    ignored_other: int = 0  # reactions other than 👍/👎, malformed users
    failed_pulls: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Permissions:
    """Who may steer the bot on one repository, asked of GitHub once per person and run, and for
    at most ``budget`` people (the rest count as unchecked: their votes wait for the next run)."""

    def __init__(self, ask: Callable[[str], str], budget: int) -> None:
        self._ask = ask
        self._budget = budget
        self._known: dict[str, bool] = {}

    def allowed(self, login: str) -> bool | None:
        """True/False, or ``None`` when the budget is spent before asking about ``login``."""
        key = login.lower()
        if key not in self._known:
            if len(self._known) >= self._budget:
                return None
            self._known[key] = self._ask(login).lower() in WRITE_PERMISSIONS
        return self._known[key]


def is_bot(login: str, user_type: str, bot_login: str) -> bool:
    """The bot itself or any other App's account."""
    return login.lower() == bot_login.lower() or user_type.lower() == "bot" or login.lower().endswith("[bot]")


class FeedbackCollector:
    """Polls 👍/👎 on the bot's inline comments of one repository into its store."""

    def __init__(
        self,
        client: FeedbackClient,
        store: FeedbackStore,
        *,
        bot_login: str,
        limits: CollectLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.bot_login = bot_login
        self.limits = limits or CollectLimits()
        self.clock = clock

    def collect(self, slug: str) -> CollectStats:
        from github_adapter.errors import GitHubError

        stats = CollectStats()
        permissions = Permissions(lambda login: self.client.permission(slug, login), self.limits.permission_checks)
        voted = {fp for fp, votes in self.store.votes().items() if any(v.source == "reaction" for v in votes)}
        since = self.clock() - self.limits.days * DAY
        for pull in self.store.pulls(since=since, limit=self.limits.pulls):
            stats.pulls += 1
            known = {p.fingerprint for p in self.store.published(pull)}
            try:
                comments = self.client.review_comments(slug, pull)
                for comment, fingerprint in self._own(comments, known):
                    stats.comments += 1
                    self._one(slug, pull, comment, fingerprint, fingerprint in voted, permissions, stats)
            except GitHubError as exc:
                if not _unreadable(exc):
                    raise  # a rate limit or GitHub failing: the run is retried (or the training goes on without it)
                stats.failed_pulls += 1  # gone, or no longer ours to read: the others still count
                log.info("feedback.pull_unreadable repo=%s pull=%d: %s", slug, pull, exc)
        stats.counts = self.store.counts().to_dict()
        log.info("feedback.collected repo=%s %s", slug, stats.to_dict())
        return stats

    def _own(self, comments: Sequence[ReviewComment], known: set[str]) -> list[tuple[ReviewComment, str]]:
        """The bot's root comments with the fingerprint of a remembered finding (the first marker)."""
        from github_adapter.render import find_fingerprints

        out = []
        for c in comments:
            if c.in_reply_to_id is not None or c.author.lower() != self.bot_login.lower():
                continue
            found = [fp for fp in find_fingerprints(c.body)[:4] if fp in known]
            if found:
                out.append((c, found[0]))
        return out

    def _one(
        self,
        slug: str,
        pull: int,
        comment: ReviewComment,
        fingerprint: str,
        had_votes: bool,
        permissions: Permissions,
        stats: CollectStats,
    ) -> None:
        if comment.thumbs == (0, 0) and not had_votes:
            return  # the summary says nobody voted, and nobody had: nothing to read or to clear
        reactions: list[Reaction] = []
        if comment.thumbs != (0, 0):
            reactions = self.client.review_comment_reactions(slug, comment.id, limit=self.limits.reactions_per_comment)
            stats.reaction_reads += 1
        votes: list[Vote] = []
        for r in reactions:
            value = THUMBS.get(r.content)
            if value is None or not valid_login(r.login):
                stats.ignored_other += 1
            elif is_bot(r.login, r.user_type, self.bot_login):
                stats.ignored_bots += 1
            else:
                allowed = permissions.allowed(r.login)
                if allowed is None:
                    stats.ignored_unchecked += 1
                elif not allowed:
                    stats.ignored_not_allowed += 1
                else:
                    votes.append(Vote(r.login, value, "reaction"))
        if self.store.set_votes(pull, fingerprint, "reaction", votes):
            stats.votes += len(votes)


def _unreadable(exc: Any) -> bool:
    """A pull request or comment that is gone (404, 410) or that GitHub will not show us (a 403
    that is no rate limit): skipped, where a rate limit or a 5xx stops the run."""
    if exc.status in (404, 410):
        return True
    return exc.status == 403 and exc.retry_after is None and exc.reset_at is None


def record_resolution(
    store: FeedbackStore,
    *,
    pull: int,
    fingerprints: Sequence[str],
    resolved: bool,
    sender: str,
    permission: Callable[[str], str],
    bot_login: str,
) -> str:
    """Record that ``sender`` resolved (or unresolved) the thread of a doppel comment; returns an
    outcome word: ``recorded``, ``own`` (the bot), ``not_allowed``, ``unknown`` (no remembered
    finding) or ``invalid``. Unresolving takes the resolution back whoever does it (it only ever
    removes a positive); resolving counts only for people with write access."""
    try:
        checked = [check_fingerprint(fp) for fp in fingerprints[:4]]
        check_pull(pull)
    except FeedbackInputError:
        return "invalid"
    if not checked or not valid_login(sender):
        return "invalid"
    if is_bot(sender, "", bot_login):
        return "own"
    known = {p.fingerprint for p in store.published(pull)}
    checked = [fp for fp in checked if fp in known]
    if not checked:
        return "unknown"  # asked nothing of GitHub: no finding of doppel's remembered there
    if resolved and permission(sender).lower() not in WRITE_PERMISSIONS:
        return "not_allowed"
    votes = [Vote(sender, 1, "resolved")] if resolved else []
    for fp in checked:
        store.set_votes(pull, fp, "resolved", votes)
    return "recorded"


# --- 3. learning --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NegativePair:
    """A pair a reviewer said is *not* a duplicate: the changed function (``query``) must not be
    pulled towards the matched one (``code``). Keys and hashes are the functions' own, so a batch
    can keep them apart from the pairs they would contradict."""

    language: str
    query: str
    query_key: str
    query_hash: str
    code: str
    code_key: str
    code_hash: str
    fingerprint: str


@dataclass(frozen=True)
class TrainingFeedback:
    """What the next training learns from the repository's reviewers."""

    positives: tuple[TrainingPair, ...] = ()
    negatives: tuple[NegativePair, ...] = ()
    pairs: tuple[FeedbackPair, ...] = ()

    def of_language(self, languages: Collection[str]) -> TrainingFeedback:
        return TrainingFeedback(
            tuple(p for p in self.positives if p.language in languages),
            tuple(n for n in self.negatives if n.language in languages),
            tuple(p for p in self.pairs if p.pair.target.language in languages),
        )

    def statistics(self) -> dict[str, int]:
        return {"feedback/positive": len(self.positives), "feedback/negative": len(self.negatives)}


def training_feedback(labelled: Sequence[FeedbackPair]) -> TrainingFeedback:
    """The labelled pairs as training data. Pure. A positive is a code→code training pair (the
    changed function as the query, the matched one as the code, tagged ``feedback``, always in
    the training split); a negative is a ``NegativePair``. Pairs across languages are left out:
    the adapters are per language."""
    from embedding.training.pairs import TrainingPair

    positives: list[TrainingPair] = []
    negatives: list[NegativePair] = []
    kept: list[FeedbackPair] = []
    for item in labelled:
        fn, target = item.pair.function, item.pair.target
        if fn.language != target.language or not fn.code.strip() or not target.code.strip():
            continue
        kept.append(item)
        if item.positive:
            positives.append(
                TrainingPair(
                    "code2code",
                    FEEDBACK_SOURCE,
                    target.language,
                    target.path,
                    target.key,
                    fn.code,
                    target.code,
                    target.body_hash,
                    split="train",
                )  # fmt: skip
            )
        else:
            negatives.append(
                NegativePair(
                    target.language,
                    fn.code,
                    fn.key,
                    fn.body_hash,
                    target.code,
                    target.key,
                    target.body_hash,
                    item.pair.fingerprint,
                )  # fmt: skip
            )
    return TrainingFeedback(tuple(positives), tuple(negatives), tuple(kept))


def negative_functions(feedback: TrainingFeedback) -> list[CodeFunction]:
    """Each 👎'd pair's changed function, placed in its match's file: hard-negative candidates for
    the match's training pairs (same-file and nearest-neighbour mining both offer it there)."""
    out: list[CodeFunction] = []
    seen: set[tuple[str, str]] = set()
    for n in feedback.negatives:
        path = n.code_key.split("::", 1)[0]
        name = n.query_key.split("::", 1)[-1]
        if (path, n.query_hash) in seen:
            continue
        seen.add((path, n.query_hash))
        lines = n.query.count("\n") + 1
        out.append(CodeFunction(n.language, path, f"feedback.{name}", 1, lines, "", n.query, None, n.query_hash))
    return out


def extra_pairs(feedback: TrainingFeedback) -> ExtraPairs:
    """The retrain's ``ExtraPairs`` from reviewers' labels: 👍/resolved pairs as training pairs,
    👎'd functions as hard negatives, and every labelled pair scored with the fitted adapter's
    vectors for the verdict refit."""
    from workers.services.retrain import ExtraPairs

    def score(embed: Callable[[Sequence[str]], np.ndarray], languages: Sequence[str]) -> list[LabelledPair]:
        return verdict_pairs(feedback, embed, languages=languages)

    return ExtraPairs(training=feedback.positives, negatives=negative_functions(feedback), score=score)


def verdict_pairs(
    feedback: TrainingFeedback, embed: Callable[[Sequence[str]], np.ndarray], *, languages: Collection[str]
) -> list[LabelledPair]:
    """The labelled pairs for the verdict refit, scored with ``embed`` (the vectors of the adapter
    being fitted, as a review would score them): a 👍 or resolved pair is a copy, a 👎 pair is not.
    Each negative is its own unit (its changed function), so a false alarm counts once."""
    from embedding.lexical import normalize
    from embedding.verdict import signals_of
    from embedding.verdict_fit import LabelledPair

    chosen = [p for p in feedback.pairs if p.pair.target.language in languages]
    if not chosen:
        return []
    vectors = embed([t for p in chosen for t in (p.pair.function.code, p.pair.target.code)])  # (2N, D)
    out: list[LabelledPair] = []
    for i, item in enumerate(chosen):
        fn, target = item.pair.function, item.pair.target
        cosine = float(vectors[2 * i] @ vectors[2 * i + 1])
        first, second = normalize(fn.language, fn.code), normalize(target.language, target.code)
        signals = signals_of(cosine, first, second, fn.qualified_name, target.qualified_name)
        out.append(
            LabelledPair(
                signals,
                item.positive,
                f"feedback:{item.reason}",
                identical=fn.body_hash == target.body_hash,
                unit="" if item.positive else f"feedback|{fn.key}",
            )
        )
    return out


# --- wiring: what the jobs call -----------------------------------------------------------------
def open_repo_store(settings: Settings, repo: RepoRef) -> FeedbackStore:
    """The repository's store under ``settings.data_dir``, with the settings' caps."""
    from workers.services.feedback_store import open_store

    return open_store(settings.data_dir, repo, store_limits(settings))


def feedback_counts(settings: Settings, repo: RepoRef) -> FeedbackCounts | None:
    """How many labelled pairs the repository has (for ``/similar config``): zeros when it has no
    store yet (none is created for asking), ``None`` when its store cannot be read."""
    from workers.services.feedback_store import store_path

    if not store_path(settings.data_dir, repo).exists():
        return FeedbackCounts()
    try:
        store = open_repo_store(settings, repo)
        try:
            return store.counts()
        finally:
            store.close()
    except (OSError, sqlite3.Error, FeedbackInputError) as exc:
        log.warning("feedback.store_unreadable repo=%s: %s", repo.slug, exc)
        return None


def prepare_feedback(
    settings: Settings, repo: RepoRef, client: FeedbackClient | None, *, clock: Callable[[], float] = time.time
) -> TrainingFeedback:
    """The collection step of a training run: poll the reactions (with ``client``; ``None``: no
    GitHub, e.g. ``doppel train`` on a checkout) into the repository's store, then read back its
    labelled pairs as training data. A collection GitHub refuses or fails is logged and the
    training goes on with the labels already stored."""
    from core.errors import DoppelError

    store = open_repo_store(settings, repo)
    try:
        if client is not None:
            collector = FeedbackCollector(
                client, store, bot_login=settings.bot_login, limits=CollectLimits.from_settings(settings), clock=clock
            )
            try:
                collector.collect(repo.slug)
            except DoppelError as exc:
                log.warning("feedback.collect_failed repo=%s: %s", repo.slug, exc)
        feedback = training_feedback(store.labelled())
    finally:
        store.close()
    log.info("feedback.for_training repo=%s %s", repo.slug, feedback.statistics())
    return feedback


class FeedbackRuntime(Protocol):
    """What the feedback job needs of the workers' runtime (``Runtime`` provides it)."""

    settings: Settings

    def github(self, installation_id: int | None) -> Any: ...


def record_thread_feedback(rt: FeedbackRuntime, job: ThreadFeedbackJob) -> str:
    """The ``pull_request_review_thread`` job: record a resolution of one of doppel's threads in
    the repository's store (``record_resolution``); returns the outcome word. Its fields came from
    a webhook: a malformed one is an outcome (``invalid``), never an exception."""
    if not isinstance(job.sender, str) or not isinstance(job.resolved, bool):
        return "invalid"
    github = rt.github(job.installation_id)
    store = open_repo_store(rt.settings, job.ref)
    try:
        outcome = record_resolution(
            store,
            pull=job.pr_number,
            fingerprints=[str(fp) for fp in job.fingerprints],
            resolved=job.resolved,
            sender=job.sender,
            permission=lambda login: github.permission(job.repo, login),
            bot_login=rt.settings.bot_login,
        )
    finally:
        store.close()
    log.info("feedback.thread_%s repo=%s pr=%s resolved=%s", outcome, job.repo, job.pr_number, job.resolved)
    return outcome
