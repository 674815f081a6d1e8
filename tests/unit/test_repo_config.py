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


# --- the review plan a job resolves from settings, the file and the adapter pointer -----------------
def test_the_plan_reads_only_what_the_file_lets_through() -> None:
    from workers.services.plan import ConfigFile, resolve_plan

    text = "languages: [python]\nignore: ['scripts/**']\nignore_tests: true\n"
    plan = resolve_plan(Settings(), ConfigFile(text, f"acme/shop@main:{CONFIG_PATH}"))
    assert plan.problem is None and plan.source == f"acme/shop@main:{CONFIG_PATH}"
    assert plan.skips("app/billing.py") is None
    for ignored in ("scripts/tool.py", "tests/test_billing.py", "lib/text.go", "vendor/x/y.py"):
        assert plan.skips(ignored), ignored
    assert plan.extract_options.languages == ("python",)


def test_max_comments_and_strictness_come_from_the_deployment_unless_the_file_sets_them() -> None:
    from workers.services.plan import ConfigFile, resolve_plan

    deployment = Settings(max_inline_comments=7, strictness="strict")
    quiet = resolve_plan(deployment, ConfigFile("languages: [go]\n"))
    assert (quiet.max_comments, quiet.strictness) == (7, "strict")
    explicit = resolve_plan(deployment, ConfigFile("max_comments: 20\nstrictness: normal\n"))
    assert (explicit.max_comments, explicit.strictness) == (20, "normal")
    assert resolve_plan(deployment).max_functions == deployment.review_max_functions


def test_a_bad_file_gives_the_defaults_and_the_plan_says_what_is_wrong() -> None:
    from workers.services.plan import ConfigFile, resolve_plan

    settings = Settings()
    for text in ("max_comments: many\n", "languages: [cobol]\n", "- a\n- list\n", "x" * 70_000):
        plan = resolve_plan(settings, ConfigFile(text, f"acme/shop@main:{CONFIG_PATH}"))
        assert plan.config == RepoConfig() and plan.problem, text[:20]
        assert plan.problem.startswith("acme/shop@main") and len(plan.problem) <= 500
        assert plan.languages is None and plan.max_comments == settings.max_inline_comments
        rendered = render_config(plan)
        assert "could not be used" in rendered and "| Languages | all supported |" in rendered


def test_events_decide_which_actions_review_and_the_reconciler_respects_an_empty_list() -> None:
    from workers.services.plan import ConfigFile, resolve_plan

    opened = resolve_plan(Settings(), ConfigFile("events: [opened]\n"))
    assert opened.triggers_on("opened") and not opened.triggers_on("synchronize")
    assert opened.triggers_on(None)  # the reconciler: a missed review of some allowed event
    assert not resolve_plan(Settings(), ConfigFile("events: []\n")).triggers_on(None)


def test_the_plan_keeps_the_pointer_and_shows_it() -> None:
    from embedding.registry import Pointer
    from workers.services.plan import resolve_plan

    pointer = Pointer(adapters={"python": "v0002-1a2b3c4d"}, collection="doppel_x__1a2b3c4d", switched="now")
    plan = resolve_plan(Settings(), pointer=pointer)
    assert plan.pointer == pointer and plan.to_dict()["collection"] == "doppel_x__1a2b3c4d"
    assert "python v0002-1a2b3c4d" in render_config(plan)
