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

The file is written by whoever can push to the default branch and read by workers every
repository shares, so reading it is bounded: at most ``MAX_CONFIG_BYTES``, no anchors or aliases
(a few hundred bytes of them expand to gigabytes), lists and mappings at most
``MAX_CONFIG_DEPTH`` deep, at most ``MAX_IGNORE_GLOBS`` ``ignore`` globs of at most
``MAX_GLOB_CHARS`` characters, and messages quote at most ``_SHOWN_CHARS`` of any value. Every
problem is a ``ConfigError`` that names the line when there is one.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from core.errors import ConfigError
from core.settings import DEFAULT_EXCLUDE_GLOBS, Settings
from embedding.extract.globs import first_match
from embedding.verdict import STRICTNESS_OFFSETS, verdict_for
from github_adapter.publish import DEFAULT_MAX_COMMENTS

if TYPE_CHECKING:
    from workers.services.feedback_store import FeedbackCounts
    from workers.services.plan import ReviewPlan

log = logging.getLogger(__name__)

CONFIG_PATH = ".github/doppel.yml"

PULL_REQUEST_EVENTS = ("opened", "synchronize", "reopened", "ready_for_review")
DEFAULT_EVENTS = ("opened", "synchronize", "reopened", "ready_for_review")
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
MAX_CONFIG_BYTES = 64 * 1024  # a real file is a few hundred bytes
MAX_CONFIG_DEPTH = 8  # lists and mappings inside one another; the schema itself needs two
MAX_IGNORE_GLOBS = 200  # each is matched against every path of the repository
MAX_GLOB_CHARS = 256  # matching costs up to glob length × path length
_SHOWN_CHARS = 80  # how much of a value a message quotes


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


class _ShortRepr(reprlib.Repr):
    """``reprlib`` with small limits, and no decimal digits for huge integers (their ``repr``
    alone can take seconds, or raise past 4,300 digits)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxset = 2, 4, 4, 4
        self.maxstring = self.maxother = self.maxlong = _SHOWN_CHARS

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:
            return f"<a {x.bit_length():,}-bit integer>"
        return super().repr_int(x, level)


_SHORT_REPR = _ShortRepr()


def _shown(value: Any) -> str:
    """``repr(value)`` cut to about ``_SHOWN_CHARS`` without building the whole of it."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True)
class _Where:
    """The file's source and the line of each top-level key, so that a message can point at it."""

    source: str
    lines: Mapping[str, int] = field(default_factory=dict)

    def of(self, key: str) -> str:
        line = self.lines.get(key) or self.lines.get(key.split(".")[0])  # "thresholds.duplicate": its mapping
        return f"{self.source}, line {line}" if line else self.source


def _fail(where: _Where, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{where.of(key)}: '{key}' {problem}")


def _str_list(where: _Where, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(where, key, f"must be a list of non-empty strings, got {_shown(value)}")
    return tuple(v.strip() for v in value)


def _threshold(where: _Where, key: str, value: Any) -> float:
    # Compared as it is: float() of a huge integer overflows.
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
        raise _fail(where, key, f"must be a number between -1 and 1, got {_shown(value)}")
    return float(value)


class _RefusedError(yaml.MarkedYAMLError):
    """Valid YAML that doppel does not read (an anchor, an alias, nesting too deep)."""


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses anchors and aliases, bounds nesting, and turns a value its
    constructors cannot build (an integer past 4,300 digits, the 13th month) into a YAML error
    that carries the value's line. Pure Python, so that these overrides are the ones that run."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._doppel_depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _RefusedError(
                problem="anchors (&name) and aliases (*name) are not allowed; write each value out",
                problem_mark=event.start_mark,
            )
        nests = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        if nests:
            self._doppel_depth += 1
            if self._doppel_depth > MAX_CONFIG_DEPTH:
                raise _RefusedError(
                    problem=f"lists and mappings are nested more than {MAX_CONFIG_DEPTH} deep",
                    problem_mark=event.start_mark,
                )
        try:
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            if nests:
                self._doppel_depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)  # type: ignore[no-untyped-call]
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                problem=f"cannot read this value ({_cut(str(exc))})", problem_mark=node.start_mark
            ) from exc


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _too_large(text: str | bytes) -> bool:
    """Over ``MAX_CONFIG_BYTES`` as UTF-8; a string longer than that in characters is never encoded."""
    if isinstance(text, str) and len(text) <= MAX_CONFIG_BYTES:
        return len(text.encode("utf-8", "replace")) > MAX_CONFIG_BYTES
    return len(text) > MAX_CONFIG_BYTES


