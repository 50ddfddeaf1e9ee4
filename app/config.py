"""The one place for settings: read from the environment (and an optional `.env`)."""

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The development default of SECRET_KEY; production refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
# A hand-made SECRET_KEY is refused in production by these marks (not a measure of entropy).
# 10, not 16: 32 random hex digits (`openssl rand -hex 16`) often show only 12 to 15 of the 16.
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 10


def secret_key_problem(secret: str) -> str | None:
    """Why `secret` is no key for production (None when it may be one)."""
    advice = "generate one, e.g. `openssl rand -base64 32`"
    if secret == DEV_SECRET_KEY or len(secret) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY must be a random value of at least {SECRET_KEY_MIN_LENGTH} characters"
    if (distinct := len(set(secret))) < SECRET_KEY_MIN_DISTINCT:
        return (
            f"SECRET_KEY has only {distinct} distinct characters (at least "
            f"{SECRET_KEY_MIN_DISTINCT}): it is not random; {advice}"
        )
    if secret in (secret + secret)[1:-1]:  # a shorter block repeated
        return f"SECRET_KEY repeats a shorter sequence: it is not random; {advice}"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./var/registry.db"
    database_echo: bool = False
    # Observability (app/observability; docs/operations.md "Metrics and traces"): one JSON
    # object per log line with "json"; OpenTelemetry traces sent over OTLP/HTTP when set.
    log_format: Literal["text", "json"] = "text"
    otel_exporter_otlp_endpoint: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 20
    # Ping each pooled connection before use (a round trip per request). Off: a connection
    # broken by a database restart fails one request with 503 `unavailable`, which also
    # recycles the whole pool, and the client retries (clients of this API do).
    db_pool_pre_ping: bool = False
    db_connect_timeout_s: float = 5.0
    db_statement_timeout_ms: int = 15_000
    # Garbage collection of a serving process (app/gc_tuning.py): what start-up built is
    # frozen out of collections, and the youngest generation is collected after this many
    # allocations instead of 700 (0 keeps Python's thresholds).
    gc_freeze: bool = True
    gc_gen0_threshold: int = Field(20_000, ge=0)

    # Lists
    page_size_default: int = Field(50, ge=1)
    page_size_max: int = Field(500, ge=1)

    # Clinical settings, defaults from clinical-rules.md
    workup_imaging_max_age_days: int = 90
    workup_platelets_min_10e9_per_l: float = 50.0
    workup_inr_max: float = 1.5
    baseline_window_days: int = 30
    improvement_points: float = 2.0
    improvement_fraction: float = 0.30
    future_tolerance_s: int = 300
    # The IANA time zone whose calendar days are the clinical days (a date of death, date
    # filters, Kaplan-Meier days; app/clinical/days.py). Timestamps stay stored in UTC.
    registry_time_zone: str = "UTC"

    # --- Access control, audit trail and hardening (issue 3; app/auth, app/audit) ---
    # HMAC key for API key hashes. Environment only; production refuses the default or a
    # short one. Changing it invalidates every API key.
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    # Optional OAuth2 bearer JWTs from the hospital's identity provider: all of issuer and
    # audience, plus a JWKS URL or an inline JWKS document (JSON), enable them.
    oauth2_issuer: str | None = None
    oauth2_audience: str | None = None
    oauth2_jwks_url: str | None = None
    oauth2_jwks: str | None = None
    oauth2_algorithms: Annotated[list[str], NoDecode] = ["RS256", "ES256"]
    oauth2_leeway_s: int = Field(30, ge=0)
    # Browser dashboards on other origins (comma-separated), e.g. https://dash.example.org
    cors_origins: Annotated[list[str], NoDecode] = []
    # Request bodies above this are refused with 413.
    max_request_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    # Per-credential token bucket (per process), and failed authentications per client address.
    rate_limit_per_minute: int = Field(1200, ge=1)
    rate_limit_burst: int = Field(200, ge=1)
    auth_failures_per_minute: int = Field(30, ge=1)
    auth_failures_burst: int = Field(30, ge=1)
    # An API key authenticated in the last N seconds is trusted without reading the database
    # again (per process). A revocation is at once in the process that made it, within N
    # seconds in the others. 0: read the key on every request.
    auth_cache_seconds: float = Field(5.0, ge=0, le=300)
    # Web pages (/app, app/web): a signed-in session lasts this long, then signs in again.
    web_session_minutes: int = Field(480, ge=1, le=24 * 60)
    # `vertebro serve` (app/serving.py): a request's headers must arrive within this many
    # seconds and fit in this many bytes and fields (else 408 / 431); a body may pause this
    # long between reads (else 408).
    http_header_timeout_s: float = Field(10.0, gt=0)
    http_body_timeout_s: float = Field(30.0, gt=0)
    http_max_header_bytes: int = Field(32 * 1024, ge=4096)
    http_max_headers: int = Field(100, ge=16)

    @field_validator("registry_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            if value != "UTC":  # UTC needs no time zone database
                ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"{value!r} is not an IANA time zone name (e.g. 'UTC', 'America/Toronto')"
            ) from error
        return value

    @field_validator("cors_origins", "oauth2_algorithms", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def oauth2_enabled(self) -> bool:
        return bool(
            self.oauth2_issuer
            and self.oauth2_audience
            and (self.oauth2_jwks_url or self.oauth2_jwks)
        )

    def stats_noise_key(self) -> bytes:
        """The key of the stats:read noise: STATS_NOISE_SECRET, else one derived from
        SECRET_KEY (HMAC-SHA256 with a fixed label, so the SECRET_KEY itself is not used)."""
        if self.stats_noise_secret is not None:
            return self.stats_noise_secret.get_secret_value().encode()
        secret = self.secret_key.get_secret_value().encode()
        return hmac.new(secret, b"vertebro stats noise v1", hashlib.sha256).digest()

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve in production (empty when it may)."""
        if self.environment != "production":
            return []
        problems = []
        if secret_problem := secret_key_problem(self.secret_key.get_secret_value()):
            problems.append(secret_problem)
        noise = self.stats_noise_secret
        if noise is not None and secret_key_problem(noise.get_secret_value()):
            problems.append("STATS_NOISE_SECRET must be a random value like SECRET_KEY's")
        if self.database_echo:
            problems.append("DATABASE_ECHO would log parameter values (patient data)")
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS must list origins, not *")
        return problems

    # --- Imaging triggers and notifications (issue 5; app/triggers, app/notifications) ---
    # Rule A: the day-14 check (due at t0 + this many days) and the window a score must fall in
    # for "no improvement" rather than "follow-up overdue"; it applies when baseline >= this.
    trigger_check_day: int = Field(14, ge=1)
    trigger_window_start_day: int = Field(7, ge=0)
    trigger_min_baseline: float = 2.0
    # Rule B: a score this many points above the lowest since the improvement is a worsening.
    worsening_points: float = 2.0
    # The time-based sweep inside the service (off: run `vertebro triggers sweep` from cron).
    triggers_scheduler_enabled: bool = True
    triggers_sweep_interval_s: float = Field(300.0, gt=0)
    # The webhook delivery worker inside the service (off: run `vertebro worker`).
    notifications_worker_enabled: bool = True
    notifications_poll_interval_s: float = Field(2.0, gt=0)
    # `vertebro worker` touches this file after each poll; `vertebro worker --check` (a
    # container's healthcheck) fails when it is older than three polls and 30 s
    worker_heartbeat_file: Path | None = None
    webhook_batch_size: int = Field(20, ge=1)
    webhook_timeout_s: float = Field(10.0, gt=0)
    # A claimed message is someone else's to retry once its lease runs out (worker crash).
    webhook_lease_s: float = Field(60.0, gt=0)
    # Retries: exponential backoff base * 2^(attempt-1), capped, with +/- jitter fraction;
    # the message is dead after this many attempts.
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_backoff_base_s: float = Field(10.0, ge=0)
    webhook_backoff_max_s: float = Field(3600.0, ge=0)
    webhook_backoff_jitter: float = Field(0.25, ge=0, le=1)
    # Webhook URLs must name hosts with public addresses only (no loopback, private,
    # link-local, ...; app/notifications/destinations.py). On: also private networks, for an
    # on-premise integration engine; the other URL rules still hold.
    webhook_allow_private_networks: bool = False

    # --- EHR event ingestion and idempotency (issue 4; app/ingestion) ---
    # POST /api/v1/events: a batch with more events is refused whole with 413.
    ingest_batch_max_events: int = Field(1000, ge=1)
    # refused events (GET /events?status=rejected) are kept this long (events purge-rejections)
    event_rejections_retention_days: int = Field(90, ge=1)
    # FHIR Bulk Data $export (app/ingestion/fhir/bulk.py): where the NDJSON files are written
    # (a volume every API process shares), how long they are kept, how often jobs are looked for
    bulk_export_dir: Path = Path("var/bulk-exports")
    bulk_export_retention_hours: float = Field(24.0, gt=0)
    bulk_export_poll_s: float = Field(2.0, gt=0)
    # Group commit: single events arriving at one process while it writes share the next
    # transaction (up to this many events in one; 1 turns grouping off), with this many such
    # transactions at once per process.
    ingest_group_max_events: int = Field(100, ge=1)
    ingest_group_writers: int = Field(1, ge=1)
    # Idempotency-Key on other POSTs: the stored answer is replayed for this long; a duplicate
    # arriving while the original is still running waits this long for its answer (else 409).
    idempotency_key_ttl_hours: int = Field(24, ge=1)
    idempotency_wait_s: float = Field(10.0, ge=0)
    # The FHIR door: the event source recorded for conditional creates (If-None-Exist).
    fhir_source: str = "urn:vertebro:fhir"
    # The HL7 v2 door (app/hl7; docs/hl7v2.md): `vertebro mllp` acts as the API key in
    # HL7_MLLP_API_KEY (scope events:write); a frame larger than this many bytes is refused.
    hl7_mllp_api_key: SecretStr | None = None
    hl7_mllp_max_frame_bytes: int = Field(1_048_576, ge=1024)

    # --- Outcome statistics (issue 6; app/outcomes) ---
    # Small-cell suppression for stats:read (stats:research sees exact figures): no count in
    # 1..k-1 and no figure from fewer than k patients is published.
    stats_suppression_k: int = Field(5, ge=2)
    # Disclosure control (issue 16; app/outcomes/disclosure.py, docs/disclosure-control-design.md):
    # the secret keying every stats:read noise (unset: derived from SECRET_KEY, whose default
    # production refuses; a weak one is refused too; rotating it, or SECRET_KEY while it is
    # unset, redraws every noise: only after a compromise), at most this many filters per stats:read
    # query, and no stats:read figure from a cohort under this many patients (perturbed).
    stats_noise_secret: SecretStr | None = None
    stats_read_max_filters: int = Field(2, ge=1)
    stats_min_patients: int = Field(10, ge=1)
    # The first read after writes recomputes the summary of the patients written; a full
    # rebuild (after a migration or a change of the clinical settings) may take minutes.
    stats_refresh_timeout_ms: int = Field(600_000, ge=1000)
    # PostgreSQL work_mem for the aggregate queries (in-memory sorts for the quartiles), and
    # how many of a request's aggregate statements run at once, each on its own connection.
    stats_work_mem_mb: int = Field(64, ge=4, le=4096)
    stats_parallel_queries: int = Field(4, ge=1, le=16)
    # PostgreSQL: into how many statements a request's episode figures are split (each scans
    # the cohort once: more CPU in all, less time when the database server has the cores).
    stats_scan_split: int = Field(2, ge=1, le=16)
    # Computed responses are reused until a write changes the data (never stale after a
    # write); figures that move with the clock alone (a follow-up window closing) may lag by
    # up to this. 0: no cache.
    stats_cache_ttl_s: float = Field(60.0, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
