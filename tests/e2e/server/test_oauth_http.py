"""OAuth 2.1 resource-server mode end to end: a real OpenID provider (npm oidc-provider, on
127.0.0.1), a real `zava serve --transport http` with ZAVA_OAUTH_ISSUER, and the official
MCP client's OAuth support (client credentials, and authorization code with PKCE driven
headlessly). Every answer is checked against independent SQL for the signed-in manager;
every refusal's status and WWW-Authenticate are checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import http_server
from tests.e2e.server.expected import Expected
from tests.support.oidc import OidcProvider, install, new_key
from zava.provision.embedded import EmbeddedCluster
from zava.provision.identities import add_identity
from zava.seeding import company

SEATTLE = company.SEATTLE_MANAGER_ID
EASTSIDE = company.EASTSIDE_REGIONAL_ID
HEAD_OFFICE = company.HEAD_OFFICE_ID
MAPPED = {"svc-seattle": SEATTLE, "svc-eastside": EASTSIDE, "svc-hq": HEAD_OFFICE,
          "alice": SEATTLE, "erin": EASTSIDE, "hq": HEAD_OFFICE}
REDIRECT = "http://127.0.0.1:33418/callback"
KEY_1, KEY_2, STRANGER = new_key(), new_key(), new_key()
ORDERS_PER_STORE = ("SELECT s.name, count(*) FROM retail.orders o "
                    "JOIN retail.stores s USING (store_id) GROUP BY 1 ORDER BY 1")
MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "zava-tests", "version": "0"}}}


def manager(manager_id: uuid.UUID) -> company.ManagerDef:
    return next(m for m in company.managers() if m.manager_id == manager_id)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    folder, why = install()
    if folder is None:
        pytest.skip(why)
    running = OidcProvider(folder, tmp_path_factory.mktemp("oidc") / "provider.log")
    running.start([(KEY_1, "k1")])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zava") / "server.log"


@pytest.fixture(scope="module")
async def oauth_server(provider: OidcProvider, seeded_database: EmbeddedCluster,
                       server_env: dict[str, str], server_log: Path) -> AsyncIterator[str]:
    for subject, manager_id in MAPPED.items():
        await add_identity(seeded_database.admin_url, provider.issuer, subject, manager_id)
    env = dict(server_env, ZAVA_OAUTH_ISSUER=provider.issuer,
               ZAVA_OAUTH_JWKS_MIN_REFRESH_S="0", ZAVA_OAUTH_HTTP_TIMEOUT_S="2",
               ZAVA_OAUTH_INTROSPECTION_URL=provider.issuer + "/token/introspection",
               ZAVA_OAUTH_CLIENT_ID="zava-rs", ZAVA_OAUTH_CLIENT_SECRET="secret",
               ZAVA_SEARCH_MODE="lexical")
    with http_server(env, server_log) as base:
        yield base


class MemoryStorage:
    """The MCP client's token storage, in memory."""

    def __init__(self, client: OAuthClientInformationFull | None = None) -> None:
        self.tokens: OAuthToken | None = None
        self.client = client

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def service_auth(base: str, issuer: str, client_id: str) -> ClientCredentialsOAuthProvider:
    return ClientCredentialsOAuthProvider(
        server_url=base + "/mcp", storage=MemoryStorage(), client_id=client_id,
        client_secret="secret", scope="zava:read", issuer=issuer)


async def call_tools(base: str, auth: httpx2.Auth | None = None,
                     headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Every tool (semantic search in lexical mode: no model to load) and the stores
    resource, through one MCP session."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "orders": ("execute_sales_query", {"postgresql_query": ORDERS_PER_STORE}),
        "performance": ("get_store_performance", {"period": "last_12_months"}),
        "top": ("get_top_products", {"period": "last_12_months", "limit": 5}),
        "low": ("get_low_stock", {"threshold": 10}),
        "trend": ("get_sales_trend", {"months": 3}),
        "plan": ("explain_sales_query", {"postgresql_query": "SELECT count(*) FROM retail.orders"}),
        "schemas": ("get_multiple_table_schemas", {"table_names": ["retail.stores"]}),
        "today": ("get_current_utc_date", {}),
        "health": ("health_check", {}),
        "search": ("semantic_search_products", {"query_description": "patio umbrella",
                                                "max_rows": 5}),
    }
    answers: dict[str, Any] = {}
    async with httpx2.AsyncClient(auth=auth, headers=headers, timeout=30) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        for name, (tool, arguments) in calls.items():
            result = await session.call_tool(tool, arguments)
            assert not result.is_error, f"{tool}: {result.content}"
            answers[name] = result.structured_content
        stores = await session.read_resource("zava://stores")
        answers["stores"] = getattr(stores.contents[0], "text", "")
    return answers


