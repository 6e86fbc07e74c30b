"""How the server learns who is calling, per transport."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context

from zava.errors import AuthorizationError
from zava.security.identity import IDENTITY_HEADER, TokenStore, parse_manager_id


class CallerResolver(Protocol):
    """Finds the manager id of the caller of a request."""

    def caller(self, ctx: Context[Any, Any] | None) -> uuid.UUID:
        """The caller's manager id, or ``AuthorizationError``; ``ctx`` is None for
        resources, which the SDK gives no request context."""
        ...


@dataclass(frozen=True)
class FixedCaller:
    """stdio: one manager for the whole process (``--rls-user``)."""

    manager_id: uuid.UUID

    def caller(self, ctx: Context[Any, Any] | None) -> uuid.UUID:
        return self.manager_id


class TokenCaller:
    """HTTP: the manager the request's verified bearer token maps to."""

    def caller(self, ctx: Context[Any, Any] | None) -> uuid.UUID:
        token = get_access_token()
        if token is None:
            raise AuthorizationError("no authenticated caller: send a bearer token")
        return parse_manager_id(token.client_id, source="the access token")


class HeaderCaller:
    """HTTP, local development only: the Zava sample's ``x-rls-user-id`` header."""

    def caller(self, ctx: Context[Any, Any] | None) -> uuid.UUID:
        if ctx is None:
            raise AuthorizationError(
                f"resources need a bearer token; the {IDENTITY_HEADER} header is read by "
                "tools only")
        headers = {k.lower(): v for k, v in (ctx.headers or {}).items()}
        return parse_manager_id(headers.get(IDENTITY_HEADER),
                                source=f"the {IDENTITY_HEADER} header")


class HashedTokenVerifier:
    """The SDK's token-verifier hook over a ``TokenStore``: unknown tokens get a 401."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        manager = self._store.manager_for(token)
        if manager is None:
            return None
        return AccessToken(token=token, client_id=str(manager), scopes=["zava:read"],
                           subject=str(manager))
