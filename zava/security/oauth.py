"""OAuth 2.1 resource server: verify an access token from the configured issuer and turn
it into a caller (issuer, subject, scopes, and the manager it maps to).

- The issuer's metadata is discovered from ``/.well-known/openid-configuration`` (falling
  back to RFC 8414's ``/.well-known/oauth-authorization-server``); its ``issuer`` must be
  the configured one.
- JWT access tokens are verified with PyJWT against the issuer's JWKS: an algorithm
  allowlist (asymmetric only: never ``none``, never HMAC, so a token "signed" with the
  public key as an HMAC secret is refused before any key is used), ``iss``, ``aud``
  (RFC 8707: the resource this server is), ``exp`` and ``nbf`` with a small leeway.
- The JWKS is cached for ``oauth_jwks_ttl_s``. A key id it does not hold triggers one
  refresh, at most once per ``oauth_jwks_min_refresh_s`` (never per request). When the
  provider cannot be reached, the keys already held stay in use; a token signed with a
  key never seen is refused (fail closed) with ``identity_provider_unavailable``.
- Opaque tokens go to RFC 7662 introspection when ``oauth_introspection_url`` is set.
- A verified token is cached by its SHA-256 until it expires or
  ``oauth_token_cache_ttl_s`` passes, whichever comes first, with the manager it maps
  to: later requests with the same token cost a dictionary lookup, and keep working while
  the provider is down. ``cached()`` is that lookup alone (no I/O), for the session cap.

Nothing here imports the MCP SDK; ``zava.server.oauth`` adapts it to the SDK's hooks.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from zava.config import Settings
from zava.errors import (
    ConfigurationError,
    IdentityNotMappedError,
    IdentityProviderUnavailableError,
    TokenRejectedError,
)
from zava.security.jwks import Clock, JwksCache

ResolveManager = Callable[[str, str], Awaitable[uuid.UUID | None]]
"""(issuer, subject) -> the mapped manager id, or None when unmapped."""

_MAX_CACHED_TOKENS = 50_000


@dataclass(frozen=True)
class OAuthConfig:
    """What the verifier needs, from the ``ZAVA_OAUTH_*`` settings."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    required_scopes: tuple[str, ...] = ("zava:read",)
    manager_claim: str = "sub"
    manager_id_claim: str | None = None
    leeway_s: float = 30.0
    jwks_ttl_s: float = 3600.0
    jwks_min_refresh_s: float = 30.0
    token_cache_ttl_s: float = 300.0
    http_timeout_s: float = 3.0
    introspection_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    introspection_cache_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings, *, resource_url: str) -> OAuthConfig:
        """The configuration for a server whose public MCP URL is ``resource_url``."""
        if settings.oauth_issuer is None:
            raise ConfigurationError("ZAVA_OAUTH_ISSUER is not set")
        secret = settings.oauth_client_secret
        if settings.oauth_introspection_url and not settings.oauth_client_id:
            raise ConfigurationError(
                "ZAVA_OAUTH_INTROSPECTION_URL needs this server's client credentials: set "
                "ZAVA_OAUTH_CLIENT_ID and ZAVA_OAUTH_CLIENT_SECRET")
        return cls(
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience or resource_url,
            algorithms=tuple(settings.oauth_algorithms),
            required_scopes=tuple(settings.oauth_required_scopes),
            manager_claim=settings.oauth_manager_claim,
            manager_id_claim=settings.oauth_manager_id_claim,
            leeway_s=settings.oauth_leeway_s,
            jwks_ttl_s=settings.oauth_jwks_ttl_s,
            jwks_min_refresh_s=settings.oauth_jwks_min_refresh_s,
            token_cache_ttl_s=settings.oauth_token_cache_ttl_s,
            http_timeout_s=settings.oauth_http_timeout_s,
            introspection_url=settings.oauth_introspection_url,
            client_id=settings.oauth_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            introspection_cache_s=settings.oauth_introspection_cache_s,
        )


@dataclass(frozen=True)
class VerifiedCaller:
    """A verified token's principal and the manager it acts for."""

    manager_id: uuid.UUID
    issuer: str
    subject: str
    """The value of the manager claim (``sub`` by default) the mapping used."""
    scopes: tuple[str, ...]
    expires_at: int | None
    client_id: str | None
    audience: str
    valid_until: float
    """Monotonic clock: the cache entry is dropped after this."""


