"""The production ``Runtime``: GitHub through ``bot.github`` (F2), clones in a ``RepoCache``, the
embedding services from ``workers.services.wiring``, Redis for coalescing and bookkeeping.

Heavy pieces (the encoder, the index, git) are built on first use, once per worker process.
"""

from __future__ import annotations

import functools
import shutil
import threading
from typing import TYPE_CHECKING, Any

import redis

from bot.commands import Command, CommandKind
from core.domain import PullRef, RepoRef
from core.settings import Settings, get_settings
from workers.services.coalesce import PullCoalescer
from workers.tasks.registry import RepoRegistry

if TYPE_CHECKING:
    from bot.github.client import GitHubClient
    from workers.services.wiring import EmbeddingServices


class _GitHubAdapter:
    """``GitHubPort`` over F2's ``GitHubClient`` and ``PublishService``."""

    def __init__(self, client: GitHubClient, settings: Settings) -> None:
        from workers.services.publish import PublishService

        self.client = client
        self.installation_id: int | None = None
        self.publisher = PublishService(
            client, bot_login=settings.bot_login, max_comments=settings.max_inline_comments
        )

    def pull(self, repo: str, number: int) -> Any:
        return self.client.pull(repo, number)

    def open_pulls(self, repo: str) -> list[Any]:
        return list(self.client.open_pulls(repo))

    def has_review(self, repo: str, number: int, head_sha: str) -> bool:
        return self.publisher.has_review(repo, number, head_sha)

    def publish_review(self, repo: str, number: int, result: Any) -> None:
        pull = PullRef(RepoRef(repo, self.installation_id), number, result.head, result.base)
        self.publisher.publish(result, pull)

    def reply(self, repo: str, number: int, comment_id: int, body: str) -> None:
        self.client.create_issue_comment(repo, number, body)


class ProductionRuntime:
    def __init__(self, settings: Settings, core: Settings) -> None:
        from bot.github.auth import GitHubConfig, token_provider
        from bot.github.clone import RepoCache

        self.settings = settings
        self.core = core
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.coalescer = PullCoalescer(self.redis, lock_seconds=settings.review_lock_seconds)
        self.registry = RepoRegistry(self.redis)
        self.github_config = GitHubConfig.from_settings(settings)
        self.tokens = token_provider(self.github_config)
        self.clones = RepoCache(settings.repos_dir or core.data_dir / "repos", web_url=self.github_config.web)
        self._services: EmbeddingServices | None = None
        self._lock = threading.Lock()

    # --- collaborators -------------------------------------------------------------------------
    def github(self, installation_id: int | None) -> _GitHubAdapter:
        from bot.github.client import GitHubClient

        client = GitHubClient.connect(self.tokens.token(installation_id), api_url=self.github_config.api_url)
        adapter = _GitHubAdapter(client, self.settings)
        adapter.installation_id = installation_id
        return adapter

    @property
    def services(self) -> EmbeddingServices:
        with self._lock:
            if self._services is None:
                from workers.services.wiring import build_services

                self._services = build_services(self.core, progress=False)
            return self._services

    def _source(self, repo: RepoRef, refspecs: list[str]) -> Any:
        from embedding.source import GitSource

        path = self.clones.sync(
            repo.slug,
            token=self.tokens.token(repo.installation_id),
            refspecs=refspecs,
            installation_id=repo.installation_id,
        )
        return GitSource(path)

    # --- the work -------------------------------------------------------------------------------
    def review(self, repo: RepoRef, *, pr_number: int, base: str, head: str) -> Any:
        source = self._source(repo, [f"+refs/pull/{pr_number}/head:refs/pull/{pr_number}/head", base])
        return self.services.reviewer.review(source, repo, base, head)

    def similar(self, repo: RepoRef, *, pr_number: int, head: str, command: Command) -> str:
        from bot.github.render import render_similar

        source = self._source(repo, [f"+refs/pull/{pr_number}/head:refs/pull/{pr_number}/head"])
        reviewer = self.services.reviewer
        if command.kind is CommandKind.QUERY:
            matches, subject = reviewer.similar(source, repo, query=command.query, commit=head), f'"{command.query}"'
        elif command.kind is CommandKind.AT:
            assert command.path is not None and command.line is not None
            at = (command.path, command.line)
            matches, subject = reviewer.similar(source, repo, at=at, commit=head), f"`{command.path}:{command.line}`"
        elif command.kind is CommandKind.FUNCTION:
            matches = reviewer.similar(source, repo, function=command.function, commit=head)
            subject = f"`{command.function}`"
        else:  # CHANGED: the review is the answer for the changed functions
            return "The review summary on this pull request lists what its changed functions resemble."
        return render_similar(matches, web_url=self.github_config.web, slug=repo.slug, commit=head, subject=subject)

    def config_text(self, repo: RepoRef) -> str:
        c = self.core
        return (
            f"doppel settings for `{repo.slug}`:\n\n"
            f"- base model: `{c.base_model}`; adapters: `{c.adapter_dir or 'none'}`\n"
            f"- thresholds: duplicate {c.duplicate_threshold}, related {c.related_threshold}, "
            f"lexical weight {c.lexical_weight}, top-k {c.top_k}\n"
            f"- drafts reviewed: {self.settings.review_drafts}"
        )

    def index(self, repo: RepoRef, *, commit: str | None) -> dict[str, Any]:
        source = self._source(repo, ["+refs/heads/*:refs/remotes/origin/*"])
        if commit is None:
            branch = self.github(repo.installation_id).client.default_branch(repo.slug)
            commit = source.resolve(f"refs/remotes/origin/{branch}")
        stats = self.services.indexer.update(source, repo, commit)
        return stats.to_dict()

    def drop(self, repo: RepoRef) -> None:
        index = self.services.index
        for name in index.list_collections():
            if name == repo.collection_name or name.startswith(repo.collection_name + "__"):
                index.drop_collection(name)
        shutil.rmtree(self.core.data_dir / "adapters" / repo.collection_name, ignore_errors=True)
        shutil.rmtree(self.clones.path_for(repo.slug, repo.installation_id), ignore_errors=True)

    def retrain(self, repo: RepoRef) -> dict[str, Any]:
        from embedding.encoder import Encoder
        from embedding.registry import AdapterRegistry
        from embedding.training.config import TrainConfig
        from workers.services.retrain import RetrainService

        source = self._source(repo, ["+refs/heads/*:refs/remotes/origin/*"])
        branch = self.github(repo.installation_id).client.default_branch(repo.slug)
        commit = source.resolve(f"refs/remotes/origin/{branch}")
        service = RetrainService(
            TrainConfig(),
            encoder_factory=functools.partial(Encoder.from_settings, self.core),
            registry=AdapterRegistry(self.core.data_dir / "adapters"),
        )
        root = self.clones.path_for(repo.slug, repo.installation_id)
        report = service.run(root, repo, commit=commit)
        result: dict[str, Any] = report.to_dict()
        return result

    def enqueue(self, task: str, kwargs: dict[str, Any]) -> None:
        from workers.celery_app import app

        app.send_task(task, kwargs=kwargs)


def build_runtime(settings: Settings) -> ProductionRuntime:
    return ProductionRuntime(settings, get_settings())
