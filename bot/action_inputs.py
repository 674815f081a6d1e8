"""The GitHub Action's inputs and the runner's context, parsed from the environment in one place.

Why this module reads the environment although ``core/settings.py`` is otherwise the only one
that does: an Action's inputs and the runner's context (``GITHUB_EVENT_PATH``,
``GITHUB_STEP_SUMMARY`` …) are not doppel settings. They have GitHub's names, not ``DOPPEL_*``
ones, and they live only for one step. ``ActionInputs.from_env`` turns them into typed values
(with errors that name the input as the workflow spells it); ``settings_overrides()`` hands the
ones that are doppel settings on to ``core.settings.load_settings``, so settings are still built
by the one Settings class. ``from_process()`` is the single ``os.environ`` read.

Inputs reach a step as ``INPUT_<NAME>``: JavaScript actions keep the hyphen
(``INPUT_GITHUB-TOKEN``); our composite ``action.yml`` passes them with underscores
(``INPUT_GITHUB_TOKEN``). Both spellings are accepted; an empty value means "not given".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from embedding.verdict import STRICTNESS_OFFSETS

DEFAULT_SARIF_NAME = "doppel.sarif"
DEFAULT_REPORT_DIR = "doppel-report"  # under RUNNER_TEMP: the duplication report (input report-html)
DEFAULT_BOT_LOGIN = "github-actions[bot]"
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}
_PAIR = re.compile(r"^\s*(?:duplicate\s*=\s*)?([-\d.]+)\s*[,/ ]\s*(?:related\s*=\s*)?([-\d.]+)\s*$")


def _input(environ: Mapping[str, str], name: str) -> str | None:
    """The value of input ``name`` (as written under ``with:``), or ``None`` when unset or blank."""
    key = name.upper().replace(" ", "_")
    for candidate in (f"INPUT_{key}", f"INPUT_{key.replace('-', '_')}"):
        value = environ.get(candidate)
        if value is not None and value.strip():
            return value.strip()
    return None


def parse_bool(name: str, value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"input '{name}' must be true or false, got {value!r}")


def parse_thresholds(value: str) -> tuple[float, float]:
    """``"0.92/0.82"``, ``"0.92,0.82"`` or ``"duplicate=0.92,related=0.82"`` → (duplicate, related)."""
    found = _PAIR.match(value)
    if not found:
        raise ConfigError(
            f"input 'thresholds' must be two numbers DUPLICATE/RELATED (e.g. 0.92/0.82 or "
            f"duplicate=0.92,related=0.82), got {value!r}"
        )
    try:
        duplicate, related = float(found.group(1)), float(found.group(2))
    except ValueError as exc:
        raise ConfigError(f"input 'thresholds': {value!r} holds something that is not a number") from exc
    for label, number in (("duplicate", duplicate), ("related", related)):
        if not -1.0 <= number <= 1.0:
            raise ConfigError(f"input 'thresholds': the {label} threshold must lie in [-1, 1], got {number}")
    if related > duplicate:
        raise ConfigError(
            f"input 'thresholds': related ({related}) must not exceed duplicate ({duplicate}); write DUPLICATE/RELATED"
        )
    return duplicate, related


def _path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


@dataclass(frozen=True)
class ActionInputs:
    """Everything the Action step is told: its inputs and the runner's context."""

    # runner context
    event_name: str
    event_path: Path
    repository: str  # owner/name of the repository the workflow runs in (the pull request's base)
    workspace: Path
    # GitHub's numeric id of that repository (GITHUB_REPOSITORY_ID): it names the index collection,
    # as the bot's does, so an Action against a shared Qdrant never meets another slug's index.
    repository_id: int | None = None
    step_summary: Path | None = None
    output: Path | None = None
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    # inputs
    github_token: str | None = field(default=None, repr=False)
    base_model: str | None = None
    adapter_source: Path | None = None
    duplicate_threshold: float | None = None
    related_threshold: float | None = None
    strictness: str = "normal"
    qdrant_url: str | None = None
    fail_on_duplicates: bool = False
    sarif_path: Path = Path(DEFAULT_SARIF_NAME)
    report_html: bool = False  # also write the repository-wide duplication report to report_dir
    report_dir: Path = Path(DEFAULT_REPORT_DIR)
    data_dir: Path | None = None
    bot_login: str = DEFAULT_BOT_LOGIN

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ActionInputs:
        """Parse ``environ`` (the step's environment); a missing or bad value raises ``ConfigError``."""
        missing = [
            name for name in ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_WORKSPACE") if not environ.get(name)
        ]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} not set: the doppel Action runs as a step of a GitHub Actions workflow "
                "(locally, use `doppel review` instead)"
            )
        workspace = Path(environ["GITHUB_WORKSPACE"])
        thresholds_in = _input(environ, "thresholds")
        strictness = (_input(environ, "strictness") or "normal").lower()
        if strictness not in STRICTNESS_OFFSETS:
            raise ConfigError(
                f"input 'strictness' must be one of {', '.join(STRICTNESS_OFFSETS)}, got {strictness!r}"
            )
        if thresholds_in and strictness != "normal":
            raise ConfigError("give either input 'thresholds' or input 'strictness', not both")
        pair = parse_thresholds(thresholds_in) if thresholds_in else None
        adapter = _input(environ, "adapter-source")
        data_dir = _input(environ, "data-dir")
        sarif = _input(environ, "sarif-path")
        temp = environ.get("RUNNER_TEMP")
        default_sarif = Path(temp) / DEFAULT_SARIF_NAME if temp else workspace / DEFAULT_SARIF_NAME
        report_dir = Path(temp) / DEFAULT_REPORT_DIR if temp else workspace / DEFAULT_REPORT_DIR
        return cls(
            event_name=environ.get("GITHUB_EVENT_NAME", "pull_request"),
            event_path=Path(environ["GITHUB_EVENT_PATH"]),
            repository=environ["GITHUB_REPOSITORY"],
            workspace=workspace,
            repository_id=_repository_id(environ.get("GITHUB_REPOSITORY_ID")),
            step_summary=Path(environ["GITHUB_STEP_SUMMARY"]) if environ.get("GITHUB_STEP_SUMMARY") else None,
            output=Path(environ["GITHUB_OUTPUT"]) if environ.get("GITHUB_OUTPUT") else None,
            api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            github_token=_input(environ, "github-token"),
            base_model=_input(environ, "base-model"),
            adapter_source=_path(workspace, adapter) if adapter else None,
            duplicate_threshold=pair[0] if pair else None,
            related_threshold=pair[1] if pair else None,
            strictness=strictness,
            qdrant_url=_input(environ, "qdrant-url"),
            fail_on_duplicates=parse_bool("fail-on-duplicates", _input(environ, "fail-on-duplicates")),
            sarif_path=_path(workspace, sarif) if sarif else default_sarif,
            report_html=parse_bool("report-html", _input(environ, "report-html")),
            report_dir=report_dir,
            data_dir=_path(workspace, data_dir) if data_dir else None,
            bot_login=_input(environ, "bot-login") or DEFAULT_BOT_LOGIN,
        )

    def settings_overrides(self, adapter_dir: Path | None = None) -> dict[str, Any]:
        """The inputs that are doppel settings, as ``load_settings`` keyword arguments (given ones only)."""
        overrides: dict[str, Any] = {}
        if self.data_dir is not None:
            overrides["data_dir"] = self.data_dir
        if self.base_model:
            overrides["base_model"] = self.base_model
        if adapter_dir is not None:
            overrides["adapter_dir"] = adapter_dir
        if self.duplicate_threshold is not None and self.related_threshold is not None:
            overrides["duplicate_threshold"] = self.duplicate_threshold
            overrides["related_threshold"] = self.related_threshold
        if self.qdrant_url:
            overrides["qdrant_url"] = self.qdrant_url
            overrides["index_backend"] = "server"
        return overrides


def from_process() -> ActionInputs:
    """The inputs of the running step: the one ``os.environ`` read outside ``core/settings.py``."""
    return ActionInputs.from_env(os.environ)


def _repository_id(value: str | None) -> int | None:
    """``GITHUB_REPOSITORY_ID`` as a number; unset (an older runner) leaves it unknown."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise ConfigError(f"GITHUB_REPOSITORY_ID must be a number, got {text[:40]!r}")
    return int(text)
