"""Errors from talking to GitHub: defined in ``core.errors`` (the one exception tree), named here
for the GitHub layer's callers. Translated from PyGithub/httpx/git at the boundary."""

from __future__ import annotations

from core.errors import GitHubAuthError, GitHubError

__all__ = ["GitHubAuthError", "GitHubError"]
