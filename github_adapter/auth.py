"""GitHub credentials: a GitHub App (app id + private key → JWT → installation tokens) or one token.

App mode signs a short-lived RS256 JWT with the App's private key and trades it for an
installation access token (``POST /app/installations/{id}/access_tokens``). Installation tokens
live an hour; they are cached per installation and renewed ``refresh_margin`` seconds before they
expire. Personal-token mode hands out the same token for every installation. A GitHub Enterprise
Server is reached by setting the API URL (``https://ghe.example.com/api/v3``). Tokens are never
logged and never appear in error messages.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from core.errors import ConfigError
from github_adapter.errors import GitHubAuthError, GitHubError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
JWT_LIFETIME_S = 540  # GitHub accepts at most 10 minutes; stay under it
JWT_BACKDATE_S = 60  # tolerate a server clock slightly behind ours


def web_url_for(api_url: str) -> str:
    """The web host for an API URL: ``api.github.com`` → ``github.com``; ``<host>/api/v3`` → ``<host>``."""
    url = api_url.rstrip("/")
    if url in ("https://api.github.com", "http://api.github.com"):
        return "https://github.com"
    for suffix in ("/api/v3", "/api"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


@dataclass(frozen=True)
class GitHubConfig:
    """How to reach GitHub and as whom. Either ``app_id`` + ``private_key`` or ``token``."""

    api_url: str = DEFAULT_API_URL
    app_id: int | None = None
    private_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    web_url: str | None = None  # derived from api_url when unset

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("https://", "http://")):
            raise ConfigError(f"GitHub API URL must start with https:// (got {self.api_url!r})")

    @property
    def web(self) -> str:
        return (self.web_url or web_url_for(self.api_url)).rstrip("/")

    @property
    def app_mode(self) -> bool:
        return self.app_id is not None

    @classmethod
    def from_settings(cls, settings: Any) -> GitHubConfig:
        """Build from Settings fields ``github_api_url``, ``github_app_id``, ``github_private_key``
        (PEM text; ``github_private_key_path`` as an alternative) and ``github_token``; absent fields
        fall back to the defaults until Settings carries them."""

        def secret(name: str) -> str | None:
            value = getattr(settings, name, None)
            if value is not None and hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            return value or None

        key = secret("github_private_key")
        key_path = getattr(settings, "github_private_key_path", None)
        if key is None and key_path:
            try:
                with open(key_path, encoding="utf-8") as fh:
                    key = fh.read()
            except OSError as exc:
                raise ConfigError(f"DOPPEL_GITHUB_PRIVATE_KEY_PATH: cannot read {key_path}: {exc.strerror}") from exc
        return cls(
            api_url=getattr(settings, "github_api_url", None) or DEFAULT_API_URL,
            app_id=getattr(settings, "github_app_id", None),
            private_key=key,
            token=secret("github_token"),
            web_url=getattr(settings, "github_web_url", None),
        )


class TokenProvider(ABC):
    """Hands out a token for API calls and clones on behalf of one installation."""

    @abstractmethod
    def token(self, installation_id: int | None) -> str: ...


class StaticTokenProvider(TokenProvider):
    """Personal-token mode (or a token handed to a GitHub Action): one token for everything."""

    def __init__(self, token: str) -> None:
        if not token or token.strip() != token:
            raise ConfigError("the GitHub token is empty or has surrounding spaces; set DOPPEL_GITHUB_TOKEN")
        self._token = token

    def token(self, installation_id: int | None) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=***)"


@dataclass(frozen=True)
class InstallationToken:
    token: str = field(repr=False)
    expires_at: float  # unix seconds


def _load_key(pem: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            "the GitHub App private key is not a PEM RSA key without a passphrase; "
            "download it again from the App's settings page"
        ) from exc
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("the GitHub App private key must be an RSA key (GitHub signs with RS256)")
    return key


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class AppTokenProvider(TokenProvider):
    """GitHub App mode: JWT signed with the App key, traded for cached installation tokens."""

    def __init__(
        self,
        app_id: int,
        private_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 300.0,
    ) -> None:
        self.app_id = app_id
        self._key = _load_key(private_key)
        self._api_url = api_url.rstrip("/")
        self._http = http or httpx.Client(timeout=15.0)
        self._clock = clock
        self._margin = refresh_margin
        self._cache: dict[int, InstallationToken] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AppTokenProvider(app_id={self.app_id}, api_url={self._api_url!r})"

    def app_jwt(self) -> str:
        """A JWT that authenticates as the App itself (for ``/app`` endpoints), valid about nine minutes."""
        now = int(self._clock())
        claims = {"iat": now - JWT_BACKDATE_S, "exp": now + JWT_LIFETIME_S, "iss": str(self.app_id)}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def token(self, installation_id: int | None) -> str:
        if installation_id is None:
            raise ConfigError("GitHub App mode needs an installation id for the repository (none was given)")
        with self._lock:
            cached = self._cache.get(installation_id)
            if cached is not None and cached.expires_at - self._margin > self._clock():
                return cached.token
            fresh = self._fetch(installation_id)
            self._cache[installation_id] = fresh
            return fresh.token

    def _fetch(self, installation_id: int) -> InstallationToken:
        url = f"{self._api_url}/app/installations/{installation_id}/access_tokens"
        headers = {
            "Authorization": f"Bearer {self.app_jwt()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        try:
            response = self._http.post(url, headers=headers)
        except httpx.HTTPError as exc:
            raise GitHubError(f"could not reach GitHub at {self._api_url} for an installation token: {exc}") from exc
        if response.status_code in (401, 403, 404):
            raise GitHubAuthError(
                f"GitHub refused an installation token for installation {installation_id} "
                f"(HTTP {response.status_code}): check the App id and private key, and that the App is installed",
                status=response.status_code,
            )
        if response.status_code != 201:
            raise GitHubError(
                f"GitHub answered HTTP {response.status_code} when asked for an installation token",
                status=response.status_code,
            )
        data = response.json()
        log.info(
            "github.installation_token", extra={"installation_id": installation_id, "expires_at": data["expires_at"]}
        )
        return InstallationToken(token=data["token"], expires_at=_parse_time(data["expires_at"]))


def token_provider(config: GitHubConfig, *, http: httpx.Client | None = None) -> TokenProvider:
    """The provider ``config`` asks for: App mode when an App id is set, else the personal token."""
    if config.app_mode:
        if not config.private_key:
            raise ConfigError("DOPPEL_GITHUB_APP_ID is set but no private key: set DOPPEL_GITHUB_PRIVATE_KEY(_PATH)")
        assert config.app_id is not None
        return AppTokenProvider(config.app_id, config.private_key, api_url=config.api_url, http=http)
    if config.token:
        return StaticTokenProvider(config.token)
    raise ConfigError(
        "no GitHub credentials: set DOPPEL_GITHUB_APP_ID + DOPPEL_GITHUB_PRIVATE_KEY, or DOPPEL_GITHUB_TOKEN"
    )