def _load_yaml(text: str, source: str) -> tuple[Any, _Where]:
    """The document and where its top-level keys are; ``ConfigError`` for anything unreadable."""
    try:
        loader = _BoundedLoader(text)  # the reader already refuses control characters here
        try:
            node = loader.get_single_node()  # type: ignore[no-untyped-call]
            data = None if node is None else loader.construct_document(node)  # type: ignore[no-untyped-call]
        finally:
            loader.dispose()  # type: ignore[no-untyped-call]
    except _RefusedError as exc:
        raise ConfigError(f"{source}: refused{_yaml_problem(exc, text)}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML{_yaml_problem(exc, text)}") from exc
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines.setdefault(str(key.value), key.start_mark.line + 1)
    return data, _Where(source, lines)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """`` at line L, column C: what`` from a PyYAML error, without its (unbounded) excerpts and tags."""
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        line = text.count("\n", 0, exc.position) + 1
        return f" at line {line}: character #x{exc.character:04x} is not allowed ({exc.reason})"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f": {_cut(str(exc))}"
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {_cut(exc.problem or exc.context or 'unreadable')}"


def parse_repo_config(
    text: str | bytes | None,
    *,
    source: str = CONFIG_PATH,
    known_languages: tuple[str, ...] | None = None,
) -> RepoConfig:
    """Parse and validate the YAML text of ``.github/doppel.yml``; ``None`` or empty: the defaults.

    Raises ``ConfigError`` naming the key (and its line), an excerpt of the bad value and what is
    expected; also for a file over ``MAX_CONFIG_BYTES``, anchors and aliases, and nesting deeper
    than ``MAX_CONFIG_DEPTH``. ``known_languages`` (when given) rejects languages doppel cannot read.
    """
    if text is None:
        return RepoConfig()
    if _too_large(text):
        raise ConfigError(f"{source}: the file is larger than {MAX_CONFIG_BYTES:,} bytes, the limit")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    data, where = _load_yaml(text, source)
    if data is None:
        return RepoConfig(source=source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level, got {type(data).__name__}")
    unknown = [k for k in data if k not in _KNOWN_KEYS]
    if unknown:
        named = ", ".join(_shown(k) for k in unknown[:5]) + (
            f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        )
        at = where.of(unknown[0]) if isinstance(unknown[0], str) else source
        raise ConfigError(f"{at}: unknown key(s) {named}; known keys: {', '.join(_KNOWN_KEYS)}")

    kwargs: dict[str, Any] = {"source": source, "given": frozenset(str(k) for k in data)}
    if data.get("languages") is not None:
        langs = tuple(v.lower() for v in _str_list(where, "languages", data["languages"]))
        if known_languages is not None:
            bad = [lang for lang in langs if lang not in known_languages]
            if bad:
                raise _fail(
                    where,
                    "languages",
                    f"names unsupported language(s) {_shown(bad)}; supported: {list(known_languages)}",
                )
        kwargs["languages"] = langs
    if data.get("ignore") is not None:
        if isinstance(data["ignore"], list) and len(data["ignore"]) > MAX_IGNORE_GLOBS:
            raise _fail(where, "ignore", f"has {len(data['ignore']):,} globs; at most {MAX_IGNORE_GLOBS} are allowed")
        globs = _str_list(where, "ignore", data["ignore"])
        long = next((g for g in globs if len(g) > MAX_GLOB_CHARS), None)
        if long is not None:
            raise _fail(
                where,
                "ignore",
                f"has a glob of {len(long):,} characters; at most {MAX_GLOB_CHARS} are allowed, got {_shown(long)}",
            )
        kwargs["ignore"] = globs
    if "ignore_tests" in data:
        if not isinstance(data["ignore_tests"], bool):
            raise _fail(where, "ignore_tests", f"must be true or false, got {_shown(data['ignore_tests'])}")
        kwargs["ignore_tests"] = data["ignore_tests"]
    if data.get("strictness") is not None:
        level = data["strictness"]
        if not isinstance(level, str) or level not in STRICTNESS_OFFSETS:
            raise _fail(where, "strictness", f"must be one of {', '.join(STRICTNESS_OFFSETS)}, got {_shown(level)}")
        kwargs["strictness"] = level
    if data.get("thresholds") is not None:
        th = data["thresholds"]
        if not isinstance(th, Mapping) or not th or set(th) - {"duplicate", "related"}:
            raise _fail(where, "thresholds", f"must be a mapping with 'duplicate' and/or 'related', got {_shown(th)}")
        if "duplicate" in th:
            kwargs["duplicate_threshold"] = _threshold(where, "thresholds.duplicate", th["duplicate"])
        if "related" in th:
            kwargs["related_threshold"] = _threshold(where, "thresholds.related", th["related"])
        dup, rel = kwargs.get("duplicate_threshold"), kwargs.get("related_threshold")
        if dup is not None and rel is not None and rel > dup:
            raise _fail(where, "thresholds", f"related ({rel}) must not exceed duplicate ({dup})")
    if data.get("max_comments") is not None:
        n = data["max_comments"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COMMENTS_LIMIT:
            raise _fail(
                where, "max_comments", f"must be a whole number from 0 to {MAX_COMMENTS_LIMIT}, got {_shown(n)}"
            )
        kwargs["max_comments"] = n
    if data.get("events") is not None:
        events = _str_list(where, "events", data["events"])
        bad = [e for e in events if e not in PULL_REQUEST_EVENTS]
        if bad:
            raise _fail(
                where, "events", f"names unknown event(s) {_shown(bad)}; choose from {list(PULL_REQUEST_EVENTS)}"
            )
        kwargs["events"] = events
    return RepoConfig(**kwargs)


class ContentReader(Protocol):
    """What loading needs from GitHub (``github_adapter.client.GitHubClient`` fits)."""

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


def _feedback_cell(counts: FeedbackCounts) -> str:
    if not counts.labelled:
        return f"none yet ({counts.published} commented finding(s); 👍/👎 or resolving a comment labels one)"
    return (
        f"{counts.labelled} ({counts.positives} confirmed, {counts.negatives} rejected, of {counts.published} "
        "commented findings); the nightly training learns from them"
    )


def render_config(
    config: RepoConfig | ReviewPlan, settings: Settings | None = None, *, feedback: FeedbackCounts | None = None
) -> str:
    """Markdown for ``/similar config``: the plan a review of this repository runs under now.

    Given a ``ReviewPlan`` (what the bot's jobs resolve), it shows exactly that plan; given a
    ``RepoConfig`` and the process ``settings``, the plan they make. A file that could not be used
    is named with what is wrong, above the defaults that are in force instead. ``feedback``: the
    repository's labelled pairs from reviews (``workers.services.feedback.feedback_counts``).
    """
    from workers.services.plan import ReviewPlan, plan_from_config

    if isinstance(config, ReviewPlan):
        plan = config
    else:
        if settings is None:
            raise ConfigError("render_config needs the settings to show a RepoConfig's plan")
        plan = plan_from_config(settings, config)
    verdict = plan.verdict()
    own = ", ".join(f"`{g}`" for g in plan.config.ignore) or "none"
    adapters = ", ".join(f"{name} {version}" for name, version in sorted(plan.pointer.adapters.items()))
    rows = [
        ("Source", f"`{plan.source}`"),
        ("Languages", ", ".join(plan.languages) if plan.languages else "all supported"),
        ("Strictness", plan.strictness),
        ("Duplicate threshold", f"{verdict.duplicate:.2f}"),
        ("Related threshold", f"{verdict.related:.2f}"),
        ("Inline comments at most", str(plan.max_comments)),
        ("Changed functions reviewed at most", str(plan.max_functions)),
        (
            "Ignored paths",
            f"vendored/generated/minified (built in){', tests' if plan.config.ignore_tests else ''}; own: {own}",
        ),
        ("Runs on", ", ".join(plan.events) or "no events"),
        ("Adapters", adapters or "none (the base model)"),
    ]
    if feedback is not None:
        rows.append(("Labelled pairs from reviews", _feedback_cell(feedback)))
    lines = ["### doppel configuration", ""]
    if plan.problem:
        problem = " ".join(plan.problem.replace("`", "'").split())
        lines += [f"**`{CONFIG_PATH}` could not be used, so the defaults below are in force:** {problem}", ""]
    lines += ["| Setting | Value |", "| --- | --- |"]
    lines += ["| " + k + " | " + v.replace("|", "\\|") + " |" for k, v in rows]
    lines += ["", "<sub>Thresholds an adapter has calibrated take precedence over these defaults.</sub>"]
    return "\n".join(lines)
