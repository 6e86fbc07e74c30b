"""Settings: the one place configuration is read from the environment.

``DATABASE_URL`` (or ``ZAVA_DATABASE_URL``) selects an external PostgreSQL; when it is
unset the embedded PostgreSQL under ``ZAVA_DATA_DIR`` is used. Every other setting is
``ZAVA_<NAME>``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

import platformdirs
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from zava.errors import ConfigurationError

SCOPES = ("store", "region", "head_office")
"""How far a manager sees: one store or a few, a region, every store."""


class ShareLimits(BaseModel):
    """One scope's fair share per caller (0 turns a limit off)."""

    concurrency: int = Field(default=4, ge=0, description="Calls in flight at once.")
    rate_per_s: float = Field(default=50.0, ge=0, description="Sustained calls per second.")
    burst: int = Field(default=100, ge=1, description="Calls allowed at once above the rate.")


def default_limits() -> dict[str, ShareLimits]:
    """Store managers get fewer parallel calls than those who see many stores."""
    return {"store": ShareLimits(concurrency=4), "region": ShareLimits(concurrency=6),
            "head_office": ShareLimits(concurrency=8)}

_ASYNC_DRIVER = "postgresql+asyncpg"


def normalise_database_url(raw: str) -> str:
    """Return ``raw`` with the asyncpg driver, accepting ``postgres://`` and ``postgresql://``."""
    # SQLAlchemy is imported when used: a stdio server on the embedded database answers
    # ``initialize`` before it needs it (benchmarks/startup.py).
    from sqlalchemy.engine import make_url

    try:
        url = make_url(raw.strip())
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise ConfigurationError(
            "DATABASE_URL is not a valid URL; expected postgresql://user:password@host:port/db"
        ) from exc
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"DATABASE_URL uses '{url.drivername}', but Zava needs PostgreSQL "
            "(postgresql://user:password@host:port/db)"
        )
    return url.set(drivername=_ASYNC_DRIVER).render_as_string(hide_password=False)


def mask_database_url(raw: str) -> str:
    """Return the URL with its password replaced by ``***``."""
    from sqlalchemy.engine import make_url

    url = make_url(raw)
    return url.render_as_string(hide_password=True)


