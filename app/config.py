"""One settings object, read from the environment. The defaults give the embedded mode."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./hogflows.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(default=EMBEDDED_DATABASE_URL, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    secret_key: str = Field(default="insecure-dev-secret", validation_alias="HOGFLOWS_SECRET_KEY")
    site_url: str = Field(default="http://localhost:8000", validation_alias="HOGFLOWS_SITE_URL")
    log_level: str = Field(default="INFO", validation_alias="HOGFLOWS_LOG_LEVEL")
    log_json: bool = Field(default=False, validation_alias="HOGFLOWS_LOG_JSON")
    # One line per HTTP request (method, route, status, duration, request id); uvicorn's own is off.
    access_log: bool = Field(default=True, validation_alias="HOGFLOWS_ACCESS_LOG")
    # A flow with hundreds of actions stays far below this; anything bigger is abuse.
    max_request_body_bytes: int = Field(default=5 * 1024 * 1024, validation_alias="HOGFLOWS_MAX_BODY_BYTES")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    queue_name: str = Field(default="hogflows:queue", validation_alias="HOGFLOWS_QUEUE_NAME")
    worker_concurrency: int = Field(default=20, ge=1, validation_alias="HOGFLOWS_WORKER_CONCURRENCY")
    # The most runs of one team a worker executes at once (0: three quarters of the worker's concurrency),
    # so one team's backlog always leaves room for the others.
    team_concurrency: int = Field(default=0, ge=0, validation_alias="HOGFLOWS_TEAM_CONCURRENCY")
    # A worker's lease on the runs it executes; a heartbeat renews it while a pickup works, so a dead
    # worker's runs are taken over after about this long (plus a sweep interval).
    run_lease_seconds: float = Field(default=10, ge=1, le=600, validation_alias="HOGFLOWS_RUN_LEASE_SECONDS")
    # On SIGTERM a worker lets pickups in flight finish for this long, then gives the rest back.
    shutdown_grace_seconds: float = Field(default=20, ge=0, validation_alias="HOGFLOWS_SHUTDOWN_GRACE")

    @property
    def team_concurrency_cap(self) -> int:
        return self.team_concurrency or max(1, self.worker_concurrency * 3 // 4)

    # How often each worker looks for runs that are due or whose worker died.
    sweep_interval_seconds: int = Field(default=5, ge=1, le=30, validation_alias="HOGFLOWS_SWEEP_INTERVAL")
    # How long past its time a waiting run may sit before the sweeper queues it again under a new job id.
    sweep_grace_seconds: int = Field(default=10, ge=1, le=3600, validation_alias="HOGFLOWS_SWEEP_GRACE")
    # Outbound requests to private and loopback addresses are refused unless this is on.
    allow_private_fetch: bool = Field(default=False, validation_alias="HOGFLOWS_ALLOW_PRIVATE_FETCH")
    # Batch jobs: persons read per page (one transaction each), the worker's lease on a job, how long
    # one task works on a job before handing it on, and an optional cap on runs per job (0 = none).
    batch_page_size: int = Field(default=500, ge=1, le=10_000, validation_alias="HOGFLOWS_BATCH_PAGE_SIZE")
    batch_lease_seconds: float = Field(default=60, gt=0, validation_alias="HOGFLOWS_BATCH_LEASE_SECONDS")
    batch_slice_seconds: float = Field(default=10, gt=0, validation_alias="HOGFLOWS_BATCH_SLICE_SECONDS")
    batch_max_audience_size: int = Field(default=0, ge=0, validation_alias="HOGFLOWS_BATCH_MAX_AUDIENCE")
    # Batch jobs for more persons than this need the confirm token `user_blast_radius` issues (0 = never).
    batch_confirm_threshold: int = Field(default=10_000, ge=0, validation_alias="HOGFLOWS_BATCH_CONFIRM_THRESHOLD")
    # Retention in days (0 = keep forever): log lines, metric rows, finished runs with their steps and sends.
    log_retention_days: int = Field(default=14, ge=0, validation_alias="HOGFLOWS_LOG_RETENTION_DAYS")
    metric_retention_days: int = Field(default=90, ge=0, validation_alias="HOGFLOWS_METRIC_RETENTION_DAYS")
    run_retention_days: int = Field(default=30, ge=0, validation_alias="HOGFLOWS_RUN_RETENTION_DAYS")
    # Rows per DELETE; the sweeper deletes a few batches of each kind per housekeeping pass.
    retention_batch_size: int = Field(default=1000, ge=1, le=100_000, validation_alias="HOGFLOWS_RETENTION_BATCH")
    # The most persons one `POST {p}/persons/` may upsert.
    persons_bulk_max: int = Field(default=50_000, ge=1, validation_alias="HOGFLOWS_PERSONS_BULK_MAX")

    # Function steps: outbound HTTP (`fetch`).
    fetch_timeout_seconds: float = Field(default=10.0, gt=0, validation_alias="HOGFLOWS_FETCH_TIMEOUT")
    fetch_max_response_bytes: int = Field(
        default=1024 * 1024, ge=1024, validation_alias="HOGFLOWS_FETCH_MAX_RESPONSE_BYTES"
    )
    # First retry after about this long (then twice, plus jitter, capped at 30 s).
    fetch_retry_base_seconds: float = Field(default=1.0, gt=0, validation_alias="HOGFLOWS_FETCH_RETRY_BASE")
    # JSON object host -> base URL, e.g. {"slack.com": "http://127.0.0.1:9000"}: requests to that host go
    # to the base URL instead (local fakes of Slack or Twilio, a corporate egress proxy per host...).
    fetch_url_overrides: dict[str, str] = Field(default_factory=dict, validation_alias="HOGFLOWS_FETCH_URL_OVERRIDES")

    # Function steps: email (`sendEmail`) over SMTP. Without a host, email steps fail with a clear error.
    smtp_host: str | None = Field(default=None, validation_alias="HOGFLOWS_SMTP_HOST")
    smtp_port: int = Field(default=587, validation_alias="HOGFLOWS_SMTP_PORT")
    smtp_user: str | None = Field(default=None, validation_alias="HOGFLOWS_SMTP_USER")
    smtp_password: str | None = Field(default=None, validation_alias="HOGFLOWS_SMTP_PASSWORD")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(default="starttls", validation_alias="HOGFLOWS_SMTP_TLS")
    email_from: str | None = Field(default=None, validation_alias="HOGFLOWS_EMAIL_FROM")

    # Events in (capture endpoints): PostHog's per-flow trigger rate limit, a token bucket per flow.
    trigger_rate_limit_bucket_size: int = Field(
        default=100, ge=1, validation_alias="HOGFLOWS_TRIGGER_RATE_LIMIT_BUCKET"
    )
    trigger_rate_limit_refill_per_second: float = Field(
        default=1.0, ge=0, validation_alias="HOGFLOWS_TRIGGER_RATE_LIMIT_REFILL"
    )
    trigger_rate_limit_ttl_seconds: int = Field(default=86400, ge=1, validation_alias="HOGFLOWS_TRIGGER_RATE_LIMIT_TTL")
    # A team's active event flows are cached in-process; this process's own saves drop the cache at once,
    # this bounds how long another API process's save goes unseen.
    event_flow_cache_seconds: float = Field(default=10.0, ge=0, validation_alias="HOGFLOWS_EVENT_FLOW_CACHE_SECONDS")
    # API: how long an API process trusts a cached personal API key (its user, scopes, teams). Writes in
    # this process drop the cache at once; other processes' writes are seen after at most this long.
    api_auth_cache_seconds: float = Field(default=5.0, ge=0, validation_alias="HOGFLOWS_API_AUTH_CACHE_SECONDS")
    # API: per personal API key limits, as PostHog's burst and sustained throttles (DRF rates; empty = off).
    api_rate_limit_burst: str = Field(default="480/minute", validation_alias="HOGFLOWS_API_RATE_LIMIT_BURST")
    api_rate_limit_sustained: str = Field(default="4800/hour", validation_alias="HOGFLOWS_API_RATE_LIMIT_SUSTAINED")
    # Compressed capture bodies may not inflate past this (gzip bombs).
    max_capture_inflated_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, validation_alias="HOGFLOWS_MAX_CAPTURE_INFLATED_BYTES"
    )

    @field_validator("api_rate_limit_burst", "api_rate_limit_sustained")
    @classmethod
    def _drf_rate(cls, rate: str) -> str:
        from app.services.rate_limit import parse_rate

        parse_rate("setting", rate)  # raises ValueError with the expected format
        return rate

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Operators paste the URL their platform gives them; the service only speaks async drivers.
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url


@lru_cache
def get_settings() -> Settings:
    """The environment's settings, read by entry points only (`hogflows` CLI, `create_app()`); every
    other module is handed the app's or the worker's `Settings`."""
    return Settings()
