"""Settings: database URLs normalised to the asyncpg driver and masked for logs, the
environment variables each setting reads, and the bounds that refuse a bad value."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pydantic
import pytest

from zava.config import Settings, get_settings, mask_database_url, normalise_database_url
from zava.errors import ConfigurationError

ASYNC = "postgresql+asyncpg"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ZAVA_*, DATABASE_URL or OPENAI_API_KEY from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("ZAVA_") or name in ("DATABASE_URL", "OPENAI_API_KEY"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("raw", "normalised"), [
    ("postgresql://u:p@db:5432/zava", f"{ASYNC}://u:p@db:5432/zava"),
    ("postgres://u:p@db/zava", f"{ASYNC}://u:p@db/zava"),
    ("postgresql+psycopg://u@db/zava", f"{ASYNC}://u@db/zava"),
    ("postgresql+asyncpg://u@db/zava", f"{ASYNC}://u@db/zava"),
    ("  postgresql://u@db/zava\n", f"{ASYNC}://u@db/zava"),
    ("postgresql://u:p%40ss%3Aw0rd@db/zava", f"{ASYNC}://u:p%40ss%3Aw0rd@db/zava"),
    ("postgresql://u@/zava?host=/tmp/socket", f"{ASYNC}://u@/zava?host=%2Ftmp%2Fsocket"),
    ("postgresql://u@db/zava?sslmode=require", f"{ASYNC}://u@db/zava?sslmode=require"),
])
def test_urls_get_the_asyncpg_driver_and_keep_the_password(raw: str, normalised: str) -> None:
    assert normalise_database_url(raw) == normalised


@pytest.mark.parametrize(("raw", "named"), [
    ("mysql://u:p@db/zava", "'mysql'"),
    ("sqlite:///zava.db", "'sqlite'"),
    ("redis://localhost:6379/0", "'redis'"),
])
def test_other_databases_are_refused_by_name(raw: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        normalise_database_url(raw)
    assert named in refused.value.message and "needs PostgreSQL" in refused.value.message
    assert refused.value.code == "configuration_error"


@pytest.mark.parametrize("raw", ["not a url s3cret", "://s3cret@", "postgresql://u:s3cret@db:port/x"])
def test_a_malformed_url_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        normalise_database_url(raw)
    assert "s3cret" not in refused.value.message
    assert "postgresql://user:password@host:port/db" in refused.value.message


@pytest.mark.parametrize(("raw", "masked"), [
    ("postgresql://u:s3cret@db:5432/zava", "postgresql://u:***@db:5432/zava"),
    ("postgresql+asyncpg://u:s3cret@db/zava", "postgresql+asyncpg://u:***@db/zava"),
    ("postgresql://u@db/zava", "postgresql://u@db/zava"),
    ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
])
def test_masking_hides_only_the_password(raw: str, masked: str) -> None:
    assert mask_database_url(raw) == masked


def test_defaults_use_the_embedded_database() -> None:
    settings = Settings()
    assert settings.database_url is None and settings.admin_database_url is None
    assert settings.data_dir.name == "zava" and settings.database_name == "zava"
    assert (settings.embedding_provider, settings.embedding_model, settings.embedding_dim) == (
        "local", "all-MiniLM-L6-v2", 384)
    assert settings.read_replica_urls == [] and settings.redis_url is None
    assert not settings.allow_privileged_login and not settings.log_queries


@pytest.mark.parametrize("variable", ["DATABASE_URL", "ZAVA_DATABASE_URL"])
def test_the_database_url_comes_from_either_variable(monkeypatch: pytest.MonkeyPatch,
                                                     variable: str) -> None:
    monkeypatch.setenv(variable, "postgres://app:pw@db/zava")
    assert Settings().database_url == f"{ASYNC}://app:pw@db/zava"


def test_zava_database_url_wins_over_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://generic@db/zava")
    monkeypatch.setenv("ZAVA_DATABASE_URL", "postgresql://specific@db/zava")
    assert Settings().database_url == f"{ASYNC}://specific@db/zava"


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_database_url_means_embedded(monkeypatch: pytest.MonkeyPatch,
                                             blank: str) -> None:
    monkeypatch.setenv("DATABASE_URL", blank)
    monkeypatch.setenv("ZAVA_ADMIN_DATABASE_URL", blank)
    settings = Settings()
    assert settings.database_url is None and settings.admin_database_url is None


def test_a_bad_database_url_in_the_environment_is_a_configuration_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://u@db/zava")
    with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
        Settings()


def test_replicas_are_split_on_commas_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAVA_READ_REPLICA_URLS",
                       " postgresql://r@one/zava ,, postgres://r@two/zava,")
    assert Settings().read_replica_urls == [f"{ASYNC}://r@one/zava", f"{ASYNC}://r@two/zava"]


def test_replicas_given_as_a_list_are_normalised_too() -> None:
    settings = Settings(read_replica_urls=["postgres://r@one/zava"])
    assert settings.read_replica_urls == [f"{ASYNC}://r@one/zava"]


def test_a_bad_replica_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAVA_READ_REPLICA_URLS", "postgresql://r@one/zava,mysql://r@two/zava")
    with pytest.raises(ConfigurationError, match="'mysql'"):
        Settings()


@pytest.mark.parametrize("variable", ["ZAVA_EMBEDDING_API_KEY", "OPENAI_API_KEY"])
def test_the_api_key_is_secret_and_read_from_either_variable(monkeypatch: pytest.MonkeyPatch,
                                                             variable: str) -> None:
    monkeypatch.setenv(variable, "sk-s3cret")
    settings = Settings()
    assert settings.embedding_api_key is not None
    assert settings.embedding_api_key.get_secret_value() == "sk-s3cret"
    assert "sk-s3cret" not in repr(settings) and "sk-s3cret" not in str(settings)


@pytest.mark.parametrize(("variable", "value", "field", "expected"), [
    ("ZAVA_ALLOW_PRIVILEGED_LOGIN", "true", "allow_privileged_login", True),
    ("ZAVA_ALLOW_PRIVILEGED_LOGIN", "0", "allow_privileged_login", False),
    ("ZAVA_POOL_SIZE", "12", "pool_size", 12),
    ("ZAVA_STATEMENT_TIMEOUT_MS", "2500", "statement_timeout_ms", 2500),
    ("ZAVA_DATA_DIR", "/srv/zava", "data_dir", Path("/srv/zava")),
    ("ZAVA_RLS_USER", "f47ac10b-58cc-4372-a567-0e02b2c3d479", "rls_user",
     uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")),
    ("ZAVA_SEARCH_MODE", "lexical", "search_mode", "lexical"),
    ("ZAVA_EMBEDDING_PROVIDER", "openai", "embedding_provider", "openai"),
    ("ZAVA_QUERY_CACHE_TTL_S", "2.5", "query_cache_ttl_s", 2.5),
])
def test_each_setting_reads_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str,
                                         value: str, field: str, expected: object) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), field) == expected


@pytest.mark.parametrize(("field", "value"), [
    ("pool_size", 0), ("pool_size", 201), ("pool_max_overflow", -1), ("pool_timeout_s", 0),
    ("statement_timeout_ms", 99), ("lock_timeout_ms", 9), ("max_rows", 0),
    ("max_rows", 100_001), ("max_result_bytes", 999), ("embedding_dim", 0),
    ("embedding_dim", 16_001), ("embedding_max_retries", 21), ("embedding_batch_size", 0),
    ("cache_prefix", ""), ("cache_ttl_s", -1), ("slow_query_ms", -1),
    ("replica_check_interval_s", 0), ("search_mode", "fuzzy"),
    ("embedding_provider", "cohere"), ("rls_user", "not-a-uuid"),
])
def test_out_of_range_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings.model_validate({field: value})
    assert refused.value.errors()[0]["loc"] == (field,)


def test_unknown_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAVA_NO_SUCH_SETTING", "1")
    assert not hasattr(Settings(), "no_such_setting")


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("ZAVA_POOL_SIZE", "7")
        first = get_settings()
        monkeypatch.setenv("ZAVA_POOL_SIZE", "9")
        assert get_settings() is first and first.pool_size == 7
    finally:
        get_settings.cache_clear()