class Settings(BaseSettings):
    """Every setting the product reads, with its environment variable and default."""

    model_config = SettingsConfigDict(env_prefix="ZAVA_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ZAVA_DATABASE_URL", "DATABASE_URL"),
        description="External PostgreSQL for the server; unset means the embedded one.",
    )
    admin_database_url: str | None = Field(
        default=None,
        description="Login used for migrations and seeding; defaults to database_url.",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("zava")),
        description="Where the embedded PostgreSQL keeps its cluster.",
    )
    database_name: str = Field(default="zava", description="Database name in the embedded cluster.")

    rls_user: UUID | None = Field(default=None, description="The stdio caller's manager id.")
    token_file: Path | None = Field(default=None, description="Hashed bearer tokens (HTTP).")
    tokens: str | None = Field(default=None, description="Inline '<manager id> <sha256>' pairs.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="HTTP: the bearer token /metrics requires; unset, /metrics answers "
                    "loopback clients only.")
    oauth_issuer: str | None = Field(
        default=None,
        description="HTTP: the OAuth 2.1 / OpenID issuer whose access tokens decide the "
                    "caller (resource-server mode); unset, static tokens are used.")
    oauth_audience: str | None = Field(
        default=None,
        description="The audience (RFC 8707 resource) tokens must carry; default the "
                    "server's public /mcp URL.")
    oauth_manager_claim: str = Field(
        default="sub", min_length=1,
        description="The claim mapped to a manager through retail.manager_identities "
                    "(sub, email, oid, or a custom claim).")
    oauth_manager_id_claim: str | None = Field(
        default=None,
        description="Optional: a claim that carries the manager id itself (no mapping).")
    oauth_required_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["zava:read"],
        description="Scopes every token must have (comma or space separated).")
    oauth_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "PS256", "ES256"],
        description="Accepted signature algorithms (asymmetric only).")
    oauth_leeway_s: float = Field(default=30.0, ge=0, le=300,
                                  description="Clock skew allowed on exp and nbf.")
    oauth_jwks_ttl_s: float = Field(
        default=3600.0, gt=0, description="How long the issuer's keys are used before "
                                          "they are fetched again.")
    oauth_jwks_min_refresh_s: float = Field(
        default=30.0, ge=0,
        description="At most one JWKS fetch per this many seconds for unknown key ids.")
    oauth_token_cache_ttl_s: float = Field(
        default=300.0, ge=0,
        description="A verified token is reused (no re-verification) this long at most, "
                    "never past its expiry.")
    oauth_http_timeout_s: float = Field(
        default=3.0, gt=0, description="Timeout of calls to the identity provider.")
    oauth_introspection_url: str | None = Field(
        default=None,
        description="RFC 7662 endpoint for opaque (non-JWT) tokens; unset, only JWTs.")
    oauth_client_id: str | None = Field(
        default=None, description="Client id of this server at the introspection endpoint.")
    oauth_client_secret: SecretStr | None = Field(
        default=None, description="Its secret (HTTP basic authentication).")
    oauth_introspection_cache_s: float = Field(
        default=60.0, ge=0, description="How long an active introspection answer is reused.")
    allow_privileged_login: bool = Field(
        default=False,
        description="Serve even if the login is superuser, BYPASSRLS, owner or writer "
                    "(every query still runs as the reader role).")

    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_dim: int = Field(default=384, ge=1, le=16000)
    embedding_model_path: Path | None = Field(
        default=None, description="Local folder with the embedding model's files.")
    embedding_runtime: Literal["onnx", "sentence-transformers"] = Field(
        default="onnx",
        description="local provider: run the model with ONNX Runtime (no PyTorch), or with "
                    "sentence-transformers (pip install 'zava[local-embeddings]').")
    embedding_threads: int = Field(
        default_factory=lambda: min(2, os.cpu_count() or 1), ge=1, le=64,
        description="local provider on ONNX Runtime: threads that embed one question "
                    "(default: 2, or 1 on one CPU; idle threads sleep, never spin).")
    embedding_api_base: str = Field(
        default="https://api.openai.com/v1",
        description="openai provider: base URL of an OpenAI-compatible API (OpenAI, Azure "
                    "OpenAI resource endpoint, Ollama, vLLM).")
    embedding_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ZAVA_EMBEDDING_API_KEY", "OPENAI_API_KEY"),
        description="openai provider: the API key (sent as a bearer token, or api-key on Azure).")
    embedding_azure_deployment: str | None = Field(
        default=None, description="openai provider on Azure: the deployment name.")
    embedding_azure_api_version: str | None = Field(
        default=None, description="openai provider on Azure: the api-version query parameter.")
    embedding_timeout_s: float = Field(default=30.0, gt=0)
    embedding_max_retries: int = Field(default=5, ge=0, le=20)
    embedding_batch_size: int = Field(default=64, ge=1, le=2048)
    embedding_cache_size: int = Field(default=2048, ge=0, description="Query embeddings kept.")
    search_mode: Literal["hybrid", "vector", "lexical"] = Field(
        default="hybrid", description="How semantic_search_products ranks products.")

    pool_size: int = Field(default=5, ge=1, le=200)
    pool_max_overflow: int = Field(default=5, ge=0, le=200)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    database_pooler: Literal["none", "pgbouncer"] = Field(
        default="none",
        description="'pgbouncer' when DATABASE_URL points at PgBouncer (or another pooler) "
                    "in transaction mode: no startup settings beyond application_name, no "
                    "statement caches, unnamed prepared statements only.")
    connect_retry_seconds: float = Field(
        default=3.0, ge=0, description="How long to retry a failing connection attempt."
    )
    statement_timeout_ms: int = Field(default=30_000, ge=100)
    lock_timeout_ms: int = Field(default=2_000, ge=10)
    idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=100)
    max_rows: int = Field(default=500, ge=1, le=100_000)
    max_result_bytes: int = Field(
        default=1_000_000, ge=1_000,
        description="JSON bytes one free-form query may return; cut inside PostgreSQL.")
    max_result_depth: int = Field(
        default=32, ge=1, le=100, description="How deeply a returned value may nest.")
    max_query_cost: float = Field(
        default=100_000_000, ge=0,
        description="Free SQL whose planner cost estimate is above this is refused before "
                    "it runs (0 = no cost gate).")
    caller_limits: dict[str, ShareLimits] = Field(
        default_factory=default_limits,
        description="Per scope (store, region, head_office): calls one caller may have in "
                    "flight and per second, as JSON, e.g. "
                    '\'{"store": {"concurrency": 2, "rate_per_s": 5, "burst": 10}}\'')
    max_sessions_per_caller: int = Field(
        default=100, ge=1,
        description="HTTP with ZAVA_HTTP_STATEFUL only: MCP sessions one caller may have "
                    "open at once (429 beyond); stateless HTTP keeps no sessions.")
    http_stateful: bool = Field(
        default=False,
        description="HTTP: keep 2025-11-25 sessions in this process (needs sticky routing "
                    "behind a load balancer); default stateless, any worker serves any call.")
    http_drain_s: float = Field(
        default=5.0, ge=0,
        description="HTTP, on SIGTERM: while a load balancer probes /ready, answer it 503 "
                    "and keep serving this long before closing the listener.")
    http_shutdown_timeout_s: float = Field(
        default=30.0, gt=0,
        description="HTTP, on SIGTERM: how long calls in flight may take to finish.")
    caller_max_wait_s: float = Field(
        default=5.0, ge=0,
        description="How long a call over its caller's share waits for a slot before "
                    "rate_limited (waiting holds no connection).")
    work_mem: str = Field(
        default="16MB", pattern=r"^[1-9][0-9]{0,6}(kB|MB|GB)$",
        description="work_mem of every read transaction (sorts and hashes spill above it).")
    application_name: str = "zava"

    read_replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated streaming replicas for reads.")
    replica_max_lag_s: float = Field(
        default=30.0, ge=0, description="A replica further behind than this is skipped.")
    replica_check_interval_s: float = Field(
        default=5.0, gt=0, description="How often a replica's health and lag are re-checked.")

    redis_url: str | None = Field(
        default=None, description="Shared cache for HTTP replicas; unset means in-memory.")
    cache_size: int = Field(default=10_000, ge=0, description="In-memory cache entries.")
    cache_prefix: str = Field(default="zava", min_length=1,
                              description="Prefix of every cache key (one per deployment).")
    cache_ttl_s: float = Field(default=300.0, ge=0,
                               description="Lifetime of cached schema text and valid values.")
    query_cache_ttl_s: float = Field(
        default=0.0, ge=0,
        description="Opt-in: seconds a caller's identical query result is reused (0 = off).")

    export_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs export links (zava://exports/...); unset, each process "
                    "draws its own, so a fleet must set one shared value (32+ random bytes).")
    export_ttl_s: float = Field(default=900.0, gt=0, le=86_400,
                                description="How long an export link can be read.")
    export_max_rows: int = Field(default=100_000, ge=1, le=10_000_000,
                                 description="Rows one export returns at most.")
    export_max_bytes: int = Field(default=100_000_000, ge=1_000,
                                  description="CSV bytes one export returns at most.")

    log_level: str = "INFO"
    log_json: bool = False
    log_queries: bool = Field(
        default=False, description="Put full query text in the logs (never by default).")
    slow_query_ms: float = Field(
        default=1000.0, ge=0, description="Queries slower than this are logged with their plan.")
    traces: bool = Field(
        default=False,
        description="Export OpenTelemetry traces over OTLP/HTTP (on by itself when an OTLP "
                    "endpoint is set; without one the exporter's default, localhost:4318).")
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ZAVA_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector base URL; traces go to <url>/v1/traces.")
    otlp_traces_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ZAVA_OTLP_TRACES_ENDPOINT",
                                      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        description="OTLP/HTTP traces URL, used as given (overrides otlp_endpoint).")

    @field_validator("caller_limits")
    @classmethod
    def _known_scopes(cls, value: dict[str, ShareLimits]) -> dict[str, ShareLimits]:
        unknown = set(value) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scope {sorted(unknown)[0]!r} in ZAVA_CALLER_LIMITS; "
                             f"use {', '.join(SCOPES)}")
        return {**default_limits(), **value}

    @field_validator("database_url", "admin_database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_database_url(value)

    @field_validator("oauth_required_scopes", "oauth_algorithms", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("oauth_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                   "ES512", "EdDSA"}
        refused = [alg for alg in value if alg not in allowed]
        if refused or not value:
            raise ValueError(f"ZAVA_OAUTH_ALGORITHMS: {refused or 'none given'} refused; use "
                             "asymmetric algorithms only (RS256, PS256, ES256, ...)")
        return value

    @field_validator("oauth_issuer", "oauth_audience", "oauth_introspection_url",
                     "oauth_manager_id_claim")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @field_validator("read_replica_urls", mode="before")
    @classmethod
    def _split_replicas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split(",")) if part]
        return value

    @field_validator("read_replica_urls")
    @classmethod
    def _normalise_replicas(cls, value: list[str]) -> list[str]:
        return [normalise_database_url(url) for url in value]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
