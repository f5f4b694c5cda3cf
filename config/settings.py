"""The single Settings object; every SIGNOFF_* variable is read here and nowhere else."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; defaults run everything embedded on one laptop."""

    model_config = SettingsConfigDict(env_prefix="SIGNOFF_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".signoff"), description="Embedded state lives here.")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    temporal_tls: bool = False
    temporal_api_key: SecretStr | None = None
    task_queue: str = "signoff-approvals"

    database_url: str = ""

    worker_sticky_cache_size: int = Field(default=2000, ge=0)
    worker_activity_threads: int = Field(
        default=32, ge=1, description="Threads for sync activities, and so their concurrency."
    )
    worker_graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    worker_metrics_port: int = Field(
        default=9464, description="Prometheus /metrics of the worker's Temporal SDK; 0: off."
    )
    worker_metrics_host: str = "127.0.0.1"

    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector base URL (e.g. http://otel:4318); unset: no tracing.",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = Field(
        default="", description="Base URL clients reach the API at (default http://host:port)."
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs tokens and local file URLs; generated into the data folder if unset.",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Key ring for secrets at rest: ID:BASE64 entries (32-byte AES-256 keys), comma "
            "separated, the first encrypting; generated into the data folder if unset."
        ),
    )
    jwt_issuer: str = "signoff"
    jwt_audience: str = "signoff-api"
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    oidc_jwks_url: str | None = Field(
        default=None, description="Accept RS256 tokens signed by this JWKS (OIDC) as well."
    )
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)

    rate_limit_enabled: bool = Field(
        default=True, description="Limit logins, refreshes and writes per user, e-mail and IP."
    )
    rate_limit_window_seconds: int = Field(
        default=60, ge=1, le=86400, description="Length of one fixed counting window."
    )
    rate_limit_login_per_ip: int = Field(default=30, ge=1, description="Per window.")
    rate_limit_login_per_email: int = Field(default=10, ge=1, description="Per window.")
    rate_limit_refresh_per_ip: int = Field(default=60, ge=1, description="Per window.")
    rate_limit_writes_per_user: int = Field(default=120, ge=1, description="Per window.")
    rate_limit_writes_per_ip: int = Field(default=600, ge=1, description="Per window.")
    rate_limit_redis_url: SecretStr | None = Field(
        default=None,
        description="Keep the counters in Redis (redis://host:6379/0) instead of the SQL database.",
    )
    rate_limit_fail_open: bool = Field(
        default=True,
        description="When the counter store is down: let requests through (logged) or answer 503.",
    )
    mfa_issuer: str = Field(
        default="Signoff",
        min_length=1,
        max_length=100,
        description="The issuer name authenticator apps show beside a TOTP entry.",
    )

    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    signed_url_seconds: int = Field(default=300, ge=1)
    objects_dir: Path | None = Field(default=None, description="Local object store folder.")
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None

    smtp_host: str | None = Field(
        default=None, description="SMTP relay; unset writes e-mails to the outbox folder."
    )
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_tls: bool = Field(default=False, description="Implicit TLS (port 465) instead.")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Signoff <signoff@signoff.localhost>"
    reply_address: str | None = Field(
        default=None,
        description="Approvals by reply: replies go to local+TOKEN@domain of this address.",
    )
    outbox_dir: Path | None = Field(default=None, description="Where e-mails go without SMTP.")
    action_link_days: int = Field(default=7, ge=1)

    reply_imap_host: str | None = None
    reply_imap_port: int = 993
    reply_imap_ssl: bool = True
    reply_imap_username: str | None = None
    reply_imap_password: SecretStr | None = None
    reply_imap_folder: str = "INBOX"
    reply_poll_seconds: int = Field(default=30, ge=5)

    webhook_allow_private: bool = Field(
        default=False, description="Allow webhook targets on private or loopback addresses."
    )
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    sse_poll_seconds: float = Field(default=0.25, gt=0)

    erp_adapter: str = Field(
        default="reference", description="ERP adapter plugin (entry point in signoff.erp_adapters)."
    )
    invoice_template_key: str = Field(
        default="invoice", description="The approval template an invoice's approval starts from."
    )
    invoice_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    invoice_max_pages: int = Field(default=50, ge=1)
    invoice_ocr_max_pages: int = Field(default=10, ge=0)
    invoice_extract_seconds: float = Field(default=120.0, gt=0)
    invoice_extract_memory_mb: int = Field(default=1024, ge=64)
    invoice_time_limit_days: int = Field(
        default=30, ge=1, description="An invoice not done after this many days ends FAILED."
    )
    invoice_review_reminder_hours: float = Field(
        default=24.0, gt=0, description="How often the AP team is reminded of a parked invoice."
    )
    invoice_quantity_tolerance: float = Field(default=0.0, ge=0, description="3-way match, share.")
    invoice_price_tolerance: float = Field(default=0.02, ge=0, description="3-way match, share.")
    invoice_total_tolerance: Decimal = Field(
        default=Decimal("0.02"), ge=0, description="Totals add up within this many units."
    )
    intake_batch_size: int = Field(default=50, ge=1, le=500)
    intake_mail_max_bytes: int = Field(default=40 * 1024 * 1024, ge=1)
    intake_archive_max_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Zip attachments may expand to this much."
    )

    holiday_years_ahead: int = Field(
        default=2, ge=0, description="Years of public holidays resolved into a request's calendar."
    )

    @field_validator("worker_metrics_port")
    @classmethod
    def _a_port_or_off(cls, port: int) -> int:
        if not 0 <= port <= 65535:
            raise ValueError(f"SIGNOFF_WORKER_METRICS_PORT must be 0 (off) or 1-65535, not {port}")
        return port

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _an_http_url(cls, url: str | None) -> str | None:
        if not url:
            return None  # an empty variable means off, like an unset one
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a port that is not a number or out of range
        except ValueError as error:
            raise ValueError(f"SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL like "
                f"http://collector:4318, not {url!r}"
            )
        return url

    @model_validator(mode="after")
    def _oidc_needs_an_issuer(self) -> Settings:
        if self.oidc_jwks_url and not self.oidc_issuer:
            raise ValueError("SIGNOFF_OIDC_ISSUER is required with SIGNOFF_OIDC_JWKS_URL")
        return self

    def resolved_public_url(self) -> str:
        """Where clients reach the API, without a trailing slash."""
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    def resolved_objects_dir(self) -> Path:
        """The local object store's folder."""
        return self.objects_dir or self.data_dir / "objects"

    def resolved_outbox_dir(self) -> Path:
        """Where e-mails are written when no SMTP relay is configured."""
        return self.outbox_dir or self.data_dir / "outbox"

    def resolved_database_url(self) -> str:
        """The SQL URL: configured, else a SQLite file under the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'signoff.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()
