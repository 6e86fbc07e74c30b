"""Streamable HTTP: bearer-token auth (static tokens, or an OAuth 2.1 resource server when
ZAVA_OAUTH_ISSUER is set: see ``zava.server.oauth``), DNS-rebinding protection, /health, /ready and
/metrics (Prometheus). Every route answers only the allowed ``Host`` names, like /mcp;
/metrics requires ``ZAVA_METRICS_TOKEN`` when it is set and otherwise answers loopback
clients only: its counters (cache hits by namespace) must not reach tenants.

Stateless by default: a 2026-07-28 request is one self-contained POST, and 2025-11-25
clients get no session id, so any worker behind a load balancer serves any request (no
affinity). Answers are plain JSON, never an event stream (no tool streams progress), so a
worker that dies mid-call leaves the balancer free to answer with an error instead of a
cut stream; a client that hangs up still cancels its call (``zava.server.abandoned``).
List methods carry cache hints (``zava.server.cache_hints``). What workers share (fair
shares, caches) lives in Redis. ``ZAVA_HTTP_STATEFUL`` keeps 2025-11-25 sessions in the
process instead (sticky routing needed), with the per-caller session cap.
On SIGTERM a watched worker drains first (``zava.server.drain``)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import math
import signal
import uuid
from collections.abc import Callable
from socket import socket

import uvicorn
from loguru import logger
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl, SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zava.errors import ConfigurationError, ZavaError
from zava.observability.metrics import CONTENT_TYPE
from zava.provision.health import check_database
from zava.security.identity import IDENTITY_HEADER, TokenStore, parse_manager_id
from zava.security.oauth import OAuthConfig, OAuthVerifier
from zava.server.abandoned import CancelOnDisconnect
from zava.server.app import build_server
from zava.server.cache_hints import LIST_HINTS, ListCacheHeaders
from zava.server.drain import CloseWhileDraining, Drain, GracefulServer
from zava.server.identity import HashedTokenVerifier, HeaderCaller, TokenCaller
from zava.server.oauth import (
    OAuthAccessTokens,
    OAuthGate,
    metadata_document,
    oauth_requester,
)
from zava.server.runtime import Runtime
from zava.server.session_cap import App, Identify, SessionCap
from zava.services.identities import IdentityDirectory

ROOT_METADATA_PATH = "/.well-known/oauth-protected-resource"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_security(host: str, port: int, allowed_hosts: list[str]) -> TransportSecuritySettings:
    """Accept only requests addressed to this server's own names (DNS-rebinding guard)."""
    names = {host, "127.0.0.1", "localhost", "[::1]", *allowed_hosts}
    hosts = sorted({*names, *(f"{n}:{port}" for n in names)})
    origins = sorted({f"http://{h}" for h in hosts} | {f"https://{h}" for h in hosts})
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=hosts, allowed_origins=origins)


