"""A per-repository cache of git clones, refreshed with ``fetch`` instead of cloning again.

The token reaches git only through the environment of the one command that needs it
(``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` set ``http.extraheader``), so it
never lands in ``.git/config``, in the remote URL, on the process list or in a log line. Hooks
never run: every command gets ``core.hooksPath=/dev/null``, and no working tree is checked out
(readers use ``embedding.source.GitSource``, which reads objects by commit).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import git

from core.errors import GitError

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def auth_env(token: str | None) -> dict[str, str]:
    """Environment for one git command: hooks off, no prompts, and the token as a Basic header."""
    pairs = [("core.hooksPath", "/dev/null")]
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        pairs.append(("http.extraheader", f"Authorization: Basic {basic}"))
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _redact(text: str, token: str | None) -> str:
    if not token:
        return text
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return text.replace(token, "***").replace(basic, "***")


class RepoCache:
    """Clones under ``root``, one directory per repository (and installation), kept between jobs.

    ``web_url`` is the git host (``https://github.com`` or a GitHub Enterprise Server URL); the
    remote is ``<web_url>/<slug>.git`` with no credentials in it.
    """

    def __init__(self, root: Path, *, web_url: str) -> None:
        self.root = root
        self.web_url = web_url.rstrip("/")
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, slug: str, installation_id: int | None = None) -> Path:
        owner = f"i{installation_id}" if installation_id is not None else "token"
        return self.root / owner / _SAFE.sub("_", slug.replace("/", "__"))

    def remote_url(self, slug: str) -> str:
        return f"{self.web_url}/{slug}.git"

    def _lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def sync(
        self,
        slug: str,
        *,
        token: str | None,
        refspecs: Sequence[str] = (),
        installation_id: int | None = None,
    ) -> Path:
        """Make the cached clone hold ``refspecs`` (branches, ``pull/N/head``, SHAs) and return its path.

        The first call creates the repository (``git init`` + a credential-free remote); later
        calls only fetch. Raises ``GitError`` (token redacted) when git fails.
        """
        path = self.path_for(slug, installation_id)
        with self._lock(path):
            env = auth_env(token)
            try:
                repo = self._open_or_init(path, slug)
                wanted = list(refspecs) or ["+refs/heads/*:refs/remotes/origin/*"]
                repo.git.execute(
                    ["git", "fetch", "--no-tags", "--prune", "--force", "origin", *wanted],
                    env=env,
                )
            except git.GitCommandError as exc:
                detail = _redact(str(exc.stderr or exc).strip(), token)
                raise GitError(f"git fetch of {slug} failed: {detail}") from None
            log.info("clone.synced", extra={"repo": slug, "path": str(path), "refspecs": wanted})
            return path

    def _open_or_init(self, path: Path, slug: str) -> git.Repo:
        if (path / ".git").is_dir():
            repo = git.Repo(path)
            if repo.remotes and repo.remotes.origin.url != self.remote_url(slug):
                repo.remotes.origin.set_url(self.remote_url(slug))
            return repo
        path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(path)
        repo.create_remote("origin", self.remote_url(slug))
        with repo.config_writer() as cfg:
            cfg.set_value("core", "hooksPath", "/dev/null")
            cfg.set_value("gc", "auto", "0")
        log.info("clone.created", extra={"repo": slug, "path": str(path)})
        return repo
