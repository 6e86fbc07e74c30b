"""`zava serve` (stdio or HTTP) and `zava token create`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from loguru import logger

from zava.cli.common import run_async, settings_of
from zava.observability.logging import flush_logs
from zava.provision.embedded import stop_cluster

if TYPE_CHECKING:
    from zava.config import Settings
    from zava.server.runtime import Runtime


@click.command()
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio",
              show_default=True)
@click.option("--rls-user", type=click.UUID, envvar="ZAVA_RLS_USER",
              help="stdio: the manager id every call acts for.")
@click.option("--host", default="127.0.0.1", show_default=True, help="http: address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--allowed-host", "allowed_hosts", multiple=True,
              help="http: another Host name clients use (behind a proxy); repeatable.")
@click.option("--public-url", help="http: the URL clients use for /mcp, if not host:port "
                                   "(also the OAuth audience by default).")
@click.option("--trust-identity-header", is_flag=True,
              help="http, development only: take the caller from x-rls-user-id.")
@click.option("--allow-privileged-login", is_flag=True,
              help="Serve even if the login role is superuser, BYPASSRLS, owner or writer.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="http: worker processes on the one port (SIGHUP: rolling restart; "
                   "SIGTERM: finish calls in flight, then stop). Each has its own pool.")
@click.option("--stateful", is_flag=True,
              help="http: keep 2025-11-25 sessions in the process (ZAVA_HTTP_STATEFUL); "
                   "needs sticky routing behind a load balancer.")
@click.option("--worker-fds", hidden=True,
              help="Internal: a worker of --workers (listening socket, started pipe).")
@click.pass_context
def serve(ctx: click.Context, transport: str, rls_user: uuid.UUID | None, host: str, port: int,
          allowed_hosts: tuple[str, ...], public_url: str | None,
          trust_identity_header: bool, allow_privileged_login: bool, workers: int,
          stateful: bool, worker_fds: str | None) -> None:
    """Serve the MCP tools over stdio (desktop clients) or streamable HTTP.

    HTTP callers are identified by static bearer tokens (ZAVA_TOKEN_FILE, ZAVA_TOKENS) or,
    with ZAVA_OAUTH_ISSUER set, by OAuth access tokens from that identity provider, mapped
    to managers with `zava identity add`. HTTP is stateless unless --stateful: any worker
    behind a load balancer serves any request."""
    settings = settings_of(ctx)
    if allow_privileged_login:
        settings = settings.model_copy(update={"allow_privileged_login": True})
    if stateful:
        settings = settings.model_copy(update={"http_stateful": True})
    caller = rls_user or settings.rls_user
    if transport == "stdio" and caller is None:
        raise click.UsageError("stdio needs an identity: --rls-user <manager id> "
                               "(or ZAVA_RLS_USER)")
    if workers > 1:
        if transport != "http":
            raise click.UsageError("--workers needs --transport http")
        if settings.http_stateful:
            raise click.UsageError("--workers needs stateless HTTP: sessions live in one "
                                   "process (drop --stateful / ZAVA_HTTP_STATEFUL)")
        _supervise(ctx, workers)
        return
    listen, on_started = None, None
    if worker_fds is not None:
        from zava.server.workers import announce_started
        from zava.server.workers import worker_fds as parse_fds

        listen_fd, started_fd = parse_fds(worker_fds)
        listen = socket.socket(fileno=listen_fd)
        on_started = announce_started(started_fd)

    async def work() -> None:
        from zava.server.stdio import on_pipes

        if transport == "stdio" and on_pipes():
            assert caller is not None
            await _serve_stdio_opening(settings, caller)
            return
        from zava.server.runtime import open_runtime

        async with open_runtime(settings, shared=transport == "http") as runtime:
            if transport == "http":
                from zava.server.http import serve_http

                await serve_http(runtime, host=host, port=port,
                                 trust_identity_header=trust_identity_header,
                                 allowed_hosts=list(allowed_hosts), public_url=public_url,
                                 listen=listen, on_started=on_started)
                return
            # A stdio server imports nothing of HTTP (uvicorn, OAuth, httpx): it starts
            # sooner (see docs/performance.md).
            from zava.server.app import build_server
            from zava.server.identity import FixedCaller
            from zava.server.stdio import serve_stdio

            assert caller is not None
            async with runtime.unit(caller):  # refuses an unknown manager, before serving
                pass
            server = build_server(runtime, FixedCaller(caller))
            await _until_terminated(serve_stdio(server), settings, runtime)

    # stdio: uvloop when installed (measured: about a tenth less CPU per call, see
    # docs/performance.md); HTTP stays on asyncio's loop.
    run_async(ctx, work, fast_loop=transport == "stdio")


def _supervise(ctx: click.Context, workers: int) -> None:
    """Run ``workers`` copies of this `zava serve` on one socket until SIGTERM."""
    from zava.server.workers import Supervisor

    settings = settings_of(ctx)
    root = ctx.find_root().params
    flags = [*(["--debug"] if root.get("debug") else []),
             *(["--log-json"] if root.get("log_json") else []),
             *(["--log-queries"] if root.get("log_queries") else []),
             *(["--slow-query-ms", str(root["slow_query_ms"])]
               if root.get("slow_query_ms") is not None else [])]
    params = ctx.params
    options = ["--transport", "http", "--host", params["host"], "--port", str(params["port"]),
               *(f"--allowed-host={name}" for name in params["allowed_hosts"]),
               *([f"--public-url={params['public_url']}"] if params["public_url"] else []),
               *(["--trust-identity-header"] if params["trust_identity_header"] else []),
               *(["--allow-privileged-login"] if params["allow_privileged_login"] else [])]
    supervisor = Supervisor([sys.executable, "-m", "zava", *flags, "serve", *options],
                            workers=workers, host=params["host"], port=params["port"],
                            stop_timeout_s=settings.http_shutdown_timeout_s + 10)
    sys.exit(supervisor.run())


async def _serve_stdio_opening(settings: Settings, caller: uuid.UUID) -> None:
    """Serve over stdio (pipes or sockets) while the runtime opens: ``initialize`` and
    the lists are answered at once, a call waits for the runtime (benchmarks/startup.py).

    Failures are what they were when the runtime opened first: a database that cannot
    be reached, is not migrated or refuses the login, or an unknown manager, stops the
    server with its one-line error (exit 1), whether or not the client has been
    answered; a call waiting for the runtime gets that error too.

    The tools are registered, and the runtime opened, once ``initialize`` is answered:
    importing them (the services, repositories and models) and opening the database
    would otherwise delay that answer. (After a second without a request, the runtime
    opens anyway.)"""
    from zava.server.app import build_deferred_server
    from zava.server.identity import FixedCaller
    from zava.server.stdio import serve_stdio

    opened: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    server = build_deferred_server(opened, FixedCaller(caller))
    assert server.registration is not None
    registered = server.registration.registered
    release = asyncio.Event()

    async def hold() -> None:
        """Open the runtime, check the caller, and keep it open until released."""
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(registered.wait(), 1.0)
            from zava.server.runtime import open_runtime

            async with open_runtime(settings, shared=False) as runtime:
                async with runtime.unit(caller):  # refuses an unknown manager
                    pass
                opened.set_result(runtime)
                await release.wait()
        except BaseException as exc:
            if not opened.done():
                if isinstance(exc, Exception):
                    opened.set_exception(exc)
                    opened.exception()  # retrieved: no warning if no call waited
                else:
                    opened.cancel()
            raise

    holding = asyncio.create_task(hold())
    serving = asyncio.create_task(_until_terminated(serve_stdio(server), settings, opened))
    await asyncio.wait({holding, serving}, return_when=asyncio.FIRST_COMPLETED)
    if holding.done():  # the runtime failed to open (or to close): stop serving
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serving  # (its own error, if it had one, is not the cause)
        holding.result()
        return
    release.set()  # stdin closed: close the runtime (once open: its errors still count)
    await holding
    serving.result()


async def _until_terminated(serving: Coroutine[Any, Any, None], settings: Settings,
                            runtime: Runtime | asyncio.Future[Runtime]) -> None:
    """Serve until stdin closes; on SIGTERM or SIGINT close the pool and the embedded
    handle, write the queued log lines, then exit at once (the SDK's stdio transport,
    used for a terminal or a file, reads stdin in a thread that cannot be interrupted).
    ``runtime`` may still be opening."""
    loop = asyncio.get_running_loop()

    async def terminate() -> None:
        logger.info("terminating: closing the database pool")
        if isinstance(runtime, asyncio.Future):
            opened = (runtime.result() if runtime.done() and not runtime.cancelled()
                      and runtime.exception() is None else None)
        else:
            opened = runtime
        if opened is not None:
            await opened.engine.dispose()
        if settings.database_url is None:
            stop_cluster(settings.data_dir)  # this process's handle, if it has one
        await logger.complete()
        flush_logs()
        sys.stderr.flush()
        os._exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: loop.create_task(terminate()))
    await serving


@click.group()
def token() -> None:
    """Bearer tokens for the HTTP transport."""


@token.command("create")
@click.option("--manager", type=click.UUID, required=True, help="The manager id it acts for.")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="Append the hashed token to this file (ZAVA_TOKEN_FILE).")
def token_create(manager: uuid.UUID, file: Path | None) -> None:
    """Make a token: prints it once; only its hash is stored."""
    from zava.security.identity import hash_token, new_token

    value = new_token()
    line = f"{manager} {hash_token(value)}\n"
    if file is not None:
        with file.open("a") as handle:
            handle.write(line)
        file.chmod(0o600)
        click.echo(f"added to {file}", err=True)
    else:
        click.echo(f"ZAVA_TOKENS entry: {line.strip()}", err=True)
    click.echo(value)
