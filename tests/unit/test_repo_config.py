"""`.github/doppel.yml`: defaults, parsing, validation with clear errors, per-job application."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import DEFAULT_EXCLUDE_GLOBS, Settings
from embedding.verdict import default_verdict, verdict_for
from workers.services.repo_config import (
    CONFIG_PATH,
    DEFAULT_EVENTS,
    RepoConfig,
    glob_matches,
    load_repo_config,
    parse_repo_config,
    render_config,
)


def test_missing_or_empty_file_gives_defaults() -> None:
    for text in (None, "", "# nothing yet\n"):
        config = parse_repo_config(text)
        assert config == RepoConfig()
    d = RepoConfig()
    assert (d.languages, d.ignore, d.ignore_tests, d.strictness, d.max_comments) == (None, (), False, "normal", 20)
    assert d.events == DEFAULT_EVENTS


def test_full_file_parses() -> None:
    config = parse_repo_config(
        """
languages: [Python, go]
ignore: ["docs/**", "scripts/*.py"]
ignore_tests: true
strictness: strict
thresholds: {duplicate: 0.93}
max_comments: 5
events: [opened, synchronize]
"""
    )
    assert config.languages == ("python", "go")
    assert config.ignore == ("docs/**", "scripts/*.py")
    assert config.ignore_tests and config.strictness == "strict"
    assert config.duplicate_threshold == 0.93 and config.related_threshold is None
    assert config.max_comments == 5 and config.events == ("opened", "synchronize")
    assert config.triggers_on("opened") and not config.triggers_on("reopened")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("strictness: brutal", ["strictness", "brutal", "strict, normal, lenient"]),
        ("max_comments: -1", ["max_comments", "-1"]),
        ("max_comments: many", ["max_comments", "many"]),
        ("thresholds: {duplicate: 1.5}", ["thresholds.duplicate", "1.5"]),
        ("thresholds: {duplicate: 0.8, related: 0.9}", ["related (0.9)", "duplicate (0.8)"]),
        ("thresholds: {dup: 0.9}", ["thresholds", "dup"]),
        ("events: [pushed]", ["events", "pushed", "opened"]),
        ("ignore: 3", ["ignore", "3"]),
        ("ignore_tests: maybe", ["ignore_tests", "maybe"]),
        ("colour: blue", ["unknown key", "colour"]),
        ("- just\n- a list", ["mapping"]),
        ("languages: [python\n", ["not valid YAML"]),
    ],
)
def test_invalid_values_name_key_and_value(text: str, names: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_repo_config(text, source="acme/shop@main:.github/doppel.yml")
    message = str(err.value)
    assert message.startswith("acme/shop@main:.github/doppel.yml")
    for name in names:
        assert name in message


def test_unknown_language_rejected_when_languages_known() -> None:
    with pytest.raises(ConfigError, match="cobol"):
        parse_repo_config("languages: [python, cobol]", known_languages=("python", "go"))


def test_ignore_globs_cover_vendored_generated_and_optionally_tests() -> None:
    config = RepoConfig(ignore=("docs/**",))
    assert config.ignores("vendor/lib/x.go") and config.ignores("web/app.min.js") and config.ignores("api/foo_pb2.py")
    assert config.ignores("docs/conf.py")
    assert not config.ignores("tests/test_app.py")
    assert RepoConfig(ignore_tests=True).ignores("tests/test_app.py")
    assert RepoConfig(ignore_tests=True).ignores("pkg/handler_test.go")
    assert not config.ignores("app/billing.py")


def test_glob_double_star_matches_zero_directories() -> None:
    assert glob_matches("vendor/a.py", "**/vendor/**")
    assert glob_matches("x/vendor/a.py", "**/vendor/**")
    assert not glob_matches("vendors.py", "**/vendor/**")


def test_strictness_moves_the_verdicts_cutoffs_and_apply_copies_settings() -> None:
    settings = Settings()
    default = default_verdict()
    strict = RepoConfig(strictness="strict").cutoffs(settings)
    lenient = RepoConfig(strictness="lenient").cutoffs(settings)
    assert strict[0] < default.duplicate < lenient[0], "strict flags more (lower bars), lenient fewer"
    assert strict[1] < default.related < lenient[1]
    assert all(rel < dup for dup, rel in (strict, lenient))
    # An explicit threshold in the file wins over strictness; the other cut-off still moves.
    assert RepoConfig(duplicate_threshold=0.97, strictness="strict").cutoffs(settings) == pytest.approx(
        (0.97, strict[1])
    )
    job = RepoConfig(languages=("go",), ignore=("gen/**",), strictness="strict").apply(settings)
    assert job.strictness == "strict" and (verdict_for(job).duplicate, verdict_for(job).related) == pytest.approx(strict)
    assert job.languages == ("go",)
    assert "gen/**" in job.exclude_globs and set(DEFAULT_EXCLUDE_GLOBS) <= set(job.exclude_globs)
    # The process settings are untouched: configs are per job, never global.
    assert (settings.strictness, settings.languages) == ("normal", None)
    assert "gen/**" not in settings.exclude_globs


class _Contents:
    """Records which ref the config was read from."""

    def __init__(self, files: dict[tuple[str, str], str]) -> None:
        self.files = files
        self.reads: list[tuple[str, str, str]] = []

    def default_branch(self, slug: str) -> str:
        return "trunk"

    def file_text(self, slug: str, path: str, ref: str) -> str | None:
        self.reads.append((slug, path, ref))
        return self.files.get((ref, path))


def test_load_reads_the_default_branch_never_the_pr_branch() -> None:
    contents = _Contents({("trunk", CONFIG_PATH): "max_comments: 3", ("feature", CONFIG_PATH): "max_comments: 0"})
    config = load_repo_config(contents, "acme/shop")
    assert config.max_comments == 3 and contents.reads == [("acme/shop", CONFIG_PATH, "trunk")]
    assert config.source == f"acme/shop@trunk:{CONFIG_PATH}"
    assert load_repo_config(_Contents({}), "acme/shop") == RepoConfig()


def test_render_config_lists_effective_values() -> None:
    settings = Settings(duplicate_threshold=0.8, related_threshold=0.6)
    text = render_config(RepoConfig(strictness="lenient", ignore=("a|b/**",), ignore_tests=True), settings)
    dup, rel = RepoConfig(strictness="lenient").cutoffs(settings)
    assert "| Strictness | lenient |" in text
    assert f"| Duplicate threshold | {dup:.2f} |" in text and f"| Related threshold | {rel:.2f} |" in text
    assert "tests" in text and "a\\|b/**" in text
