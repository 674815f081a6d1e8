"""Per-repository settings from ``.github/doppel.yml`` on the default branch.

The file is read from the repository's default branch, never from the pull request's branch, so
that a pull request cannot switch the bot off or loosen it for itself. A missing file means the
defaults. The config is built per job and applied to a copy of the process settings
(``RepoConfig.apply``); nothing global changes. Example::

    languages: [python, go]
    ignore: ["docs/**", "scripts/*.py"]
    ignore_tests: true
    strictness: strict            # strict | normal | lenient, or explicit thresholds:
    thresholds: {duplicate: 0.92, related: 0.82}
    max_comments: 10
    events: [opened, synchronize, reopened, ready_for_review]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from core.errors import ConfigError
from core.settings import DEFAULT_EXCLUDE_GLOBS, Settings
from embedding.extract.globs import first_match
from embedding.verdict import STRICTNESS_OFFSETS, verdict_for

log = logging.getLogger(__name__)

CONFIG_PATH = ".github/doppel.yml"

PULL_REQUEST_EVENTS = ("opened", "synchronize", "reopened", "ready_for_review")
DEFAULT_EVENTS = ("opened", "synchronize", "reopened", "ready_for_review")
DEFAULT_MAX_COMMENTS = 20
MAX_COMMENTS_LIMIT = 100
TEST_GLOBS: tuple[str, ...] = (
    "**/test/**",
    "**/tests/**",
    "**/__tests__/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/*_test.go",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*Test.java",
    "**/*Tests.cs",
    "**/*_spec.rb",
)
_KNOWN_KEYS = ("languages", "ignore", "ignore_tests", "strictness", "thresholds", "max_comments", "events")


@dataclass(frozen=True)
class RepoConfig:
    """One repository's choices; every field has a default so that an absent file is valid."""

    languages: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    ignore_tests: bool = False
    strictness: str = "normal"
    duplicate_threshold: float | None = None
    related_threshold: float | None = None
    max_comments: int = DEFAULT_MAX_COMMENTS
    events: tuple[str, ...] = DEFAULT_EVENTS
    source: str = field(default="defaults", compare=False)  # where it came from, for `/similar config`
    given: frozenset[str] = field(default=frozenset(), compare=False)  # the keys the file set

    @property
    def ignore_globs(self) -> tuple[str, ...]:
        """Every glob never reviewed: the built-in vendored/generated/minified set, tests if asked, the file's own."""
        return DEFAULT_EXCLUDE_GLOBS + (TEST_GLOBS if self.ignore_tests else ()) + self.ignore

    def ignores(self, path: str) -> bool:
        """True when ``path`` (repository-relative, posix) matches one of ``ignore_globs``."""
        return any(glob_matches(path, g) for g in self.ignore_globs)

    def cutoffs(self, settings: Settings) -> tuple[float, float]:
        """``(duplicate, related)`` cut-offs of the default verdict after this file's strictness and thresholds."""
        verdict = verdict_for(self.apply(settings))
        return verdict.duplicate, verdict.related

    def triggers_on(self, action: str) -> bool:
        return action in self.events

    def apply(self, settings: Settings) -> Settings:
        """A copy of ``settings`` for this repository's job; ``settings`` itself is left alone.

        Strictness and explicit thresholds go into the copy as they are: the verdict of the vectors
        a review compares (``embedding.verdict.verdict_for``) applies them to its own cut-offs."""
        languages = self.languages if self.languages is not None else settings.languages
        globs = tuple(dict.fromkeys(settings.exclude_globs + self.ignore_globs))
        update: dict[str, Any] = {"languages": languages, "exclude_globs": globs}
        if self.strictness != "normal" or "strictness" in self.given:  # else the deployment's (or Action input's)
            update["strictness"] = self.strictness
        if self.duplicate_threshold is not None:
            update["duplicate_threshold"] = self.duplicate_threshold
        if self.related_threshold is not None:
            update["related_threshold"] = self.related_threshold
        return settings.model_copy(update=update)


def glob_matches(path: str, pattern: str) -> bool:
    """Whether ``path`` matches ``pattern`` with the same rules as extraction's exclude globs
    (``**`` spans folders, ``*`` never crosses ``/``, a bare name matches in any folder)."""
    return first_match(path, (pattern,)) is not None


def _fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: '{key}' {problem}")


