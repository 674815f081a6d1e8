"""The production ``Runtime``: GitHub through ``github_adapter``, clones in a ``RepoCache``, the
embedding services from ``workers.services.wiring``, Redis for coalescing and bookkeeping.

Heavy pieces (the encoder, the index) are built on first use, once per worker process, and kept:
an embedded (Edge) index shard is locked to the one process that opened it. Index writes take a
per-collection lease in Redis (``RedisIndexLock``): one writer per repository, however many
workers there are. Reviews and searches only read the index.
"""

from __future__ import annotations

import functools
import logging
import shutil
import threading
from typing import TYPE_CHECKING, Any

import redis

from core.commands import Command
from core.domain import PullRef, RepoRef
from core.errors import GitError
from core.settings import Settings
from github_adapter.auth import GitHubConfig
from github_adapter.client import GitHubAccess, GitHubClient, PullInfo
from workers.jobs import IndexJob, RepoJob
from workers.services.coalesce import PullCoalescer
from workers.services.index_lock import RedisIndexLock
from workers.services.repo_registry import RepoRegistry

if TYPE_CHECKING:
    from celery import Celery

    from embedding.registry import Pointer
    from embedding.source import GitSource
    from workers.services.plan import ReviewPlan
    from workers.services.review import ReviewResult
    from workers.services.wiring import EmbeddingServices

log = logging.getLogger(__name__)

ALL_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"
MAX_REPO_ENCODERS = 4  # repositories with their own adapters whose encoders stay loaded per process


def pull_refspec(number: int) -> str:
    """The ref GitHub keeps for a pull request's head, fetched as it is (forks included)."""
    return f"+refs/pull/{number}/head:refs/pull/{number}/head"


class GitHubAdapter:
    """``GitHubPort`` for one installation over ``GitHubClient`` and ``PublishService``."""

    def __init__(self, client: GitHubClient, installation_id: int | None, settings: Settings) -> None:
        from github_adapter.publish import PublishService

        self.client = client
        self.installation_id = installation_id
        self.settings = settings
        self.publisher = PublishService(client, bot_login=settings.bot_login, max_comments=settings.max_inline_comments)

    def pull(self, repo: str, number: int) -> PullInfo:
        return self.client.pull(repo, number)

    def open_pulls(self, repo: str) -> list[PullInfo]:
        return list(self.client.open_pulls(repo))

    def has_review(self, repo: str, number: int, head_sha: str) -> bool:
        return self.publisher.has_review(repo, number, head_sha)

    def publish_review(self, repo: str, number: int, result: ReviewResult) -> None:
        """Publish under the plan the review ran with (its comment cap); ignored files were never
        reviewed, so there is nothing to filter here."""
        from github_adapter.publish import PublishService

        publisher = self.publisher
        if result.plan is not None:
            publisher = PublishService(
                self.client, bot_login=publisher.bot_login, max_comments=result.plan.max_comments
            )
        pull = PullRef(RepoRef(repo, self.installation_id), number, result.head, result.base)
        outcome = publisher.publish(result, pull)
        log.info("review.published repo=%s pr=%d status=%s", repo, number, outcome.status)
        if outcome.status == "published":  # the pairs behind the inline comments, for 👍/👎 later
            from workers.services.feedback import remember_publication

            remember_publication(self.settings, result, number, [*outcome.posted, *outcome.kept])

    def config_file(self, repo: str) -> tuple[str | None, str]:
        """``.github/doppel.yml`` on the default branch (never the pull request's) and where it was read."""
        from workers.services.repo_config import CONFIG_PATH

        branch = self.client.default_branch(repo)
        return self.client.file_text(repo, CONFIG_PATH, branch), f"{repo}@{branch}:{CONFIG_PATH}"

    def permission(self, repo: str, login: str) -> str:
        return self.client.permission(repo, login)

    def is_review_comment(self, repo: str, number: int, comment_id: int) -> bool:
        return any(c.id == comment_id for c in self.client.review_comments(repo, number))

    def react(self, repo: str, comment_id: int, content: str, *, review_comment: bool) -> None:
        if review_comment:
            self.client.add_review_comment_reaction(repo, comment_id, content)
        else:
            self.client.add_reaction(repo, comment_id, content)

    def reply(self, repo: str, number: int, comment_id: int, body: str, *, review_comment: bool) -> None:
        if review_comment:
            self.client.reply_to_review_comment(repo, number, comment_id, body)
        else:
            self.client.create_issue_comment(repo, number, body)


