"""doppel's exception tree. Library errors are translated at the boundary with ``raise X from exc``.

    DoppelError
    ├── ConfigError            a setting or argument has a bad value
    ├── ExtractionError        a source file could not be read or parsed at all
    ├── EncoderError           the base model or an adapter could not be loaded or used
    │   └── AdapterError       an adapter is missing, unsafe (pickle) or incompatible
    ├── VectorIndexError       the vector index refused an operation
    │   └── CollectionNotFoundError  the collection for a repository does not exist yet
    ├── GitError               a repository, ref or commit range could not be read
    ├── ReviewError            the review could not run (e.g. no index for the base)
    ├── GitHubError            GitHub refused or failed a request (``status`` when it answered)
    │   └── GitHubAuthError    the App key, an installation token or a personal token was refused
    └── TransientError         a failure that may pass on its own: retry later

Messages never contain a token, a JWT or a private key.
"""

from __future__ import annotations


class DoppelError(Exception):
    """Base of every error doppel raises on purpose."""


class ConfigError(DoppelError):
    """A setting or argument has a bad value; the message names it and says what to do."""


class ExtractionError(DoppelError):
    """A source file could not be read or parsed at all."""


class EncoderError(DoppelError):
    """The base model or an adapter could not be loaded or used."""


class AdapterError(EncoderError):
    """An adapter is missing, stored unsafely (pickle) or does not fit the base model."""


class VectorIndexError(DoppelError):
    """The vector index refused an operation."""


class CollectionNotFoundError(VectorIndexError):
    """The collection for a repository does not exist yet: run ``doppel index`` first."""


class GitError(DoppelError):
    """A repository, ref or commit range could not be read."""


class ReviewError(DoppelError):
    """The review could not run."""


class GitHubError(DoppelError):
    """GitHub refused or failed a request; ``status`` is the HTTP status when there was one.

    ``retry_after`` (seconds) and ``reset_at`` (unix seconds, from ``X-RateLimit-Reset``) are set
    when GitHub said when to come back; the task retry policy honours them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        reset_at: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.reset_at = reset_at

    @property
    def unprocessable(self) -> bool:
        """422: GitHub understood the request but will not apply it (e.g. a comment off the diff)."""
        return self.status == 422

    @property
    def not_found(self) -> bool:
        return self.status == 404


class GitHubAuthError(GitHubError):
    """Credentials were refused: check the App id and key, the installation, or the token's scopes."""


class TransientError(DoppelError):
    """A failure that may pass on its own: retry later. ``retry_after`` (seconds) when known,
    ``reset_at`` (unix seconds, e.g. ``X-RateLimit-Reset``) when a quota refills then."""

    def __init__(self, message: str, *, retry_after: float | None = None, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reset_at = reset_at
