"""One review plan per job: everything that decides what a review (or an index run) does, resolved once.

A job resolves its ``ReviewPlan`` at its start from three things and hands it down; nothing below
reads settings or the repository's configuration on its own:

* ``Settings``, the process's defaults;
* the repository's ``.github/doppel.yml`` (``workers.services.repo_config``): read from the default
  branch by the bot, from the base commit by the Action, from the base commit (or ``--config
  FILE``) by the CLI; a file that does not parse leaves the defaults in force and the plan says
  what was wrong (``problem``), so that ``/similar config`` and the summary can tell the user;
* the adapter registry's pointer for the repository (``embedding.registry.Pointer``): which
  adapters, and the collection built with them, the job uses.

The plan carries the job's copy of the settings (``settings``: the process settings with the
file's languages, ignore globs, strictness and thresholds applied), the extraction options made
from it (so that ignored files are never read), the verdict per vector space, the caps (inline
comments, functions per review, files laid over the index) and the events that start a review.
It is plain, frozen data: the same inputs give the same plan in the bot, the Action and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, GitError
from core.settings import Settings
from embedding.extract.options import ExtractOptions
from embedding.extract.skip import skip_reason
from embedding.languages import LANGUAGES
from embedding.registry import Pointer
from workers.services.repo_config import (
    CONFIG_PATH,
    DEFAULT_MAX_COMMENTS,
    MAX_CONFIG_BYTES,
    RepoConfig,
    parse_repo_config,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from embedding.source import GitSource
    from embedding.verdict import Verdict

_MAX_PROBLEM_CHARS = 500  # a problem is quoted in comments: never a huge value


@dataclass(frozen=True)
class ConfigFile:
    """The text of a ``.github/doppel.yml`` (``None``: there is none) and where it was read, for messages."""

    text: str | bytes | None
    where: str = CONFIG_PATH


@dataclass(frozen=True)
class ReviewPlan:
    """What one job does, decided once at its start (see the module docstring)."""

    settings: Settings  # the job's copy; the process settings are never changed
    config: RepoConfig  # what the file said (the defaults when there was none, or it was bad)
    max_comments: int  # inline comments per pull request at most
    max_functions: int  # changed functions reviewed at most; the rest are counted
    max_overlay_files: int  # files laid over the index from the base at most
    pointer: Pointer = field(default_factory=Pointer)
    problem: str | None = None  # why the file was not used, when it was bad

    # --- what is scanned -------------------------------------------------------------------------
    @property
    def extract_options(self) -> ExtractOptions:
        return ExtractOptions.from_settings(self.settings)

    @property
    def languages(self) -> tuple[str, ...] | None:
        return self.settings.languages

    @property
    def exclude_globs(self) -> tuple[str, ...]:
        return tuple(self.settings.exclude_globs)

    def skips(self, path: str) -> str | None:
        """Why ``path`` is never read under this plan (ignored, excluded, another language), or ``None``."""
        return skip_reason(path, self.extract_options)

    # --- the verdict ------------------------------------------------------------------------------
    @property
    def strictness(self) -> str:
        return str(self.settings.strictness)

    @property
    def top_k(self) -> int:
        return self.settings.top_k

    @property
    def search_depth(self) -> int:
        """Neighbours a search fetches by cosine: the nearest ``top_k`` are judged, deeper lexical near-copies too."""
        return max(self.settings.search_depth, self.top_k)

    def verdict(self, adapter_name: str | None = None, metadata: Mapping[str, Any] | None = None) -> Verdict:
        """The verdict for the vectors of ``adapter_name`` (its calibration, if any) under this plan's
        strictness and thresholds."""
        from embedding.verdict import verdict_for

        return verdict_for(self.settings, adapter_name, metadata)

    # --- when ------------------------------------------------------------------------------------
    @property
    def events(self) -> tuple[str, ...]:
        return self.config.events

    def triggers_on(self, action: str | None) -> bool:
        """Whether a pull request event ``action`` starts a review. ``None`` (the reconciler, a
        re-queued pending head) reviews unless the repository switched every event off."""
        if action is None:
            return bool(self.config.events)
        return self.config.triggers_on(action)

    @property
    def source(self) -> str:
        """Where the configuration came from (a file, or ``defaults``)."""
        return self.config.source

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON (``doppel review --format json``, logs): the values, not the settings object."""
        verdict = self.verdict()
        return {
            "source": self.source,
            "problem": self.problem,
            "languages": list(self.languages) if self.languages is not None else None,
            "ignore": list(self.config.ignore),
            "ignore_tests": self.config.ignore_tests,
            "strictness": self.strictness,
            "duplicate_threshold": verdict.duplicate,
            "related_threshold": verdict.related,
            "top_k": self.top_k,
            "search_depth": self.search_depth,
            "max_comments": self.max_comments,
            "max_functions": self.max_functions,
            "max_overlay_files": self.max_overlay_files,
            "events": list(self.events),
            "adapters": dict(sorted(self.pointer.adapters.items())),
            "collection": self.pointer.collection,
        }


