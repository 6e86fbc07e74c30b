"""The OAuth verifier against keys generated here and an issuer served in memory (httpx's
MockTransport): every refusal, key rotation, and the provider going down."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from zava.config import Settings
from zava.errors import (
    ConfigurationError,
    IdentityNotMappedError,
    IdentityProviderUnavailableError,
    TokenRejectedError,
)
from zava.security.oauth import OAuthConfig, OAuthVerifier, scopes_of

ISSUER = "https://idp.example.test"
AUDIENCE = "http://127.0.0.1:8000/mcp"
SEATTLE = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
HEAD_OFFICE = uuid.UUID("c0ffee00-0000-4000-8000-000000000001")
MAPPED = {(ISSUER, "alice"): SEATTLE, (ISSUER, "hq"): HEAD_OFFICE}

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    public = key.public_key()
    algorithm = ECAlgorithm if isinstance(public, ec.EllipticCurvePublicKey) else RSAAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(public))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


class FakeIssuer:
    """Discovery and JWKS over MockTransport; ``down`` makes every request fail."""

    def __init__(self) -> None:
        self.keys = [public_jwk(RSA_KEY, "k1", "RS256"), public_jwk(EC_KEY, "e1", "ES256")]
        self.down = False
        self.jwks_requests = 0
        self.discovery_requests = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/.well-known/openid-configuration":
            self.discovery_requests += 1
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            self.jwks_requests += 1
            return httpx.Response(200, json={"keys": self.keys})
        return httpx.Response(404)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now,
                            "nbf": now, "exp": now + 600, "scope": "openid zava:read",
                            "client_id": "cli"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: Any = RSA_KEY, kid: str | None = "k1", alg: str = "RS256",
         **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make(issuer: FakeIssuer, clock: Clock | None = None, **config: Any) -> OAuthVerifier:
    async def resolve(iss: str, subject: str) -> uuid.UUID | None:
        return MAPPED.get((iss, subject))

    options: dict[str, Any] = {"jwks_min_refresh_s": 30.0, **config}
    client = httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler))
    return OAuthVerifier(OAuthConfig(issuer=ISSUER, audience=AUDIENCE, **options), resolve,
                         client=client, clock=clock or Clock())


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


async def test_a_valid_token_maps_to_its_manager(issuer: FakeIssuer) -> None:
    caller = await make(issuer).verify(mint())
    assert caller.manager_id == SEATTLE
    assert (caller.issuer, caller.subject, caller.client_id) == (ISSUER, "alice", "cli")
    assert caller.scopes == ("openid", "zava:read")


async def test_a_jwk_without_alg_serves_its_key_types_algorithms(issuer: FakeIssuer) -> None:
    bare = {k: v for k, v in public_jwk(RSA_KEY_2, "bare", "RS256").items() if k != "alg"}
    issuer.keys.append(bare)
    verifier = make(issuer)
    assert (await verifier.verify(mint(RSA_KEY_2, kid="bare", alg="PS256"))).manager_id == SEATTLE
    assert (await verifier.verify(mint(RSA_KEY_2, kid="bare", sub="hq"))).manager_id == HEAD_OFFICE
    with pytest.raises(TokenRejectedError, match="is for PS256, RS256 only"):
        await verifier.verify(mint(EC_KEY, kid="bare", alg="ES256"))


async def test_es256_is_accepted(issuer: FakeIssuer) -> None:
    caller = await make(issuer).verify(mint(EC_KEY, kid="e1", alg="ES256", sub="hq"))
    assert caller.manager_id == HEAD_OFFICE


async def test_a_verified_token_is_cached_and_the_jwks_fetched_once(issuer: FakeIssuer) -> None:
    verifier = make(issuer)
    token = mint()
    for _ in range(5):
        await verifier.verify(token)
    await verifier.verify(mint(sub="hq"))
    assert issuer.jwks_requests == 1 and issuer.discovery_requests == 1
    assert verifier.cached(token) is not None
    assert verifier.cached(mint(sub="someone")) is None


Refusal = Callable[[], str]


def alg_none() -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    return f"{header}.{b64(json.dumps(claims()).encode())}."


def hmac_with_public_key() -> str:
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims()).encode())
    import hashlib
    import hmac
    signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def wrong_signature() -> str:
    header, body, _ = mint().split(".")
    _, _, other = mint(RSA_KEY_2).split(".")
    return f"{header}.{body}.{other}"


@pytest.mark.parametrize(("make_token", "says"), [
    (lambda: mint(exp=int(time.time()) - 120), "expired"),
    (lambda: mint(nbf=int(time.time()) + 600), "not valid yet"),
    (lambda: mint(iss="https://evil.example.test"), "another issuer"),
    (lambda: mint(aud="http://127.0.0.1:9999/mcp"), "another resource"),
    (lambda: mint(aud=None), "'aud'"),
    (wrong_signature, "signature does not verify"),
    (alg_none, "'none' is not accepted"),
    (hmac_with_public_key, "'HS256' is not accepted"),
    (lambda: mint(RSA_KEY_2, kid="unknown"), "'unknown', which the issuer's JWKS does not"),
    (lambda: mint(sub=None), "no 'sub' claim"),
    (lambda: mint(kid="e1"), "key 'e1' is for ES256 only"),
    (lambda: "not-a-jwt", "not a JWT"),
], ids=["expired", "not-yet-valid", "wrong-issuer", "wrong-audience", "no-audience",
        "wrong-signature", "alg-none", "hmac-public-key", "unknown-kid", "no-subject",
        "alg-key-mismatch", "opaque"])
async def test_refusals(issuer: FakeIssuer, make_token: Refusal, says: str) -> None:
    verifier = make(issuer)
    with pytest.raises(TokenRejectedError) as caught:
        await verifier.verify(make_token())
    assert says in caught.value.message
    assert caught.value.code == "invalid_token"


async def test_leeway_allows_small_skew(issuer: FakeIssuer) -> None:
    verifier = make(issuer, leeway_s=30.0)
    await verifier.verify(mint(exp=int(time.time()) - 5))
    await verifier.verify(mint(nbf=int(time.time()) + 5, sub="hq"))


async def test_an_unmapped_subject_is_refused_naming_the_fix(issuer: FakeIssuer) -> None:
    with pytest.raises(IdentityNotMappedError) as caught:
        await make(issuer).verify(mint(sub="mallory"))
    assert f"zava identity add --issuer {ISSUER} --subject mallory --manager" in str(
        caught.value)


async def test_missing_scope_is_reported_not_refused_here(issuer: FakeIssuer) -> None:
    """The scope check is the HTTP layer's (403 insufficient_scope); the verifier reports
    the scopes the token carries."""
    caller = await make(issuer).verify(mint(scope="openid"))
    assert "zava:read" not in caller.scopes


def test_scopes_from_scope_or_scp() -> None:
    assert scopes_of({"scope": "a b"}) == ("a", "b")
    assert scopes_of({"scp": ["a", "c"]}) == ("a", "c")
    assert scopes_of({"scp": "zava:read"}) == ("zava:read",)


async def test_a_manager_id_claim_decides_without_mapping(issuer: FakeIssuer) -> None:
    verifier = make(issuer, manager_id_claim="zava_manager")
    caller = await verifier.verify(mint(sub="nobody-mapped", zava_manager=str(HEAD_OFFICE)))
    assert caller.manager_id == HEAD_OFFICE
    with pytest.raises(TokenRejectedError, match="not a manager id"):
        await verifier.verify(mint(sub="x", zava_manager="all-stores"))


async def test_another_claim_can_identify_the_person(issuer: FakeIssuer) -> None:
    verifier = make(issuer, manager_claim="email")
    with pytest.raises(TokenRejectedError, match="no 'email' claim"):
        await verifier.verify(mint())
    MAPPED[(ISSUER, "alice@example.test")] = SEATTLE
    try:
        caller = await verifier.verify(mint(sub="x", email="alice@example.test"))
    finally:
        del MAPPED[(ISSUER, "alice@example.test")]
    assert caller.manager_id == SEATTLE and caller.subject == "alice@example.test"


async def test_key_rotation_needs_one_refresh(issuer: FakeIssuer) -> None:
    clock = Clock()
    verifier = make(issuer, clock, jwks_min_refresh_s=30.0)
    old = mint()
    await verifier.verify(old)
    issuer.keys = [public_jwk(RSA_KEY_2, "k2", "RS256")]
    clock.now += 31
    caller = await verifier.verify(mint(RSA_KEY_2, kid="k2", sub="hq"))
    assert caller.manager_id == HEAD_OFFICE
    assert issuer.jwks_requests == 2
    assert verifier.cached(old) is not None  # verified before: valid until it expires


async def test_unknown_kids_do_not_refetch_on_every_request(issuer: FakeIssuer) -> None:
    clock = Clock()
    verifier = make(issuer, clock, jwks_min_refresh_s=30.0)
    await verifier.verify(mint())
    for attempt in range(20):
        with pytest.raises(TokenRejectedError):
            await verifier.verify(mint(RSA_KEY_2, kid=f"forged-{attempt}"))
    assert issuer.jwks_requests == 1  # within min_refresh: no fetch at all
    clock.now += 31
    with pytest.raises(TokenRejectedError):
        await verifier.verify(mint(RSA_KEY_2, kid="forged-late"))
    assert issuer.jwks_requests == 2


async def test_the_jwks_is_refetched_after_its_ttl(issuer: FakeIssuer) -> None:
    clock = Clock()
    verifier = make(issuer, clock, jwks_ttl_s=60.0)
    await verifier.verify(mint())
    clock.now += 61
    await verifier.verify(mint(sub="hq"))
    assert issuer.jwks_requests == 2


async def test_provider_down(issuer: FakeIssuer) -> None:
    clock = Clock()
    verifier = make(issuer, clock, jwks_ttl_s=60.0, token_cache_ttl_s=120.0)
    verified = mint()
    await verifier.verify(verified)
    issuer.down = True
    # a token verified before keeps working (cache), with no request at all
    assert (await verifier.verify(verified)).manager_id == SEATTLE
    # a new token signed with a key already held verifies offline, even past the JWKS TTL
    clock.now += 61
    assert (await verifier.verify(mint(sub="hq"))).manager_id == HEAD_OFFICE
    # a key never seen fails closed, clearly
    clock.now += 31
    with pytest.raises(IdentityProviderUnavailableError, match="cannot be fetched"):
        await verifier.verify(mint(RSA_KEY_2, kid="k2"))
    # the cache entry expires: the token is verified again (offline, key held)
    clock.now += 200
    assert verifier.cached(verified) is None


async def test_provider_down_from_the_start(issuer: FakeIssuer) -> None:
    issuer.down = True
    with pytest.raises(IdentityProviderUnavailableError, match="metadata cannot be fetched"):
        await make(issuer).verify(mint())


async def test_an_unreachable_provider_does_not_hang() -> None:
    """A black-holed provider costs the configured timeout, not forever."""
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    verifier = OAuthVerifier(OAuthConfig(issuer=ISSUER, audience=AUDIENCE),
                             _never, client=client)
    with pytest.raises(IdentityProviderUnavailableError):
        await verifier.verify(mint())


async def _never(issuer: str, subject: str) -> uuid.UUID | None:
    raise AssertionError("not reached")


async def test_metadata_naming_another_issuer_is_a_configuration_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issuer": "https://other.test", "jwks_uri": "x"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    verifier = OAuthVerifier(OAuthConfig(issuer=ISSUER, audience=AUDIENCE), _never,
                             client=client)
    with pytest.raises(ConfigurationError, match="ZAVA_OAUTH_ISSUER"):
        await verifier.verify(mint())


async def test_falls_back_to_oauth_authorization_server_metadata() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [public_jwk(RSA_KEY, "k1", "RS256")]})
        return httpx.Response(404)

    async def resolve(iss: str, subject: str) -> uuid.UUID | None:
        return SEATTLE

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    verifier = OAuthVerifier(OAuthConfig(issuer=ISSUER, audience=AUDIENCE), resolve,
                             client=client)
    assert (await verifier.verify(mint())).manager_id == SEATTLE


def introspecting(answer: dict[str, Any], seen: list[httpx.Request]) -> OAuthVerifier:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    async def resolve(iss: str, subject: str) -> uuid.UUID | None:
        return MAPPED.get((iss, subject))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    config = OAuthConfig(issuer=ISSUER, audience=AUDIENCE,
                         introspection_url=f"{ISSUER}/introspect", client_id="zava",
                         client_secret="s3cret")
    return OAuthVerifier(config, resolve, client=client)


async def test_opaque_tokens_are_introspected_and_cached() -> None:
    seen: list[httpx.Request] = []
    verifier = introspecting({"active": True, "iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
                              "scope": "zava:read", "exp": int(time.time()) + 600}, seen)
    for _ in range(3):
        assert (await verifier.verify("opaque-token-1")).manager_id == SEATTLE
    assert len(seen) == 1
    assert seen[0].headers["authorization"].startswith("Basic ")
    assert b"token=opaque-token-1" in seen[0].content


async def test_an_opaque_token_with_dots_is_introspected_not_parsed() -> None:
    seen: list[httpx.Request] = []
    verifier = introspecting({"active": True, "iss": ISSUER, "aud": AUDIENCE, "sub": "hq",
                              "exp": int(time.time()) + 600}, seen)
    assert (await verifier.verify("v2.opaque.handle")).manager_id == HEAD_OFFICE
    assert len(seen) == 1


@pytest.mark.parametrize(("answer", "says"), [
    ({"active": False}, "not active"),
    ({"active": True, "sub": "alice", "aud": "http://other/mcp"}, "another resource"),
    ({"active": True, "sub": "alice"}, "another resource"),  # no audience: not for us
    ({"active": True, "sub": "alice", "aud": AUDIENCE, "iss": "https://evil.test"},
     "another issuer"),
    ({"active": True, "sub": "alice", "aud": AUDIENCE, "exp": int(time.time()) - 600},
     "expired"),
], ids=["inactive", "other-audience", "no-audience", "other-issuer", "expired"])
async def test_introspection_refusals(answer: dict[str, Any], says: str) -> None:
    with pytest.raises(TokenRejectedError, match=says):
        await introspecting(answer, []).verify("opaque")


def test_config_from_settings_defaults_the_audience_to_the_resource() -> None:
    settings = Settings(oauth_issuer=ISSUER)
    config = OAuthConfig.from_settings(settings, resource_url=AUDIENCE)
    assert config.audience == AUDIENCE and config.required_scopes == ("zava:read",)
    with pytest.raises(ConfigurationError, match="ZAVA_OAUTH_CLIENT_ID"):
        OAuthConfig.from_settings(
            Settings(oauth_issuer=ISSUER, oauth_introspection_url=f"{ISSUER}/i"),
            resource_url=AUDIENCE)


def test_symmetric_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        Settings(oauth_issuer=ISSUER, oauth_algorithms="RS256,HS256")
