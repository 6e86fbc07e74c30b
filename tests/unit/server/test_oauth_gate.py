"""The HTTP side of OAuth without a network: the gate's refusals (status and
WWW-Authenticate), the session cap's cache-only lookup, the SDK hook, the caller taken from
the token whatever headers say, and the audit fields."""

from __future__ import annotations

import json
import uuid
from collections.abc import MutableMapping
from typing import Any, ClassVar, cast

import httpx
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import Context

from tests.unit.security.test_oauth import (
    AUDIENCE,
    HEAD_OFFICE,
    ISSUER,
    RSA_KEY_2,
    SEATTLE,
    FakeIssuer,
    make,
    mint,
)
from zava.security.oauth import OAuthVerifier
from zava.server.calls import _principal
from zava.server.identity import TokenCaller
from zava.server.oauth import OAuthAccessTokens, OAuthGate, access_token, oauth_requester

METADATA = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"


class App:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def request(gate: OAuthGate, token: str | None, path: str = "/mcp",
                  **headers: str) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    if token is not None:
        raw.append((b"authorization", f"Bearer {token}".encode()))
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await gate({"type": "http", "path": path, "headers": raw}, receive, send)
    start, body = sent[0], sent[1]["body"]
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    parsed = json.loads(body) if body != b"ok" else None
    return start["status"], response_headers, parsed


def gate_for(issuer: FakeIssuer) -> tuple[OAuthGate, App, OAuthVerifier]:
    app = App()
    verifier = make(issuer)
    return OAuthGate(app, verifier, resource_metadata_url=METADATA), app, verifier


async def test_a_valid_token_passes_and_no_token_is_left_to_the_sdk() -> None:
    gate, app, _ = gate_for(FakeIssuer())
    assert (await request(gate, mint()))[0] == 200
    assert (await request(gate, None))[0] == 200  # the SDK's RequireAuthMiddleware answers
    assert (await request(gate, "junk", path="/health"))[0] == 200  # not /mcp
    assert app.calls == 3


async def test_a_bad_token_gets_401_with_the_reason() -> None:
    gate, app, _ = gate_for(FakeIssuer())
    status, headers, body = await request(gate, mint(aud="http://127.0.0.1:1/mcp"))
    assert status == 401 and app.calls == 0
    challenge = headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="the token '
                                'was issued for another resource')
    assert challenge.endswith(f'resource_metadata="{METADATA}"')
    assert body is not None and body["error"] == "invalid_token"


async def test_an_unmapped_person_gets_403_naming_the_fix() -> None:
    gate, app, _ = gate_for(FakeIssuer())
    status, headers, _ = await request(gate, mint(sub="mallory"))
    assert status == 403 and app.calls == 0
    assert 'error="access_denied"' in headers["www-authenticate"]
    assert "zava identity add --issuer" in headers["www-authenticate"]


async def test_provider_down_and_a_new_key_is_503_not_a_hang() -> None:
    issuer = FakeIssuer()
    issuer.down = True
    gate, app, _ = gate_for(issuer)
    status, headers, _ = await request(gate, mint(RSA_KEY_2, kid="k2"))
    assert status == 503 and headers["retry-after"] == "5" and app.calls == 0
    assert 'error="temporarily_unavailable"' in headers["www-authenticate"]


async def test_quotes_in_reasons_cannot_break_the_header() -> None:
    gate, _, _ = gate_for(FakeIssuer())
    _, headers, _ = await request(gate, mint(sub='eve"injected'))
    challenge = headers["www-authenticate"]
    assert challenge.count('"') == 6  # three quoted values, nothing more


async def test_the_session_cap_lookup_is_cache_only() -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the session cap's lookup must not reach the network")

    issuer = FakeIssuer()
    verifier = make(issuer)
    identify = oauth_requester(verifier)
    token = mint()
    verifier._client._transport = httpx.MockTransport(no_network)
    assert identify({"authorization": f"Bearer {token}"}) is None  # never verified yet
    verifier._client._transport = httpx.MockTransport(issuer.handler)
    await verifier.verify(token)
    verifier._client._transport = httpx.MockTransport(no_network)
    assert identify({"authorization": f"Bearer {token}"}) == SEATTLE
    assert identify({"authorization": "Basic abc"}) is None


async def test_the_sdk_hook_and_the_caller_come_from_the_token_only() -> None:
    verifier = make(FakeIssuer())
    token = mint()
    hook = OAuthAccessTokens(verifier)
    access = await hook.verify_token(token)
    assert access is not None
    assert access.client_id == str(SEATTLE) and access.subject == "alice"
    assert access.claims == {"iss": ISSUER, "client_id": "cli"}
    assert access.resource == AUDIENCE and "zava:read" in access.scopes
    assert await hook.verify_token(mint(sub="mallory")) is None
    assert await hook.verify_token("junk") is None

    class Ctx:  # a tool's context whose headers name head office
        headers: ClassVar[dict[str, str]] = {"x-rls-user-id": str(HEAD_OFFICE)}

    reset = auth_context_var.set(AuthenticatedUser(access))
    try:
        assert TokenCaller().caller(cast(Context[Any, Any], Ctx())) == SEATTLE
        assert _principal() == {"issuer": ISSUER, "subject": "alice"}
    finally:
        auth_context_var.reset(reset)
    assert _principal() == {}


def test_the_access_token_never_carries_more_than_the_caller() -> None:
    from zava.security.oauth import VerifiedCaller

    caller = VerifiedCaller(manager_id=uuid.UUID(int=1), issuer=ISSUER, subject="s",
                            scopes=("zava:read",), expires_at=None, client_id=None,
                            audience=AUDIENCE, valid_until=0.0)
    access = access_token("t", caller)
    assert access.client_id == str(uuid.UUID(int=1)) and access.scopes == ["zava:read"]
