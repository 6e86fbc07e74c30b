"""The issuer's metadata and signing keys for the OAuth resource server: discovered from
``/.well-known/openid-configuration`` (or RFC 8414's ``oauth-authorization-server``),
the JWKS cached for ``oauth_jwks_ttl_s`` and refreshed early only for an unknown key id,
at most once per ``oauth_jwks_min_refresh_s``. While the provider cannot be reached the
keys already held stay in use."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from loguru import logger

from zava.errors import (
    ConfigurationError,
    IdentityProviderUnavailableError,
    TokenRejectedError,
)

if TYPE_CHECKING:
    from zava.security.oauth import OAuthConfig

Clock = Callable[[], float]


class JwksCache:
    """The issuer's metadata and signing keys: fetched on first use, kept for
    ``jwks_ttl_s``, refreshed early only for an unknown key id and at most once per
    ``jwks_min_refresh_s``. Concurrent refreshes are coalesced into one fetch."""

    def __init__(self, config: OAuthConfig, client: httpx.AsyncClient, *,
                 clock: Clock = time.monotonic) -> None:
        self._config = config
        self._client = client
        self._clock = clock
        self._lock = asyncio.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        """kid -> algorithm -> key (a JWK without ``alg`` serves every allowed algorithm
        of its key type)."""
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_failure: str | None = None
        self.fetches = 0
        """JWKS documents fetched (successfully) since start."""

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The issuer's discovered metadata, once fetched."""
        return self._metadata

    async def discover(self) -> dict[str, Any]:
        """The issuer's metadata (OpenID configuration, else RFC 8414)."""
        if self._metadata is not None:
            return self._metadata
        issuer = self._config.issuer.rstrip("/")
        split = httpx.URL(issuer)
        candidates = [f"{issuer}/.well-known/openid-configuration",
                      f"{issuer}/.well-known/oauth-authorization-server"]
        if split.path not in ("", "/"):  # RFC 8414: the well-known part before the path
            root = str(split.copy_with(path="/")).rstrip("/")
            candidates.append(f"{root}/.well-known/oauth-authorization-server{split.path}")
        failures: list[str] = []
        for url in candidates:
            try:
                response = await self._client.get(url)
            except httpx.HTTPError as exc:
                failures.append(f"{url}: {type(exc).__name__}")
                continue
            if response.status_code != 200:
                failures.append(f"{url}: HTTP {response.status_code}")
                continue
            try:
                document = response.json()
            except json.JSONDecodeError:
                failures.append(f"{url}: not JSON")
                continue
            if not isinstance(document, dict):
                failures.append(f"{url}: not a JSON object")
                continue
            if str(document.get("issuer", "")).rstrip("/") != issuer:
                raise ConfigurationError(
                    f"the metadata at {url} names the issuer {document.get('issuer')!r}, not "
                    f"{self._config.issuer!r}: set ZAVA_OAUTH_ISSUER to the issuer exactly "
                    "as the provider spells it")
            self._metadata = document
            return document
        raise IdentityProviderUnavailableError(
            f"the identity provider's metadata cannot be fetched ({'; '.join(failures)}); "
            "check ZAVA_OAUTH_ISSUER and that the provider is reachable from this server")

    async def prefetch(self) -> bool:
        """Fetch the metadata and keys now (start-up); False when the provider cannot be
        reached (the first token retries). A wrong issuer raises ``ConfigurationError``."""
        if self._may_attempt(self._clock()):
            await self._refresh()
        return self._fetched_at is not None

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """The signing key ``kid`` names (refreshing the JWKS if it is unknown and a
        refresh is allowed now)."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._config.jwks_ttl_s
        if stale and self._may_attempt(now):
            await self._refresh()
        key = self._find(kid, alg)
        if key is not None:
            return key
        if self._may_attempt(self._clock()):
            await self._refresh()
            key = self._find(kid, alg)
            if key is not None:
                return key
        if kid is not None and kid in self._keys:
            raise TokenRejectedError(
                f"the token says {alg} but key {kid!r} is for "
                f"{', '.join(sorted(self._keys[kid]))} only")
        if self._last_failure is not None:
            raise IdentityProviderUnavailableError(
                f"the token is signed with key id {kid!r}, which this server does not "
                f"hold, and the issuer's keys cannot be fetched ({self._last_failure}): "
                "the token is refused until the identity provider answers")
        raise TokenRejectedError(
            f"the token is signed with key id {kid!r}, which the issuer's JWKS does not "
            "contain: obtain a new token from the issuer")

    def _may_attempt(self, now: float) -> bool:
        return (self._attempted_at is None
                or now - self._attempted_at >= self._config.jwks_min_refresh_s)

    def _find(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid, {}).get(alg)
        # no kid: acceptable only when exactly one key could have signed it
        fitting = [by_alg[alg] for by_alg in self._keys.values() if alg in by_alg]
        return fitting[0] if len(fitting) == 1 else None

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < min(
                    self._config.jwks_min_refresh_s, 1.0) and self._last_failure is None:
                return  # another task has just refreshed
            self._attempted_at = now
            try:
                metadata = await self.discover()
                jwks_uri = metadata.get("jwks_uri")
                if not isinstance(jwks_uri, str):
                    raise ConfigurationError(
                        f"the issuer {self._config.issuer} publishes no jwks_uri: it cannot "
                        "sign JWT access tokens; configure ZAVA_OAUTH_INTROSPECTION_URL")
                response = await self._client.get(jwks_uri)
                response.raise_for_status()
                keys = self._parse(response.json())
            except (httpx.HTTPError, json.JSONDecodeError, IdentityProviderUnavailableError,
                    ValueError) as exc:
                self._last_failure = f"{type(exc).__name__}: {str(exc)[:200]}"
                if self._keys:
                    logger.warning("the identity provider's keys cannot be refreshed ({}); "
                                   "keeping the {} keys held", self._last_failure,
                                   len(self._keys))
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self._last_failure = None
            self.fetches += 1

    def _parse(self, document: object) -> dict[str, dict[str, jwt.PyJWK]]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("the JWKS document has no 'keys' list")
        keys: dict[str, dict[str, jwt.PyJWK]] = {}
        for index, entry in enumerate(document["keys"]):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # symmetric ("oct") keys are never accepted
            by_alg: dict[str, jwt.PyJWK] = {}
            for alg in self._algorithms_of(entry):
                try:
                    by_alg[alg] = jwt.PyJWK(entry, algorithm=alg)
                except (jwt.PyJWKError, jwt.InvalidKeyError):
                    continue
            if by_alg:
                keys[str(entry.get("kid", f"#{index}"))] = by_alg
        return keys

    def _algorithms_of(self, entry: Mapping[str, Any]) -> list[str]:
        """The allowed algorithms a JWK may verify: its ``alg``, else those of its type
        (RSA: RS*/PS*; EC: the one of its curve; OKP: EdDSA)."""
        allowed = self._config.algorithms
        alg = entry.get("alg")
        if alg is not None:
            return [alg] if alg in allowed else []
        kty = entry.get("kty")
        if kty == "EC":
            curve = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(
                str(entry.get("crv")))
            return [curve] if curve in allowed else []
        if kty == "OKP":
            return ["EdDSA"] if "EdDSA" in allowed else []
        return [a for a in allowed if a[:2] in ("RS", "PS")]