@dataclass(frozen=True)
class _Claims:
    issuer: str
    subject: str
    manager_id: uuid.UUID | None
    scopes: tuple[str, ...]
    expires_at: int | None
    client_id: str | None
    cache_s: float


def token_key(token: str) -> str:
    """The cache key of a token (its SHA-256: the token itself is never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


def scopes_of(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """Scopes from ``scope`` (space-separated, RFC 9068/8693) or ``scp`` (Entra, Okta:
    a list or a space-separated string)."""
    found: list[str] = []
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.extend(value.split())
        elif isinstance(value, list):
            found.extend(str(item) for item in value)
    return tuple(dict.fromkeys(found))


def _audiences(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _same_resource(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


class OAuthVerifier:
    """Verifies access tokens and maps them to managers, with the caches above."""

    def __init__(self, config: OAuthConfig, resolve_manager: ResolveManager, *,
                 client: httpx.AsyncClient | None = None, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time) -> None:
        self.config = config
        self._resolve = resolve_manager
        self._client = client or httpx.AsyncClient(timeout=config.http_timeout_s,
                                                   follow_redirects=False)
        self._clock = clock
        self._wall = wall_clock
        self.jwks = JwksCache(config, self._client, clock=clock)
        self._verified: dict[str, VerifiedCaller] = {}

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    def cached(self, token: str) -> VerifiedCaller | None:
        """The caller of a token verified before and still cached (no I/O at all)."""
        key = token_key(token)
        entry = self._verified.get(key)
        if entry is None:
            return None
        if self._clock() >= entry.valid_until or (
                entry.expires_at is not None and self._wall() >= entry.expires_at):
            self._verified.pop(key, None)
            return None
        return entry

    async def verify(self, token: str) -> VerifiedCaller:
        """The caller a token acts as, or ``TokenRejectedError`` (401),
        ``IdentityNotMappedError`` (403), ``IdentityProviderUnavailableError`` (503)."""
        cached = self.cached(token)
        if cached is not None:
            return cached
        if token.count(".") == 2 and (self._is_jwt(token) or not self.config.introspection_url):
            claims = await self._verify_jwt(token)
        elif self.config.introspection_url:
            claims = await self._introspect(token)
        else:
            raise TokenRejectedError(
                "the bearer token is not a JWT and this server has no introspection endpoint "
                "configured: send a JWT access token from the issuer (ask it for the "
                f"resource {self.config.audience})")
        manager = claims.manager_id
        if manager is None:
            manager = await self._resolve(claims.issuer, claims.subject)
        if manager is None:
            raise IdentityNotMappedError(
                f"{self.config.manager_claim} {claims.subject!r} of {claims.issuer} is not "
                "mapped to a manager; an administrator maps it with `zava identity add "
                f"--issuer {claims.issuer} --subject {claims.subject} --manager <id>`")
        entry = VerifiedCaller(
            manager_id=manager, issuer=claims.issuer, subject=claims.subject,
            scopes=claims.scopes, expires_at=claims.expires_at, client_id=claims.client_id,
            audience=self.config.audience, valid_until=self._clock() + claims.cache_s)
        if claims.cache_s > 0:
            if len(self._verified) >= _MAX_CACHED_TOKENS:
                self._evict()
            self._verified[token_key(token)] = entry
        return entry

    @staticmethod
    def _is_jwt(token: str) -> bool:
        """Whether the token's first part decodes as a JWS header (else, with
        introspection configured, it is an opaque token that happens to have dots)."""
        try:
            jwt.get_unverified_header(token)
        except jwt.DecodeError:
            return False
        return True

    def _evict(self) -> None:
        now = self._clock()
        for key, entry in list(self._verified.items()):
            if entry.valid_until <= now:
                del self._verified[key]
        while len(self._verified) >= _MAX_CACHED_TOKENS:
            del self._verified[next(iter(self._verified))]

    async def _verify_jwt(self, token: str) -> _Claims:
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenRejectedError(f"the bearer token is not a well-formed JWT ({exc})") from exc
        alg = header.get("alg")
        if alg not in config.algorithms:
            raise TokenRejectedError(
                f"the token's signature algorithm {alg!r} is not accepted (accepted: "
                f"{', '.join(config.algorithms)}); tokens must be signed by the issuer's keys")
        kid = header.get("kid")
        key = await self.jwks.key_for(kid if isinstance(kid, str) else None, str(alg))
        if key.algorithm_name != alg:
            raise TokenRejectedError(
                f"the token says {alg} but key {kid!r} is a {key.algorithm_name} key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=[str(alg)], audience=config.audience,
                issuer=config.issuer, leeway=config.leeway_s,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True})
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejectedError("the token has expired: obtain a new one") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRejectedError("the token is not valid yet (nbf/iat in the future): "
                                     "check the clocks, or obtain a new token") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejectedError(
                "the token was issued for another resource: ask the issuer for a token for "
                f"the resource {config.audience} (RFC 8707 resource parameter)") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRejectedError(
                f"the token was issued by another issuer; this server accepts tokens of "
                f"{config.issuer} only") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejectedError("the token's signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejectedError(f"the token has no {exc.claim!r} claim") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRejectedError(f"the token is invalid ({exc})") from exc
        return self._claims(claims, issuer=config.issuer, cache_cap=config.token_cache_ttl_s)

    def _claims(self, claims: Mapping[str, Any], *, issuer: str, cache_cap: float) -> _Claims:
        config = self.config
        subject = claims.get(config.manager_claim)
        if not isinstance(subject, str) or not subject.strip():
            raise TokenRejectedError(
                f"the token has no {config.manager_claim!r} claim to identify the person "
                "(ZAVA_OAUTH_MANAGER_CLAIM)")
        manager: uuid.UUID | None = None
        if config.manager_id_claim is not None:
            raw = claims.get(config.manager_id_claim)
            try:
                manager = uuid.UUID(str(raw)) if raw is not None else None
            except ValueError as exc:
                raise TokenRejectedError(
                    f"the token's {config.manager_id_claim!r} claim is not a manager id "
                    "(ZAVA_OAUTH_MANAGER_ID_CLAIM)") from exc
        exp = claims.get("exp")
        expires_at = int(exp) if isinstance(exp, (int, float)) else None
        cache_s = cache_cap
        if expires_at is not None:
            cache_s = max(0.0, min(cache_s, expires_at - self._wall()))
        client = claims.get("client_id", claims.get("azp"))
        return _Claims(issuer=issuer, subject=subject, manager_id=manager,
                       scopes=scopes_of(claims), expires_at=expires_at,
                       client_id=str(client) if client is not None else None,
                       cache_s=cache_s)

    async def _introspect(self, token: str) -> _Claims:
        config = self.config
        assert config.introspection_url is not None
        try:
            response = await self._client.post(
                config.introspection_url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(config.client_id or "", config.client_secret or ""),
                headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailableError(
                f"the introspection endpoint cannot be reached ({type(exc).__name__}): the "
                "token is refused until the identity provider answers") from exc
        if response.status_code in (401, 403):
            raise ConfigurationError(
                f"the introspection endpoint refused this server's credentials (HTTP "
                f"{response.status_code}): check ZAVA_OAUTH_CLIENT_ID and "
                "ZAVA_OAUTH_CLIENT_SECRET")
        if response.status_code != 200:
            raise IdentityProviderUnavailableError(
                f"the introspection endpoint answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except json.JSONDecodeError as exc:
            raise IdentityProviderUnavailableError(
                "the introspection endpoint answered something that is not JSON") from exc
        if not isinstance(answer, dict) or answer.get("active") is not True:
            raise TokenRejectedError("the token is not active (introspection): obtain a new one")
        issuer = answer.get("iss", config.issuer)
        if str(issuer).rstrip("/") != config.issuer.rstrip("/"):
            raise TokenRejectedError(
                f"the token was issued by another issuer; this server accepts tokens of "
                f"{config.issuer} only")
        audiences = _audiences(answer.get("aud"))
        if not any(_same_resource(a, config.audience) for a in audiences):
            raise TokenRejectedError(
                "the token was issued for another resource: ask the issuer for a token for "
                f"the resource {config.audience}")
        now = self._wall()
        exp = answer.get("exp")
        if isinstance(exp, (int, float)) and exp + config.leeway_s < now:
            raise TokenRejectedError("the token has expired: obtain a new one")
        nbf = answer.get("nbf")
        if isinstance(nbf, (int, float)) and nbf - config.leeway_s > now:
            raise TokenRejectedError("the token is not valid yet: obtain a new token")
        return self._claims(answer, issuer=config.issuer,
                            cache_cap=min(config.introspection_cache_s, config.token_cache_ttl_s))
