"""The error taxonomy: a stable code per kind, the message as the text, and the
hierarchy clients rely on (every database failure is a DatabaseError)."""

from __future__ import annotations

import pytest

from zava import errors
from zava.errors import (
    AuthorizationError,
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    EmbeddingUnavailableError,
    ExportRefusedError,
    IdentityNotMappedError,
    IdentityProviderUnavailableError,
    QueryRejectedError,
    QueryTimeoutError,
    QueryTooCostlyError,
    RateLimitedError,
    ResultTooLargeError,
    ResultTooNestedError,
    ServerBusyError,
    TokenRejectedError,
    ValidationError,
    ZavaError,
)

CODES = {
    ZavaError: "zava_error",
    ValidationError: "validation_error",
    AuthorizationError: "authorization_error",
    DatabaseError: "database_error",
    DatabaseUnavailableError: "database_unavailable",
    ServerBusyError: "server_busy",
    QueryTimeoutError: "query_timeout",
    QueryRejectedError: "query_rejected",
    ConfigurationError: "configuration_error",
    EmbeddingUnavailableError: "embedding_unavailable",
    RateLimitedError: "rate_limited",
    QueryTooCostlyError: "query_too_costly",
    ResultTooLargeError: "result_too_large",
    ResultTooNestedError: "result_too_nested",
    TokenRejectedError: "invalid_token",
    IdentityNotMappedError: "identity_not_mapped",
    IdentityProviderUnavailableError: "identity_provider_unavailable",
    ExportRefusedError: "export_refused",
}


def test_every_error_class_is_listed_here() -> None:
    defined = {value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, ZavaError)}
    assert defined == set(CODES)
    assert len(set(CODES.values())) == len(CODES)  # one code per kind


@pytest.mark.parametrize(("kind", "code"), CODES.items(), ids=lambda v: getattr(v, "__name__", v))
def test_each_kind_has_its_code_and_reads_as_its_message(kind: type[ZavaError],
                                                         code: str) -> None:
    error = kind("what went wrong; what to do")
    assert error.code == kind.code == code
    assert str(error) == error.message == "what went wrong; what to do"
    assert error.args == ("what went wrong; what to do",)
    assert isinstance(error, ZavaError) and isinstance(error, Exception)


@pytest.mark.parametrize("kind", [DatabaseUnavailableError, ServerBusyError, QueryTimeoutError])
def test_database_failures_are_database_errors(kind: type[ZavaError]) -> None:
    assert issubclass(kind, DatabaseError)
    with pytest.raises(DatabaseError):
        raise kind("x")


@pytest.mark.parametrize("kind", [ValidationError, QueryRejectedError, ConfigurationError,
                                  AuthorizationError, EmbeddingUnavailableError])
def test_other_kinds_are_not_database_errors(kind: type[ZavaError]) -> None:
    assert not issubclass(kind, DatabaseError)


def test_a_code_can_be_given_to_one_error_without_changing_its_class() -> None:
    special = DatabaseError("result too large", code="result_too_large")
    assert special.code == "result_too_large"
    assert DatabaseError.code == "database_error"
    assert DatabaseError("other").code == "database_error"