async def check_scoped(answer: dict[str, Any], engine: AsyncEngine,
                       manager_id: uuid.UUID) -> None:
    """Each answer equals independent SQL over the manager's stores (superuser, explicit
    store filter)."""
    expected = Expected(engine, manager(manager_id))
    assert answer["orders"]["rows"] == await expected.orders_per_store()
    revenue = await expected.revenue_per_store("last_12_months")
    assert {s["store"]: s["revenue"]
            for s in answer["performance"]["stores"]} == pytest.approx(revenue)
    assert [p["sku"] for p in answer["top"]["products"]] == await expected.top_skus(
        "last_12_months", 5)
    assert [[i["store"], i["sku"], i["stock_level"]]
            for i in answer["low"]["items"]] == await expected.low_stock(10)
    assert answer["trend"]["stores"] == expected.store_names
    assert answer["plan"]["plan"] and answer["health"]["status"] == "ok"
    found = answer["search"]["products"]
    stock = await expected.units_on_hand([p["sku"] for p in found])
    assert found and all(p["units_in_your_stores"] == stock.get(p["sku"], 0) for p in found)
    for name in {s.name for s in company.stores()} - set(expected.store_names):
        assert name not in answer["stores"]
    for name in expected.store_names:
        assert name in answer["stores"]


@pytest.mark.parametrize("client_id", ["svc-seattle", "svc-eastside", "svc-hq"])
async def test_client_credentials_act_as_the_mapped_manager(
        oauth_server: str, provider: OidcProvider, seeded_admin_engine: AsyncEngine,
        client_id: str) -> None:
    auth = service_auth(oauth_server, provider.issuer, client_id)
    answer = await call_tools(oauth_server, auth)
    await check_scoped(answer, seeded_admin_engine, MAPPED[client_id])


def browser_login(user: str, captured: dict[str, str]) -> Any:
    """A redirect handler that signs ``user`` in at oidc-provider's forms (headless)."""

    async def redirect_handler(authorization_url: str) -> None:
        async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as browser:
            url = authorization_url
            for _ in range(12):
                response = await browser.get(url)
                while response.status_code in (302, 303):
                    url = urljoin(url, response.headers["location"])
                    if url.startswith(REDIRECT):
                        query = parse_qs(urlsplit(url).query)
                        captured.update({k: v[0] for k, v in query.items()})
                        return
                    response = await browser.get(url)
                assert response.status_code == 200, response.text
                prompt = "login" if 'name="login"' in response.text else "consent"
                form = {"prompt": prompt}
                if prompt == "login":
                    form.update(login=user, password="any")
                response = await browser.post(url, data=form)
                assert response.status_code in (302, 303), response.text
                url = urljoin(url, response.headers["location"])
            raise AssertionError("the sign-in did not reach the redirect URI")

    return redirect_handler