class ProductionRuntime:
    """The workers' collaborators, built from one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        from github_adapter.clone import RepoCache

        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.coalescer = PullCoalescer(self.redis, lock_seconds=settings.review_lock_seconds)
        self.registry = RepoRegistry(self.redis)
        self.index_lock = RedisIndexLock(self.redis, ttl_seconds=settings.index_lock_seconds)
        self.access = GitHubAccess(GitHubConfig.from_settings(settings))
        self.clones = RepoCache(settings.repos_dir or settings.data_dir / "repos", web_url=self.access.config.web)
        self._services: EmbeddingServices | None = None
        # Per-repository services for repositories with promoted adapters: (pointer.switched, services).
        self._repo_services: dict[str, tuple[str | None, EmbeddingServices]] = {}
        self._producer: Celery | None = None
        self._lock = threading.Lock()

    # --- collaborators -------------------------------------------------------------------------
    def github(self, installation_id: int | None) -> GitHubAdapter:
        return GitHubAdapter(self.access.client(installation_id), installation_id, self.settings)

    @property
    def services(self) -> EmbeddingServices:
        with self._lock:
            if self._services is None:
                from workers.services.wiring import build_services

                self._services = build_services(self.settings, progress=False, lock=self.index_lock)
            return self._services

    def services_for(self, repo: RepoRef, pointer: Pointer | None = None) -> EmbeddingServices:
        """The services for ``repo``: its own adapters and collection when the registry's pointer
        (the job plan's, when given) names some (never another repository's), else the shared
        ones. Rebuilt when the pointer switches; they share the one index this process holds."""
        from embedding.generation import Generations
        from workers.services.wiring import build_services

        if pointer is None:
            pointer = Generations.from_settings(self.settings).current(repo).pointer
        if not pointer.adapters:
            return self.services
        shared = self.services
        key = repo.collection_name
        with self._lock:
            cached = self._repo_services.get(key)
            if cached is not None and cached[0] == pointer.switched:
                return cached[1]
            built = build_services(
                self.settings, progress=False, repo=repo, index=shared.index, pointer=pointer, lock=self.index_lock
            )
            self._repo_services.pop(key, None)
            while len(self._repo_services) >= MAX_REPO_ENCODERS:
                self._repo_services.pop(next(iter(self._repo_services)))  # the oldest built
            self._repo_services[key] = (built.pointer.switched if built.pointer else None, built)
            return built

    def _source(self, repo: RepoRef, refspecs: list[str]) -> GitSource:
        from embedding.source import GitSource

        path = self.clones.sync(
            repo.slug,
            token=self.access.token(repo.installation_id),
            refspecs=refspecs,
            installation_id=repo.installation_id,
        )
        return GitSource(path)

    # --- the work -------------------------------------------------------------------------------
    def plan(self, repo: RepoRef) -> ReviewPlan:
        from workers.services.plan import ConfigFile, pointer_of, resolve_plan

        text, where = self.github(repo.installation_id).config_file(repo.slug)
        return resolve_plan(self.settings, ConfigFile(text, where), pointer=pointer_of(self.settings, repo))

    def review(self, repo: RepoRef, *, pr_number: int, base: str, head: str, plan: ReviewPlan) -> ReviewResult:
        services = self.services_for(repo, plan.pointer)
        source = self._reader_source(repo, services, [pull_refspec(pr_number), base])
        result = services.reviewer.review(source, repo, base, head, plan=plan)
        if result.needs_index:
            self.request_index(repo)
        return result

    def similar(
        self, repo: RepoRef, *, pr_number: int, head: str, base: str, command: Command, plan: ReviewPlan
    ) -> str:
        from workers.services.pull_review import similar_answer

        services = self.services_for(repo, plan.pointer)
        source = self._reader_source(repo, services, [pull_refspec(pr_number), base])
        return similar_answer(
            services.reviewer, source, repo, command, head=head, base=base, plan=plan, web_url=self.access.config.web
        )

    def _reader_source(self, repo: RepoRef, services: EmbeddingServices, refspecs: list[str]) -> GitSource:
        """A clone with ``refspecs`` and the commits the index holds (to diff the base against);
        when GitHub no longer has one of those, the view treats the index as unusable."""
        source = self._source(repo, refspecs)
        missing = []
        for sha in services.indexer.referenced_commits(repo):
            try:
                source.resolve(sha)
            except GitError:
                missing.append(sha)
        if missing:
            try:
                source = self._source(repo, missing)
            except GitError as exc:
                log.warning("review.indexed_commit_unavailable repo=%s: %s", repo.slug, exc)
        return source

    def request_index(self, repo: RepoRef) -> None:
        """Queue one index job for ``repo`` (a burst of reviews of an unindexed repository asks once)."""
        if self.registry.claim_index_request(repo):
            log.info("index.requested repo=%s", repo.slug)
            self.enqueue(IndexJob.for_repo(repo))

    def index(self, repo: RepoRef, *, commit: str | None) -> dict[str, Any]:
        from workers.services.plan import config_at, pointer_of, resolve_plan

        source = self._source(repo, [ALL_BRANCHES])
        branch = self.github(repo.installation_id).client.default_branch(repo.slug)
        # The index holds the default branch's head: a push's commit is only a hint, so that a
        # job delayed behind a newer one never moves the index back.
        head = source.resolve(f"refs/remotes/origin/{branch}")
        if commit and commit != head:
            log.info("index.head_moved repo=%s pushed=%s head=%s", repo.slug, commit[:12], head[:12])
        where = f"{repo.slug}@{branch}"
        pointer = pointer_of(self.settings, repo)
        plan = resolve_plan(self.settings, config_at(source, head, label=where), pointer=pointer)
        if plan.problem:
            log.warning("index.bad_repo_config repo=%s: %s", repo.slug, plan.problem)
        stats = self.services_for(repo, plan.pointer).indexer.update(source, repo, head, plan=plan)
        result: dict[str, Any] = stats.to_dict()
        return result

    def drop(self, repo: RepoRef) -> None:
        from embedding.generation import Generations

        # Every collection it owns (base and adapter generations) and its adapters.
        dropped = Generations.from_settings(self.settings).drop_repository(repo, self.services.index)
        log.info("repository.collections_dropped repo=%s collections=%s", repo.slug, ",".join(dropped))
        with self._lock:
            self._repo_services.pop(repo.collection_name, None)
        shutil.rmtree(self.clones.path_for(repo.slug, repo.installation_id), ignore_errors=True)
        from workers.services.feedback_store import drop_store

        drop_store(self.settings.data_dir, repo)  # its reviewers' feedback goes with it

    def retrain(self, repo: RepoRef) -> dict[str, Any]:
        from embedding.encoder import Encoder
        from embedding.registry import AdapterRegistry
        from embedding.training.config import TrainConfig
        from workers.services.retrain import IndexReindexer, RetrainService

        source = self._source(repo, [ALL_BRANCHES])
        branch = self.github(repo.installation_id).client.default_branch(repo.slug)
        commit = source.resolve(f"refs/remotes/origin/{branch}")
        # Train on the bare base model: adapters in DOPPEL_ADAPTER_DIR belong to no repository.
        base_settings = self.settings.model_copy(update={"adapter_dir": None})
        service = RetrainService(
            TrainConfig.from_settings(self.settings),
            encoder_factory=functools.partial(Encoder.from_settings, base_settings),
            registry=AdapterRegistry(self.settings.adapter_registry_root),
            reindexer=IndexReindexer(self.settings, self.services.index, source, commit),
        )
        root = self.clones.path_for(repo.slug, repo.installation_id)
        from workers.services.feedback import extra_pairs, prepare_feedback

        # The collection step: reviewers' 👍/👎 polled now, their labels in this run's data.
        feedback = prepare_feedback(self.settings, repo, self.access.client(repo.installation_id))
        report = service.run(root, repo, commit=commit, extra=extra_pairs(feedback))
        result: dict[str, Any] = report.to_dict()
        return result

    def enqueue(self, job: RepoJob) -> None:
        with self._lock:
            if self._producer is None:
                from workers.celery_app import create_celery

                self._producer = create_celery(self.settings, include_tasks=False)
        self._producer.send_task(job.task, kwargs=job.to_kwargs())


def build_runtime(settings: Settings) -> ProductionRuntime:
    """``DOPPEL_WORKER_RUNTIME``'s default: the production wiring."""
    return ProductionRuntime(settings)
