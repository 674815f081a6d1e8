"""GitHub credentials: App JWTs, cached installation tokens, personal tokens, Enterprise URLs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from core.errors import ConfigError
from github_adapter.auth import (
    AppTokenProvider,
    GitHubConfig,
    StaticTokenProvider,
    token_provider,
    web_url_for,
)
from github_adapter.errors import GitHubAuthError

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
API = "https://ghe.example.com/api/v3"


class TokenEndpoint:
    """GitHub's access-token endpoint as an httpx transport: checks the JWT, issues 1-hour tokens."""

    def __init__(self, clock: list[float], status: int = 201) -> None:
        self.clock = clock
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 201:
            return httpx.Response(self.status, json={"message": "Bad credentials"})
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(
            token, KEY.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
        )
        assert claims["iss"] == "77" and claims["exp"] - claims["iat"] <= 600
        expires = datetime.fromtimestamp(self.clock[0] + 3600, UTC).isoformat().replace("+00:00", "Z")
        return httpx.Response(201, json={"token": f"ghs_{len(self.requests)}", "expires_at": expires})


def provider(endpoint: TokenEndpoint, clock: list[float]) -> AppTokenProvider:
    http = httpx.Client(transport=httpx.MockTransport(endpoint))
    return AppTokenProvider(77, PEM, api_url=API, http=http, clock=lambda: clock[0])


def test_installation_tokens_are_cached_until_shortly_before_expiry() -> None:
    clock = [time.time()]
    endpoint = TokenEndpoint(clock)
    p = provider(endpoint, clock)
    assert p.token(5) == "ghs_1" and p.token(5) == "ghs_1"
    assert str(endpoint.requests[0].url) == f"{API}/app/installations/5/access_tokens"
    assert p.token(6) == "ghs_2"  # another installation, another token
    clock[0] += 3600 - 301  # just outside the 300 s refresh margin: still cached
    assert p.token(5) == "ghs_1"
    clock[0] += 2  # inside the margin: renewed before it expires
    assert p.token(5) == "ghs_3"
    assert len(endpoint.requests) == 3


def test_app_jwt_claims() -> None:
    clock = [1_700_000_000.0]
    token = provider(TokenEndpoint(clock), clock).app_jwt()
    claims = jwt.decode(
        token, KEY.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {"iat": 1_700_000_000 - 60, "exp": 1_700_000_000 + 540, "iss": "77"}


def test_refused_token_raises_without_leaking_the_jwt() -> None:
    clock = [time.time()]
    endpoint = TokenEndpoint(clock, status=401)
    with pytest.raises(GitHubAuthError) as err:
        provider(endpoint, clock).token(5)
    sent_jwt = endpoint.requests[0].headers["authorization"].split()[1]
    assert err.value.status == 401 and sent_jwt not in str(err.value) and "installation 5" in str(err.value)


def test_bad_private_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PEM"):
        AppTokenProvider(1, "-----BEGIN NOTHING-----")


def test_app_mode_needs_an_installation() -> None:
    clock = [time.time()]
    with pytest.raises(ConfigError, match="installation"):
        provider(TokenEndpoint(clock), clock).token(None)


def test_personal_token_mode_and_provider_choice() -> None:
    static = token_provider(GitHubConfig(token="ghp_abc"))
    assert isinstance(static, StaticTokenProvider) and static.token(None) == "ghp_abc" and static.token(3) == "ghp_abc"
    assert "ghp_abc" not in repr(static) and "ghp_abc" not in repr(GitHubConfig(token="ghp_abc"))
    assert isinstance(token_provider(GitHubConfig(app_id=3, private_key=PEM)), AppTokenProvider)
    with pytest.raises(ConfigError, match="no GitHub credentials"):
        token_provider(GitHubConfig())
    with pytest.raises(ConfigError, match="private key"):
        token_provider(GitHubConfig(app_id=3))


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
    ],
)
def test_web_url_for_api_url(api: str, web: str) -> None:
    assert web_url_for(api) == web
    assert GitHubConfig(api_url=api).web == web


def test_config_from_settings_reads_key_file_and_secrets(tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(PEM)
    settings = SimpleNamespace(
        github_app_id=12, github_private_key_path=key_file, github_token=SecretStr("ghp_x"), github_api_url=API
    )
    config = GitHubConfig.from_settings(settings)
    assert (config.app_id, config.private_key, config.token, config.web) == (
        12,
        PEM,
        "ghp_x",
        "https://ghe.example.com",
    )
    missing = SimpleNamespace(github_app_id=12, github_private_key_path=tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match="nope.pem"):
        GitHubConfig.from_settings(missing)
    with pytest.raises(ConfigError, match="https://"):
        GitHubConfig(api_url="ghe.example.com")
    assert json.dumps(GitHubConfig.from_settings(SimpleNamespace()).api_url) == '"https://api.github.com"'