def user_auth(base: str, user: str, client_id: str = "zava-desktop") -> OAuthClientProvider:
    captured: dict[str, str] = {}

    async def callback_handler() -> AuthorizationCodeResult:
        assert "code" in captured, captured
        return AuthorizationCodeResult(code=captured["code"], state=captured.get("state"),
                                       iss=captured.get("iss"))

    client = OAuthClientInformationFull(
        client_id=client_id, redirect_uris=[REDIRECT], token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"], response_types=["code"])
    metadata = OAuthClientMetadata(
        redirect_uris=[REDIRECT], token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"], response_types=["code"],
        scope="zava:read", client_name="Zava tests")
    return OAuthClientProvider(server_url=base + "/mcp", client_metadata=metadata,
                               storage=MemoryStorage(client),
                               redirect_handler=browser_login(user, captured),
                               callback_handler=callback_handler)


@pytest.mark.parametrize("user", ["alice", "erin", "hq"])
async def test_authorization_code_with_pkce_acts_as_the_signed_in_person(
        oauth_server: str, seeded_admin_engine: AsyncEngine, user: str) -> None:
    answer = await call_tools(oauth_server, user_auth(oauth_server, user))
    await check_scoped(answer, seeded_admin_engine, MAPPED[user])


async def test_opaque_tokens_are_introspected(oauth_server: str, provider: OidcProvider,
                                             seeded_admin_engine: AsyncEngine) -> None:
    """RFC 7662: an opaque token from the provider, checked at its introspection endpoint
    with this server's client credentials; a token it does not know is refused."""
    auth = user_auth(oauth_server, "erin", client_id="zava-desktop-opaque")
    answer = await call_tools(oauth_server, auth)
    assert auth.context.current_tokens is not None
    assert auth.context.current_tokens.access_token.count(".") != 2  # not a JWT
    await check_scoped(answer, seeded_admin_engine, EASTSIDE)
    refused = post_mcp(oauth_server, "not-a-token-the-provider-issued")
    challenge = refused.headers["www-authenticate"]
    print(f"opaque-unknown: {refused.status_code} WWW-Authenticate: {challenge}")
    assert refused.status_code == 401 and "not active" in challenge


async def test_a_token_plus_an_identity_header_is_the_token(
        oauth_server: str, provider: OidcProvider, seeded_admin_engine: AsyncEngine,
        server_log: Path) -> None:
    auth = service_auth(oauth_server, provider.issuer, "svc-seattle")
    answer = await call_tools(oauth_server, auth, headers={"x-rls-user-id": str(HEAD_OFFICE)})
    await check_scoped(answer, seeded_admin_engine, SEATTLE)
    # the audit line names the issuer and subject, never the token
    token = auth.context.current_tokens.access_token  # type: ignore[union-attr]
    log = server_log.read_text()
    audits = [line for line in log.splitlines()
              if "audit " in line and "subject=svc-seattle" in line]
    assert audits and f"issuer={provider.issuer}" in audits[-1]
    assert f"caller={SEATTLE}" in audits[-1]
    assert token not in log and token.split(".")[2] not in log


def token_for(provider: OidcProvider, client_id: str, resource: str,
              scope: str | None = "zava:read") -> str:
    data = {"grant_type": "client_credentials", "resource": resource}
    if scope:
        data["scope"] = scope
    response = httpx2.post(provider.issuer + "/token", data=data, auth=(client_id, "secret"),
                           timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def mint(provider: OidcProvider, audience: str, *, key: rsa.RSAPrivateKey = KEY_1,
         kid: str = "k1", **overrides: Any) -> str:
    """A token signed with the provider's own key (or another), with any claims."""
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": audience, "sub": "svc-seattle",
              "client_id": "svc-seattle", "scope": "zava:read", "iat": now, "exp": now + 600,
              **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key,
                      algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(provider: OidcProvider, audience: str) -> str:
    body = b64(json.dumps(jwt.decode(mint(provider, audience),
                                     options={"verify_signature": False})).encode())
    return f"{b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}.{body}."


def hmac_with_public_key(provider: OidcProvider, audience: str) -> str:
    jwks = httpx2.get(provider.issuer + "/jwks", timeout=5).json()
    public = jwt.PyJWK(jwks["keys"][0]).key
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = mint(provider, audience).split(".")[1]
    signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def post_mcp(base: str, token: str | None, **headers: str) -> httpx2.Response:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx2.post(base + "/mcp", headers={**MCP_HEADERS, **auth, **headers},
                       json=INITIALIZE, timeout=15)


REFUSALS: dict[str, tuple[int, str, str]] = {
    # name: (status, error in WWW-Authenticate, words of the description)
    "no-token": (401, "invalid_token", "Authentication required"),
    "expired": (401, "invalid_token", "expired"),
    "not-yet-valid": (401, "invalid_token", "not valid yet"),
    "wrong-issuer": (401, "invalid_token", "another issuer"),
    "wrong-audience": (401, "invalid_token", "another resource"),
    "wrong-signature": (401, "invalid_token", "signature does not verify"),
    "alg-none": (401, "invalid_token", "'none' is not accepted"),
    "hmac-public-key": (401, "invalid_token", "'HS256' is not accepted"),
    "unknown-kid": (401, "invalid_token", "JWKS does not contain"),
    "missing-scope": (403, "insufficient_scope", "Required scope: zava:read"),
    "unmapped-subject": (403, "access_denied", "zava identity add --issuer"),
}


def resigned(token: str, other: str) -> str:
    """``token``'s header and claims with ``other``'s signature."""
    header, claims, _ = token.split(".")
    return f"{header}.{claims}.{other.split('.')[2]}"


def refusal_token(name: str, provider: OidcProvider, resource: str) -> str | None:
    now = int(time.time())
    tokens = {
        "no-token": lambda: None,
        "expired": lambda: mint(provider, resource, iat=now - 900, exp=now - 300),
        "not-yet-valid": lambda: mint(provider, resource, nbf=now + 600),
        "wrong-issuer": lambda: mint(provider, resource, iss="http://127.0.0.1:1"),
        "wrong-audience": lambda: token_for(provider, "svc-seattle",
                                            "http://127.0.0.1:1/other/mcp"),
        "wrong-signature": lambda: resigned(mint(provider, resource),
                                            mint(provider, resource, key=STRANGER)),
        "alg-none": lambda: unsigned(provider, resource),
        "hmac-public-key": lambda: hmac_with_public_key(provider, resource),
        "unknown-kid": lambda: mint(provider, resource, key=STRANGER, kid="k-stranger"),
        "missing-scope": lambda: token_for(provider, "svc-seattle", resource, scope=None),
        "unmapped-subject": lambda: token_for(provider, "svc-unmapped", resource),
    }
    return tokens[name]()


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusals(oauth_server: str, provider: OidcProvider, name: str) -> None:
    status, error, says = REFUSALS[name]
    response = post_mcp(oauth_server, refusal_token(name, provider, oauth_server + "/mcp"))
    challenge = response.headers.get("www-authenticate", "")
    print(f"{name}: {response.status_code} WWW-Authenticate: {challenge}")
    assert response.status_code == status, response.text
    assert challenge.startswith("Bearer ")
    assert f'error="{error}"' in challenge
    assert says in challenge
    metadata = oauth_server + "/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata}"' in challenge


def test_a_token_for_another_manager_header_is_ignored_on_refusal(
        oauth_server: str, provider: OidcProvider) -> None:
    """The identity header does not rescue a refused token, nor replace a missing one."""
    response = post_mcp(oauth_server, None, **{"x-rls-user-id": str(HEAD_OFFICE)})
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource/mcp",
                                  "/.well-known/oauth-protected-resource"])
