"""Errors from talking to GitHub, translated from PyGithub/httpx/git at the boundary.

    DoppelError
    └── GitHubError            GitHub refused or failed a request (``status`` when it answered)
        └── GitHubAuthError    the App key, an installation token or a personal token was refused

They belong in ``core/errors.py`` once the lead moves them there; until then they live here.
Messages never contain a token, a JWT or a private key.
"""

from __future__ import annotations

from core.errors import DoppelError


class GitHubError(DoppelError):
    """GitHub refused or failed a request; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def unprocessable(self) -> bool:
        """422: GitHub understood the request but will not apply it (e.g. a comment off the diff)."""
        return self.status == 422

    @property
    def not_found(self) -> bool:
        return self.status == 404


class GitHubAuthError(GitHubError):
    """Credentials were refused: check the App id and key, the installation, or the token's scopes."""