def _str_list(source: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, key, f"must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _threshold(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1.0 <= float(value) <= 1.0:
        raise _fail(source, key, f"must be a number between -1 and 1, got {value!r}")
    return float(value)


def parse_repo_config(
    text: str | bytes | None,
    *,
    source: str = CONFIG_PATH,
    known_languages: tuple[str, ...] | None = None,
) -> RepoConfig:
    """Parse and validate the YAML text of ``.github/doppel.yml``; ``None`` or empty: the defaults.

    Raises ``ConfigError`` naming the key, the bad value and what is expected. ``known_languages``
    (when given) rejects languages doppel cannot read.
    """
    if text is None:
        return RepoConfig()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from exc
    if data is None:
        return RepoConfig(source=source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(_KNOWN_KEYS)}")

    kwargs: dict[str, Any] = {"source": source, "given": frozenset(str(k) for k in data)}
    if data.get("languages") is not None:
        langs = tuple(v.lower() for v in _str_list(source, "languages", data["languages"]))
        if known_languages is not None:
            bad = [lang for lang in langs if lang not in known_languages]
            if bad:
                raise _fail(
                    source, "languages", f"names unsupported language(s) {bad}; supported: {list(known_languages)}"
                )
        kwargs["languages"] = langs
    if data.get("ignore") is not None:
        kwargs["ignore"] = _str_list(source, "ignore", data["ignore"])
    if "ignore_tests" in data:
        if not isinstance(data["ignore_tests"], bool):
            raise _fail(source, "ignore_tests", f"must be true or false, got {data['ignore_tests']!r}")
        kwargs["ignore_tests"] = data["ignore_tests"]
    if data.get("strictness") is not None:
        level = data["strictness"]
        if level not in STRICTNESS_OFFSETS:
            raise _fail(source, "strictness", f"must be one of {', '.join(STRICTNESS_OFFSETS)}, got {level!r}")
        kwargs["strictness"] = level
    if data.get("thresholds") is not None:
        th = data["thresholds"]
        if not isinstance(th, Mapping) or not th or set(th) - {"duplicate", "related"}:
            raise _fail(source, "thresholds", f"must be a mapping with 'duplicate' and/or 'related', got {th!r}")
        if "duplicate" in th:
            kwargs["duplicate_threshold"] = _threshold(source, "thresholds.duplicate", th["duplicate"])
        if "related" in th:
            kwargs["related_threshold"] = _threshold(source, "thresholds.related", th["related"])
        dup, rel = kwargs.get("duplicate_threshold"), kwargs.get("related_threshold")
        if dup is not None and rel is not None and rel > dup:
            raise _fail(source, "thresholds", f"related ({rel}) must not exceed duplicate ({dup})")
    if data.get("max_comments") is not None:
        n = data["max_comments"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COMMENTS_LIMIT:
            raise _fail(source, "max_comments", f"must be a whole number from 0 to {MAX_COMMENTS_LIMIT}, got {n!r}")
        kwargs["max_comments"] = n
    if data.get("events") is not None:
        events = _str_list(source, "events", data["events"])
        bad = [e for e in events if e not in PULL_REQUEST_EVENTS]
        if bad:
            raise _fail(source, "events", f"names unknown event(s) {bad}; choose from {list(PULL_REQUEST_EVENTS)}")
        kwargs["events"] = events
    return RepoConfig(**kwargs)


class ContentReader(Protocol):
    """What loading needs from GitHub (``bot.github.client.GitHubClient`` fits)."""

    def default_branch(self, slug: str) -> str: ...

    def file_text(self, slug: str, path: str, ref: str) -> str | None: ...


def load_repo_config(
    client: ContentReader,
    slug: str,
    *,
    default_branch: str | None = None,
    known_languages: tuple[str, ...] | None = None,
) -> RepoConfig:
    """Read ``.github/doppel.yml`` from the default branch (never the pull request's) and parse it."""
    branch = default_branch or client.default_branch(slug)
    text = client.file_text(slug, CONFIG_PATH, branch)
    config = parse_repo_config(text, source=f"{slug}@{branch}:{CONFIG_PATH}", known_languages=known_languages)
    log.info("repo_config.loaded", extra={"repo": slug, "branch": branch, "found": text is not None})
    return config


def render_config(config: RepoConfig, settings: Settings) -> str:
    """Markdown for ``/similar config``: the effective settings for this repository and where they came from."""
    dup, rel = config.cutoffs(settings)
    langs = ", ".join(config.languages) if config.languages else "all supported"
    own = ", ".join(f"`{g}`" for g in config.ignore) or "none"
    rows = [
        ("Source", f"`{config.source}`"),
        ("Languages", langs),
        ("Strictness", config.strictness),
        ("Duplicate threshold", f"{dup:.2f}"),
        ("Related threshold", f"{rel:.2f}"),
        ("Inline comments at most", str(config.max_comments)),
        (
            "Ignored paths",
            f"vendored/generated/minified (built in){', tests' if config.ignore_tests else ''}; own: {own}",
        ),
        ("Runs on", ", ".join(config.events) or "no events"),
    ]
    lines = ["### doppel configuration", "", "| Setting | Value |", "| --- | --- |"]
    lines += ["| " + k + " | " + v.replace("|", "\\|") + " |" for k, v in rows]
    lines += ["", "<sub>Thresholds an adapter has calibrated take precedence over these defaults.</sub>"]
    return "\n".join(lines)
