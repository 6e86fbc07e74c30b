"""HTTP resource-server mode: the verified OAuth token decides the caller.

``OAuthGate`` (ASGI, in front of the session cap and the SDK's app) verifies a presented
bearer token once per request, so that refusals carry their reason:

- a bad token (signature, issuer, audience, times, algorithm, unknown key): 401
  ``WWW-Authenticate: Bearer error="invalid_token", error_description="...",
  resource_metadata="..."``;
- a verified person no manager is mapped to: 403 ``error="access_denied"`` naming
  ``zava identity add``;
- the identity provider unreachable for a token that needs it (a key never seen): 503
  with ``Retry-After``, never a hang (short timeouts) and never an acceptance.

Requests without a token, and tokens without the required scope, are left to the SDK's
own middleware (``AuthSettings``): 401 with ``resource_metadata`` and 403
``insufficient_scope`` naming the scope. ``OAuthAccessTokens`` is the SDK's
``TokenVerifier`` hook: after the gate, a dictionary lookup.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from loguru import logger
from mcp.server.auth.provider import AccessToken

from zava.errors import (
    ConfigurationError,
    IdentityNotMappedError,
    IdentityProviderUnavailableError,
    TokenRejectedError,
    ZavaError,
)
from zava.security.oauth import OAuthVerifier, VerifiedCaller
from zava.server.session_cap import (
    App,
    Identify,
    Receive,
    Scope,
    Send,
    mcp_request_headers,
)


def bearer_token(headers: dict[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header (lower-cased header names)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def access_token(token: str, caller: VerifiedCaller) -> AccessToken:
    """What the SDK keeps for the request (``get_access_token()`` in tools)."""
    return AccessToken(
        token=token, client_id=str(caller.manager_id), scopes=list(caller.scopes),
        expires_at=caller.expires_at, resource=caller.audience, subject=caller.subject,
        claims={"iss": caller.issuer, "client_id": caller.client_id})


class OAuthAccessTokens:
    """The SDK's ``TokenVerifier``: a verified caller, or None (the SDK answers 401)."""

    def __init__(self, verifier: OAuthVerifier) -> None:
        self._verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        caller = self._verifier.cached(token)
        if caller is None:
            try:
                caller = await self._verifier.verify(token)
            except ZavaError:
                return None
        return access_token(token, caller)


def oauth_requester(verifier: OAuthVerifier) -> Identify:
    """The session cap's caller of a request: a cache lookup of its (already verified)
    token, never a network or database call."""

    def requester(headers: dict[str, str]) -> uuid.UUID | None:
        token = bearer_token(headers)
        caller = verifier.cached(token) if token else None
        return caller.manager_id if caller else None

    return requester


def _quoted(text: str) -> str:
    """A value for an RFC 7235 quoted-string (no quotes, backslashes or line breaks)."""
    return text.replace("\\", "/").replace('"', "'").replace("\r", " ").replace("\n", " ")


class OAuthGate:
    """Verifies the bearer token of every ``/mcp`` request before the app sees it."""

    def __init__(self, app: App, verifier: OAuthVerifier, *, resource_metadata_url: str,
                 path: str = "/mcp") -> None:
        self.app = app
        self.verifier = verifier
        self.resource_metadata_url = resource_metadata_url
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = mcp_request_headers(scope, self.path)
        if headers is None:
            await self.app(scope, receive, send)
            return
        token = bearer_token(headers)
        if token is None:
            await self.app(scope, receive, send)  # the SDK's 401, with resource_metadata
            return
        try:
            await self.verifier.verify(token)
        except TokenRejectedError as exc:
            logger.info("refused a bearer token: {}", exc.message)
            await self._refuse(send, 401, "invalid_token", exc.message)
            return
        except IdentityNotMappedError as exc:
            logger.warning("refused a verified token: {}", exc.message)
            await self._refuse(send, 403, "access_denied", exc.message)
            return
        except (IdentityProviderUnavailableError, ConfigurationError) as exc:
            logger.error("cannot verify a bearer token: {}", exc.message)
            await self._refuse(send, 503, "temporarily_unavailable", exc.message,
                               retry_after=5)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, status: int, error: str, description: str, *,
                      retry_after: int | None = None) -> None:
        challenge = (f'Bearer error="{error}", error_description="{_quoted(description)}", '
                     f'resource_metadata="{self.resource_metadata_url}"')
        body = json.dumps({"error": error, "error_description": description}).encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge.encode("latin-1", "replace")),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def metadata_document(resource: str, issuer: str, scopes: list[str]) -> dict[str, Any]:
    """RFC 9728 protected-resource metadata (also served at the root well-known path)."""
    return {"resource": resource, "authorization_servers": [issuer],
            "scopes_supported": scopes, "bearer_methods_supported": ["header"],
            "resource_name": "Zava retail analytics"}