def plan_from_config(
    settings: Settings, config: RepoConfig, *, pointer: Pointer | None = None, problem: str | None = None
) -> ReviewPlan:
    """The plan for ``config`` (already parsed) on top of ``settings``."""
    job = config.apply(settings)
    max_comments = config.max_comments
    if config.max_comments == DEFAULT_MAX_COMMENTS and "max_comments" not in config.given:
        max_comments = settings.max_inline_comments  # the file left it: the deployment's choice
    return ReviewPlan(
        settings=job,
        config=config,
        max_comments=max_comments,
        max_functions=settings.review_max_functions,
        max_overlay_files=settings.review_max_overlay_files,
        pointer=pointer or Pointer(),
        problem=problem,
    )


def resolve_plan(settings: Settings, config: ConfigFile | None = None, *, pointer: Pointer | None = None) -> ReviewPlan:
    """The plan for a job: ``settings``, the repository's file (parsed here) and the adapter pointer.

    A file that cannot be used (bad YAML, an unknown key, a bad value, too large) gives the
    defaults, with ``problem`` saying what is wrong; it never stops the job.
    """
    if config is None or config.text is None:
        return plan_from_config(settings, RepoConfig(), pointer=pointer)
    try:  # the reader bounds size, aliases and nesting itself
        parsed = parse_repo_config(config.text, source=config.where, known_languages=tuple(sorted(LANGUAGES)))
    except ConfigError as exc:
        problem = str(exc)
        if len(problem) > _MAX_PROBLEM_CHARS:
            problem = problem[: _MAX_PROBLEM_CHARS - 1] + "…"
        return plan_from_config(settings, RepoConfig(source="defaults"), pointer=pointer, problem=problem)
    return plan_from_config(settings, parsed, pointer=pointer)


# --- where the file comes from ----------------------------------------------------------------------
def config_at(source: GitSource, commit: str, *, label: str | None = None) -> ConfigFile:
    """``.github/doppel.yml`` as committed at ``commit`` (the Action's base, the CLI's base, an index job's commit)."""
    where = f"{label or commit[:12]}:{CONFIG_PATH}"
    try:
        return ConfigFile(source.read(commit, CONFIG_PATH), where)
    except GitError:
        return ConfigFile(None, where)


def config_from_path(path: Path) -> ConfigFile:
    """A configuration file named on the command line (``doppel review --config FILE``)."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"--config {path}: {size:,} bytes is larger than the {MAX_CONFIG_BYTES:,} bytes allowed")
        return ConfigFile(path.read_bytes(), str(path))
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from exc


def pointer_of(settings: Settings, repo: Any) -> Pointer:
    """The adapter registry's pointer for ``repo`` (an empty one when it has no promoted adapters)."""
    from embedding.registry import AdapterRegistry

    return AdapterRegistry(settings.adapter_registry_root).pointer(repo)
