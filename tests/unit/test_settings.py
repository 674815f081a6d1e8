"""Settings: validation with actionable errors, and the README documents every one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_valid_and_embedded() -> None:
    settings = load_settings()
    assert settings.index_backend == "edge"
    assert settings.min_function_lines == 3
    assert settings.max_length == 256
    # The verdict's own cut-offs apply unless these are set.
    assert (settings.duplicate_threshold, settings.related_threshold, settings.strictness) == (None, None, "normal")


def test_env_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOPPEL_LANGUAGES", "python, go")
    monkeypatch.setenv("DOPPEL_TOP_K", "7")
    settings = load_settings()
    assert settings.languages == ("python", "go")
    assert settings.top_k == 7


def test_qdrant_url_selects_the_server_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOPPEL_QDRANT_URL", "http://qdrant:6333")
    assert load_settings().index_backend == "server"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DOPPEL_TOP_K": "0"}, "DOPPEL_TOP_K"),
        ({"DOPPEL_INDEX_BACKEND": "server"}, "DOPPEL_QDRANT_URL"),
        ({"DOPPEL_RELATED_THRESHOLD": "0.99", "DOPPEL_DUPLICATE_THRESHOLD": "0.5"}, "related_threshold"),
    ],
)
def test_bad_values_raise_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=needle):
        load_settings()


def test_readme_lists_every_setting() -> None:
    documented = set(re.findall(r"`(DOPPEL_[A-Z0-9_]+)`", README.read_text()))
    expected = {f"DOPPEL_{name.upper()}" for name in Settings.model_fields}
    missing = expected - documented
    assert not missing, f"settings missing from README.md: {sorted(missing)}"
