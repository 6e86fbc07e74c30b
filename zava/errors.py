"""The error taxonomy.

Every error the product raises on purpose is a ``ZavaError`` with a stable ``code``
that clients and tests can match on, and a message written for the person (or model)
who has to act on it: what went wrong and what to do about it. Errors are raised where
the problem is known and rendered once, at the edge (CLI, MCP tool).
"""

from __future__ import annotations


class ZavaError(Exception):
    """Base class: a problem the product explains to its caller."""

    code = "zava_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ValidationError(ZavaError):
    """An argument is out of range, malformed or unknown."""

    code = "validation_error"


class AuthorizationError(ZavaError):
    """The caller has no identity, or one that does not exist."""

    code = "authorization_error"


class DatabaseError(ZavaError):
    """PostgreSQL refused or failed a statement; the message is safe to show."""

    code = "database_error"


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached (down, restarting, or the connection was lost)."""

    code = "database_unavailable"


class ServerBusyError(DatabaseError):
    """Every pooled connection stayed in use for the whole acquire timeout: the database
    is up, this server is saturated."""

    code = "server_busy"


class QueryTimeoutError(DatabaseError):
    """A statement ran past its time limit and was cancelled."""

    code = "query_timeout"


class QueryRejectedError(ZavaError):
    """The SQL guard refused a free-form query before it reached the database."""

    code = "query_rejected"


class ConfigurationError(ZavaError):
    """Settings, the database or the environment are not as the product needs them."""

    code = "configuration_error"


class EmbeddingUnavailableError(ZavaError):
    """The embedding service did not answer, even after retries."""

    code = "embedding_unavailable"


class RateLimitedError(ZavaError):
    """The caller is over their share; ``retry_after_s`` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QueryTooCostlyError(ZavaError):
    """The planner's estimate is above the budget: the query never starts."""

    code = "query_too_costly"


class ResultTooLargeError(ZavaError):
    """Not even one row fits in the byte cap."""

    code = "result_too_large"


class ResultTooNestedError(ZavaError):
    """A value nests arrays or records deeper than clients can read."""

    code = "result_too_nested"


class TokenRejectedError(AuthorizationError):
    """An OAuth access token failed verification (signature, issuer, audience, time,
    algorithm, key): the client must obtain a new token (HTTP 401)."""

    code = "invalid_token"


class IdentityNotMappedError(AuthorizationError):
    """A verified token names a person no manager is mapped to (HTTP 403)."""

    code = "identity_not_mapped"


class IdentityProviderUnavailableError(ZavaError):
    """The identity provider's metadata, keys or introspection endpoint cannot be
    reached, and the token cannot be verified without them (refused, HTTP 503)."""

    code = "identity_provider_unavailable"


class ExportRefusedError(AuthorizationError):
    """An export link is malformed, tampered with, expired, or was made for another
    caller: the caller must run the tool again for a fresh link of their own."""

    code = "export_refused"
