"""What the engine asks of asyncpg directly and behind PgBouncer (transaction mode), and
the hint when PgBouncer refuses a login because the setting is missing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from zava.config import Settings
from zava.db.connect import pooler_refusal
from zava.db.engine import connect_args


def test_direct_connections_send_jit_off_and_keep_the_statement_caches() -> None:
    args = connect_args(Settings(application_name="zava-test"))
    assert args["server_settings"] == {"application_name": "zava-test", "jit": "off"}
    assert "statement_cache_size" not in args
    assert "prepared_statement_cache_size" not in args


def test_behind_pgbouncer_only_application_name_and_no_named_statements() -> None:
    args = connect_args(Settings(application_name="zava-test", database_pooler="pgbouncer"))
    assert args["server_settings"] == {"application_name": "zava-test"}
    assert args["statement_cache_size"] == 0
    assert args["prepared_statement_cache_size"] == 0
    assert args["prepared_statement_name_func"]() == ""  # asyncpg's unnamed statement


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAVA_DATABASE_POOLER", "pgbouncer")
    assert Settings().database_pooler == "pgbouncer"
    monkeypatch.setenv("ZAVA_DATABASE_POOLER", "pgpool")
    with pytest.raises(ValidationError):
        Settings()


def test_a_refused_startup_parameter_names_the_setting() -> None:
    error = pooler_refusal(RuntimeError(
        "(sqlalchemy.dialects.postgresql.asyncpg.Error) unsupported startup parameter: jit\n"
        "(Background on this error at: https://sqlalche.me/e/21/dbapi)"))
    assert error is not None
    assert "unsupported startup parameter: jit" in str(error)
    assert "ZAVA_DATABASE_POOLER=pgbouncer" in str(error)
    assert "Background" not in str(error)


def test_other_connection_failures_are_not_pooler_refusals() -> None:
    assert pooler_refusal(ConnectionRefusedError("connection refused")) is None