def test_protected_resource_metadata_names_the_real_issuer(
        oauth_server: str, provider: OidcProvider, path: str) -> None:
    metadata = httpx2.get(oauth_server + path, timeout=5).json()
    assert metadata["resource"] == oauth_server + "/mcp"
    assert [a.rstrip("/") for a in metadata["authorization_servers"]] == [provider.issuer]
    assert metadata["scopes_supported"] == ["zava:read"]


def test_health_ready_and_metrics_are_unchanged(oauth_server: str) -> None:
    assert httpx2.get(oauth_server + "/health", timeout=5).status_code == 200
    assert httpx2.get(oauth_server + "/ready", timeout=5).json()["status"] == "ready"
    assert httpx2.get(oauth_server + "/metrics", timeout=5).status_code == 200


def test_key_rotation_then_the_provider_down(oauth_server: str,
                                             provider: OidcProvider) -> None:
    """Rotation: the provider signs with k2 from now on and still publishes k1; a k2 token
    works after one JWKS refresh, a k1 token keeps working. Then the provider goes down:
    tokens already verified keep working, a key never seen fails closed with 503 at once
    (no hang), and a k1 token verifies offline with the key held."""
    resource = oauth_server + "/mcp"
    old = token_for(provider, "svc-hq", resource)
    assert post_mcp(oauth_server, old).status_code == 200
    provider.stop()
    provider.start([(KEY_2, "k2"), (KEY_1, "k1")])
    new = token_for(provider, "svc-hq", resource)
    assert jwt.get_unverified_header(new)["kid"] == "k2"
    assert post_mcp(oauth_server, new).status_code == 200
    assert post_mcp(oauth_server, old).status_code == 200
    assert post_mcp(oauth_server, mint(provider, resource, sub="svc-eastside")).status_code == 200

    provider.stop()
    try:
        assert post_mcp(oauth_server, new).status_code == 200  # cached
        assert post_mcp(oauth_server, old).status_code == 200  # cached
        offline = mint(provider, resource, key=KEY_2, kid="k2", sub="svc-eastside",
                       jti="offline")
        assert post_mcp(oauth_server, offline).status_code == 200  # key held
        unseen = post_mcp(oauth_server, mint(provider, resource, key=STRANGER, kid="k3"))
        print(f"provider-down-new-kid: {unseen.status_code} "
              f"WWW-Authenticate: {unseen.headers.get('www-authenticate')}")
        assert unseen.status_code == 503
        assert unseen.headers["retry-after"]
        assert "cannot be fetched" in unseen.headers["www-authenticate"]
    finally:
        provider.start([(KEY_2, "k2"), (KEY_1, "k1")])

