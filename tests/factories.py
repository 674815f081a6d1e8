"""Builders for test data: real git repositories in a temporary directory, and CodeFunctions.

Repositories are real (``git init`` through GitPython), with a local identity and signing and
hooks switched off, so tests never depend on the machine's global git configuration.

    repo = make_repo(tmp_path, {"pkg/a.py": "def f():\\n    return 1\\n"})
    sha = commit(repo, {"pkg/b.py": "..."}, "add b", delete=["pkg/a.py"])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from git import Repo

from core.domain import CodeFunction, text_hash

FileContent = str | bytes


def _write(root: Path, files: Mapping[str, FileContent]) -> None:
    for relpath, content in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def make_repo(
    tmp_path: Path,
    files: Mapping[str, FileContent] | None = None,
    *,
    name: str = "repo",
    message: str = "initial",
    branch: str = "main",
) -> Repo:
    """A fresh repository at ``tmp_path/name`` on ``branch``; commits ``files`` when given."""
    root = tmp_path / name
    root.mkdir(parents=True, exist_ok=True)
    repo = Repo.init(root, initial_branch=branch)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Doppel Test")
        config.set_value("user", "email", "test@example.invalid")
        config.set_value("commit", "gpgsign", "false")
        config.set_value("core", "hooksPath", "/dev/null")
    if files:
        commit(repo, files, message)
    return repo


def commit(
    repo: Repo,
    files: Mapping[str, FileContent] | None = None,
    message: str = "change",
    *,
    delete: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    symlinks: Mapping[str, str] | None = None,
) -> str:
    """Write ``files``, delete ``delete``, ``git mv`` each ``rename`` old→new, add ``symlinks``
    (path→target), commit everything and return the new commit's SHA."""
    root = Path(repo.working_tree_dir or "")
    for old, new in (rename or {}).items():
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        repo.git.mv(old, new)
    _write(root, files or {})
    for relpath, target in (symlinks or {}).items():
        link = root / relpath
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)
    for relpath in delete:
        repo.git.rm("-q", "--", relpath)
    repo.git.add("-A")
    repo.git.commit("-q", "--no-verify", "--allow-empty", "-m", message)
    return repo.head.commit.hexsha


def make_function(
    code: str = "def f(x):\n    y = x + 1\n    return y\n",
    *,
    language: str = "python",
    path: str = "pkg/mod.py",
    qualified_name: str | None = None,
    start_line: int = 1,
    signature: str | None = None,
    docstring: str | None = None,
    body_hash: str | None = None,
) -> CodeFunction:
    """A CodeFunction without parsing: name and signature are read off the first line when not given.

    ``body_hash`` defaults to a hash of the whitespace-collapsed code (close to, but not the same
    as, ``embedding.extract.body_hash``; pass the real one where a test compares against extraction).
    """
    first = code.strip().splitlines()[0] if code.strip() else ""
    if qualified_name is None:
        head = first.split("(", 1)[0].split()
        qualified_name = head[-1] if head else "f"
    return CodeFunction(
        language=language,
        path=path,
        qualified_name=qualified_name,
        start_line=start_line,
        end_line=start_line + max(code.rstrip("\n").count("\n"), 0),
        signature=signature if signature is not None else first.rstrip(":{ "),
        code=code,
        docstring=docstring,
        body_hash=body_hash if body_hash is not None else text_hash(" ".join(code.split())),
    )


def blend_verdict_file(directory: Path, *, duplicate: float, related: float, lexical_weight: float) -> Path:
    """A verdict JSON of the linear blend ``(1 - w)·cosine + w·lexical`` for tests that pin their
    cut-offs (``Settings(verdict_path=...)``), independent of the shipped, fitted default."""
    import json

    from embedding.verdict import Verdict

    verdict = Verdict.legacy(duplicate, related, lexical_weight, source="test")
    path = directory / "verdict.json"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(verdict.to_dict()), encoding="utf-8")
    return path