async def serve_http(
    runtime: Runtime, *, host: str, port: int, trust_identity_header: bool,
    allowed_hosts: list[str], public_url: str | None = None,
    listen: socket | None = None, on_started: Callable[[], None] | None = None,
) -> None:
    """Serve MCP at ``/mcp`` until interrupted. ``listen``: a socket already bound and
    shared with other workers (``zava serve --workers``; see ``zava.server.drain`` for
    how they drain); ``on_started``: called once requests are accepted."""
    settings = runtime.settings
    stateful = settings.http_stateful
    options: dict[str, object] = {"cache_hints": LIST_HINTS}
    verifier: OAuthVerifier | None = None
    resource = public_url or f"http://{host}:{port}/mcp"
    if trust_identity_header:
        if not is_loopback(host):
            raise ConfigurationError(
                "--trust-identity-header lets any client pick its identity; it is refused "
                f"when binding {host}: bind 127.0.0.1, or use bearer tokens")
        logger.warning("TRUSTING THE x-rls-user-id HEADER: any local client can act as any "
                       "manager. Local development only; use bearer tokens in production")
        if settings.oauth_issuer:
            logger.warning("--trust-identity-header: ZAVA_OAUTH_ISSUER is ignored")
        identity: HeaderCaller | TokenCaller = HeaderCaller()
        requester: Identify = _header_requester
    elif settings.oauth_issuer:
        if settings.token_file is not None or settings.tokens:
            logger.warning("ZAVA_OAUTH_ISSUER is set: the static tokens of ZAVA_TOKEN_FILE / "
                           "ZAVA_TOKENS are not accepted (unset the issuer to use them)")
        verifier = await _oauth_verifier(runtime, resource)
        identity = TokenCaller()
        requester = oauth_requester(verifier)
        scopes = list(verifier.config.required_scopes)
        options |= {
            "token_verifier": OAuthAccessTokens(verifier),
            "auth": AuthSettings(issuer_url=verifier.config.issuer,
                                 resource_server_url=resource, required_scopes=scopes,
                                 validate_token_resource=False),  # the verifier checks aud
        }
    else:
        store = TokenStore.load(settings.token_file, settings.tokens)
        if not store.managers_by_hash:
            raise ConfigurationError(
                "no bearer tokens configured: set ZAVA_TOKEN_FILE (create entries with "
                "`zava token create --manager <id> --file tokens.txt`) or ZAVA_TOKENS")
        identity = TokenCaller()
        requester = _token_requester(store)
        options |= {
            "token_verifier": HashedTokenVerifier(store),
            "auth": AuthSettings(issuer_url=resource.removesuffix("/mcp"),
                                 resource_server_url=resource, required_scopes=["zava:read"],
                                 validate_token_resource=False),
        }
    server = build_server(runtime, identity, **options)
    security = transport_security(host, port, allowed_hosts)
    own_hosts = frozenset(security.allowed_hosts)

    def foreign_host(request: Request) -> JSONResponse | None:
        """A 421 for a request addressed to a name this server does not answer to."""
        if request.headers.get("host", "") in own_hosts:
            return None
        return JSONResponse({"error": "misdirected request: unknown Host"}, status_code=421)

    if verifier is not None:
        metadata = metadata_document(resource, verifier.config.issuer,
                                     list(verifier.config.required_scopes))

        @server.custom_route(ROOT_METADATA_PATH, methods=["GET"])  # type: ignore[untyped-decorator]
        async def protected_resource(request: Request) -> JSONResponse:
            if refused := foreign_host(request):
                return refused
            return JSONResponse(metadata)

    @server.custom_route("/health", methods=["GET"])  # type: ignore[untyped-decorator]
    async def health(request: Request) -> JSONResponse:
        if refused := foreign_host(request):
            return refused
        return JSONResponse({"status": "ok", "uptime_s": round(runtime.uptime_s, 1)})

    drain = Drain(shared_socket=listen is not None)

    @server.custom_route("/ready", methods=["GET"])  # type: ignore[untyped-decorator]
    async def ready(request: Request) -> JSONResponse:
        if refused := foreign_host(request):
            return refused
        drain.probed()
        if drain.not_ready:
            return JSONResponse({"status": "draining"}, status_code=503)
        replicas = {"replicas": runtime.replicas.status()} if runtime.replicas else {}
        health = await check_database(runtime.engine)
        if not health.reachable:
            return JSONResponse({"status": "unavailable",
                                 "database": f"unavailable ({health.unreachable}): the "
                                             "database cannot be reached", **replicas},
                                status_code=503)
        if not health.at_head:
            return JSONResponse({"status": "unavailable", "migrations": health.current,
                                 "head": health.head}, status_code=503)
        return JSONResponse({"status": "ready", "migrations": health.current, **replicas})

    @server.custom_route("/metrics", methods=["GET"])  # type: ignore[untyped-decorator]
    async def metrics(request: Request) -> Response:
        if refused := foreign_host(request) or metrics_refusal(request, settings.metrics_token):
            return refused
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)

    app: App = ListCacheHeaders(server.streamable_http_app(
        host=host, transport_security=security, stateless_http=not stateful,
        json_response=not stateful))
    if stateful:  # event streams watch their connection; sessions are capped per caller
        app = SessionCap(app, requester, limit=settings.max_sessions_per_caller)
    else:  # stateless HTTP keeps no sessions: the fair shares are the per-caller cap
        app = CancelOnDisconnect(app)
    if verifier is not None:
        app = OAuthGate(app, verifier,
                        resource_metadata_url=str(build_resource_metadata_url(
                            AnyHttpUrl(resource))))
    app = CloseWhileDraining(app, drain)
    # Keep-alive longer than a load balancer's idle server connections, so the balancer
    # closes them first and never sends a call on a connection this side is closing.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on",
                            access_log=False, timeout_keep_alive=75,
                            timeout_graceful_shutdown=math.ceil(
                                settings.http_shutdown_timeout_s))
    server_process = GracefulServer(config, drain, on_started=on_started,
                                    drain_s=settings.http_drain_s)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server_process.request_exit)
    logger.info("serving MCP on http://{}:{}/mcp ({})", host, port,
                "stateful sessions" if stateful else "stateless")
    try:
        await server_process.serve(sockets=[listen] if listen is not None else None)
    finally:
        if verifier is not None:
            await verifier.aclose()
    logger.info("HTTP server stopped")


async def _oauth_verifier(runtime: Runtime, resource: str) -> OAuthVerifier:
    """The verifier for ``ZAVA_OAUTH_ISSUER``, with the issuer's keys fetched now when the
    provider answers (a provider that is down is retried on the first token)."""
    config = OAuthConfig.from_settings(runtime.settings, resource_url=resource)
    directory = IdentityDirectory(runtime.engine, runtime.settings)
    verifier = OAuthVerifier(config, directory.manager_for)
    if not await verifier.jwks.prefetch():
        logger.warning("the identity provider {} cannot be reached now; tokens are refused "
                       "until it answers", config.issuer)
    logger.info("OAuth resource server: tokens of {} for {} (claim {} -> manager)",
                config.issuer, config.audience, config.manager_id_claim or
                f"{config.manager_claim} via retail.manager_identities")
    return verifier


def _header_requester(headers: dict[str, str]) -> uuid.UUID | None:
    """The caller an ``x-rls-user-id`` header names (development mode), if valid."""
    try:
        return parse_manager_id(headers.get(IDENTITY_HEADER), source="the header")
    except ZavaError:
        return None


def _token_requester(store: TokenStore) -> Identify:
    """The caller a request's bearer token maps to, if it is a known token."""

    def requester(headers: dict[str, str]) -> uuid.UUID | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return store.manager_for(token.strip()) if scheme.lower() == "bearer" else None

    return requester


def metrics_refusal(request: Request, token: SecretStr | None) -> JSONResponse | None:
    """Why ``request`` may not read /metrics (None when it may): the configured bearer
    token is required; without one, only a loopback client is answered."""
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), token.get_secret_value().encode()):
            return None
        return JSONResponse({"error": "/metrics needs the metrics token: "
                                      "Authorization: Bearer <ZAVA_METRICS_TOKEN>"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    client = request.client.host if request.client else ""
    if is_loopback(client):
        return None
    return JSONResponse({"error": "/metrics answers loopback clients only; set "
                                  "ZAVA_METRICS_TOKEN to scrape it from elsewhere"},
                        status_code=403)
