""".env.example names real settings and points at sections that exist.

It used ``DOPPEL_GITHUB_PRIVATE_KEY_FILE`` (the setting is ``DOPPEL_GITHUB_PRIVATE_KEY_PATH``) and
sent readers to a README section that lives in docs/deploy.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# DOPPEL_* names only docker compose reads (interpolated in docker-compose.yml), no setting.
COMPOSE_ONLY = {"DOPPEL_PORT"}


def _names() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}


def test_every_doppel_name_in_env_example_is_a_setting_or_a_compose_variable() -> None:
    settings = {f"DOPPEL_{name.upper()}" for name in Settings.model_fields}
    compose = set(re.findall(r"\$\{(DOPPEL_[A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    unknown = {n for n in _names() if n.startswith("DOPPEL_")} - settings - COMPOSE_ONLY
    assert not unknown, f".env.example names no setting: {sorted(unknown)}"
    assert COMPOSE_ONLY <= compose


def test_the_private_key_file_compose_mounts_is_the_setting_of_the_same_name() -> None:
    assert "DOPPEL_GITHUB_PRIVATE_KEY_PATH" in _names()
    assert "${DOPPEL_GITHUB_PRIVATE_KEY_PATH:-" in (ROOT / "docker-compose.yml").read_text()


def test_sections_env_example_points_at_exist() -> None:
    text = (ROOT / ".env.example").read_text()
    pointers = re.findall(r"([\w./-]+\.md), \"([^\"]+)\"", text)
    assert pointers, "no pointer to the docs found"
    for doc, section in pointers:
        headings = [line.lstrip("#").strip() for line in (ROOT / doc).read_text().splitlines() if line.startswith("#")]
        assert section in headings, f"{doc} has no section {section!r}"
