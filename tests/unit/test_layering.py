"""The packages import one way (``shared/docs/STYLE.md``): core → embedding → github_adapter →
workers → bot → cli. Read from the source with ``ast``, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each package may import only the ones before it (and itself).
ORDER = ("core", "embedding", "github_adapter", "workers", "bot", "cli")


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(ORDER)


def _violations(package: str) -> list[str]:
    allowed = set(ORDER[: ORDER.index(package) + 1])
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in sorted(_imported_packages(path) - allowed):
            found.append(f"{path.relative_to(ROOT)} imports {imported}")
    return found


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_packages_below_it(package: str) -> None:
    assert _violations(package) == []


def test_workers_never_import_bot() -> None:
    """The probe of the layering part: the workers used ``bot.github`` and ``bot.commands``."""
    offenders = [v for v in _violations("workers") if v.endswith("imports bot")]
    assert offenders == []


def test_the_github_adapter_is_not_shadowed_by_pygithub() -> None:
    import github
    import github_adapter.client

    assert hasattr(github, "Github")  # PyGithub, not ours
    assert github_adapter.client.GitHubClient.__module__ == "github_adapter.client"
