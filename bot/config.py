"""Settings of the GitHub side (webhook receiver, Celery workers), environment prefix ``DOPPEL_``.

These fields are meant to join ``core.settings.Settings``; until they do they live here, with
their final environment names, so that deployments need not change when they move. Read them
once at an edge (``create_app``, the Celery app, the CLI) and pass them on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that only ever appear in examples; start-up refuses them outside insecure development.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "placeholder", "xxx", "test"})


class BotSettings(BaseSettings):
    """Webhook receiver and worker settings. Environment: ``DOPPEL_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="DOPPEL_", env_file=".env", extra="ignore")

    # --- webhook receiver ----------------------------------------------------------------
    github_webhook_secret: SecretStr | None = Field(
        None,
        description="Secret shared with the GitHub App's webhook; every delivery's X-Hub-Signature-256 "
        "is checked against it. Required unless DOPPEL_INSECURE_DEV is set.",
    )
    insecure_dev: bool = Field(
        False,
        description="Development only: start the webhook receiver without a secret (or with a placeholder) "
        "and accept unsigned deliveries. Never set this in production.",
    )
    webhook_max_body_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="Largest webhook body accepted (GitHub caps payloads at 25 MB); larger ones get 413.",
    )
    delivery_ttl_seconds: int = Field(
        3 * 24 * 3600,
        ge=60,
        description="How long a delivery id (X-GitHub-Delivery) is remembered to drop repeated deliveries.",
    )
    review_drafts: bool = Field(False, description="Review draft pull requests too (default: wait until ready).")
    bot_login: str = Field(
        "doppel[bot]",
        description="The bot's own GitHub login; events it caused and comments it wrote are ignored.",
    )

    # --- queue -----------------------------------------------------------------------------
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis for the Celery broker and results, delivery de-duplication and per-PR coalescing.",
    )
    review_lock_seconds: int = Field(
        1800,
        ge=30,
        description="Longest a pull request review may hold its per-PR lock; a crashed worker's lock expires then.",
    )
    task_max_retries: int = Field(5, ge=0, le=50, description="Retries of a task after a transient error.")
    retry_backoff_max_seconds: int = Field(
        600, ge=1, description="Cap on the delay between retries (a longer Retry-After is still honoured)."
    )
    retrain_hour_utc: int = Field(3, ge=0, le=23, description="Hour (UTC) of the nightly per-repository retrain.")
    reconcile_interval_seconds: int = Field(
        900, ge=30, description="How often the reconciler looks for open pull requests without a doppel review."
    )
    worker_runtime: str | None = Field(
        None,
        description="Import path 'module:function' returning the workers' collaborators (GitHub client, "
        "services). Unset: the production wiring. Tests point it at fakes.",
    )

    # --- GitHub access -----------------------------------------------------------------------
    github_app_id: int | None = Field(None, description="GitHub App id (with DOPPEL_GITHUB_PRIVATE_KEY_PATH).")
    github_private_key_path: Path | None = Field(None, description="PEM private key of the GitHub App.")
    github_token: SecretStr | None = Field(
        None, description="A personal or Actions token, used instead of App credentials when set."
    )
    github_api_url: str = Field(
        "https://api.github.com", description="GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)."
    )
    repos_dir: Path | None = Field(
        None, description="Where workers keep bare clones of reviewed repositories. Unset: DATA_DIR/repos."
    )

    @field_validator("github_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def webhook_secret_bytes(self) -> bytes | None:
        """The webhook secret as bytes, or ``None`` when unset (insecure development only)."""
        if self.github_webhook_secret is None:
            return None
        secret = self.github_webhook_secret.get_secret_value()
        return secret.encode() if secret else None


@lru_cache(maxsize=1)
def get_bot_settings() -> BotSettings:
    """Bot settings read from the environment once per process (edges only)."""
    return BotSettings()
