"""MCP over stdio on the event loop itself: stdin and stdout as asyncio pipe transports.

The SDK's ``stdio_server`` reads each line and writes each message through a worker
thread (``anyio.wrap_file``): two thread hand-offs, a writer task and a memory stream per
message. Profiled on a warm server that was a fifth of its CPU per call (see
docs/performance.md). Here the event loop polls the pipes directly: a line read becomes
a message for the server in the same callback, and a message written goes to the pipe in
the task that sends it (non-blocking; the loop writes the rest when the client is slow).

What the SDK's transport promises is kept: the messages are parsed and serialised the
same way (an unparsable line reaches the server as an exception, which it logs), and
while serving fd 0 reads the null device and fd 1 writes to stderr, so a handler or a
child process that prints cannot corrupt the protocol; both are restored on exit.
Stdin and stdout that are not pipes or sockets (a terminal, a file) use the SDK's
transport. (Python clients give a server pipes; Node's give it Unix sockets.)

The protocol era is decided here too. The SDK's ``Server.run`` peeks at the client's
first request (the ``initialize`` handshake, or a request carrying the 2026-07-28
envelope) and then relays every later message to the chosen era's loop through a
memory stream and a task of its own (15% of the server's GIL time in a profile of
cheap calls). ``serve_streams`` makes the same decision, with the SDK's own test and its
replay limit, and hands the chosen loop the read stream itself, with the frames read so
far put back in front: no relay (-4.7% instructions per call, with the lighter read and
write paths below -5.8%; see docs/performance.md).
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import logging
import os
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, cast

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.models import InitializationOptions
from mcp.server.runner import (  # private: tests/unit/server/test_stdio_eras.py pins them
    _PRE_REQUEST_REPLAY_LIMIT,
    _has_modern_envelope,
    _serve_legacy_stream,
    _serve_modern_stream,
)
from mcp.shared._stream_protocols import WriteStream
from mcp.shared.message import SessionMessage

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A longer line is dropped (the server is told it was unreadable), not buffered."""
_PAUSE_LINES = 64
"""Lines read ahead of the server before stdin stops being read (backpressure)."""

logger = logging.getLogger(__name__)


def _kind(fd: int) -> str | None:
    """"pipe", "socket" (a stream socket), or None for anything else."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISSOCK(mode):
        with socket.socket(fileno=os.dup(fd)) as probe:
            return "socket" if probe.type == socket.SOCK_STREAM else None
    return None


class _LineReader(asyncio.Protocol):
    """Splits stdin into lines; the read stream takes them one at a time."""

    def __init__(self) -> None:
        self.lines: collections.deque[bytes | Exception] = collections.deque()
        self.eof = False
        self.waiter: asyncio.Future[None] | None = None
        """Set by the read stream while it waits for a line."""
        self._partial = bytearray()
        self._dropping = False
        self._paused = False
        self.transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports do not subclass asyncio's, but they are read transports)
        self.transport = cast(asyncio.ReadTransport, transport)

    def data_received(self, data: bytes) -> None:
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if self._dropping:
                self._dropping = False
            elif self._partial:
                self._partial += data[start:end]
                self._line(bytes(self._partial))
                self._partial.clear()
            else:
                self._line(data[start:end])
            start = end + 1
        if start < len(data) and not self._dropping:
            self._partial += data[start:]
            if len(self._partial) > MAX_LINE_BYTES:
                self._partial.clear()
                self._dropping = True
                self._push(ValueError(f"a message longer than {MAX_LINE_BYTES} bytes"))
        if len(self.lines) >= _PAUSE_LINES and self.transport is not None and not self._paused:
            self.transport.pause_reading()
            self._paused = True

    def _line(self, line: bytes) -> None:
        if line.strip():
            self._push(line)

    def _push(self, item: bytes | Exception) -> None:
        self.lines.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def eof_received(self) -> bool | None:
        self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if not self.eof:
            self.eof = True
            if self._partial.strip() and not self._dropping:
                self.lines.append(bytes(self._partial))
            self._partial.clear()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def take(self) -> bytes | Exception:
        """The next line (there is one), reading stdin again once the server has caught up."""
        line = self.lines.popleft()
        if self._paused and len(self.lines) < _PAUSE_LINES // 2 and not self.eof:
            assert self.transport is not None
            self.transport.resume_reading()
            self._paused = False
        return line


class StdinMessages:
    """The server's read stream: JSON-RPC messages parsed from stdin's lines, parsed
    exactly as the SDK's stdio transport parses them, after any put back in front."""

    last_context = None
    """No sender context (the dispatcher asks every message's stream for one, as the
    SDK's ``ContextReceiveStream`` carries): handlers run in a copy of the server's."""

    def __init__(self, reader: _LineReader) -> None:
        self._reader = reader
        self._lead: collections.deque[SessionMessage | Exception] = collections.deque()

    def put_back(self, items: list[SessionMessage | Exception]) -> None:
        """Receive ``items`` again, in this order, before the rest of stdin."""
        self._lead.extendleft(reversed(items))

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise anyio.EndOfStream from None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        # What the dispatcher calls for every message: one coroutine, no awaits inside
        # but the one for the next line.
        if self._lead:
            return self._lead.popleft()
        reader = self._reader
        while not reader.lines:
            if reader.eof:
                raise StopAsyncIteration
            reader.waiter = asyncio.get_running_loop().create_future()
            try:
                await reader.waiter
            finally:
                reader.waiter = None
        line = reader.take()
        if isinstance(line, Exception):
            return line
        try:
            message = types.jsonrpc_message_adapter.validate_json(
                line.decode("utf-8", errors="replace"), by_name=False)
        except Exception as exc:
            return exc
        return SessionMessage(message)

    async def aclose(self) -> None:
        if self._reader.transport is not None:
            self._reader.transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        await self.aclose()


class _Drain(asyncio.Protocol):
    """Flow control of stdout: senders wait while the client is not reading. (A socket
    could also carry data from the client: it is ignored, as the SDK ignores it.)"""

    def __init__(self) -> None:
        self.paused = False
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return True  # the client stopped sending on stdout's socket: keep writing

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def drain(self) -> None:
        while self.paused and not self.closed:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


class StdoutMessages:
    """The server's write stream: each message one line of JSON on stdout, serialised as
    the SDK's stdio transport does. A message is written whole by one ``write`` (the
    transport's buffer keeps messages in order and never interleaves them)."""

    def __init__(self, transport: asyncio.WriteTransport, drain: _Drain) -> None:
        self._transport = transport
        self._drain = drain

    async def send(self, item: SessionMessage, /) -> None:
        drain = self._drain
        if drain.closed or self._transport.is_closing():
            raise anyio.BrokenResourceError
        message = item.message  # model_dump_json() is this, decoded (we would encode again)
        data = message.__pydantic_serializer__.to_json(message, by_alias=True, exclude_unset=True)
        self._transport.write(data + b"\n")
        if drain.paused:
            await drain.drain()

    async def aclose(self) -> None:
        """Write what is buffered (while the client reads), then close."""
        if not self._transport.is_closing():
            with anyio.move_on_after(5):
                while self._transport.get_write_buffer_size() and not self._drain.closed:
                    await asyncio.sleep(0.005)
            self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        await self.aclose()


def _same_file(first: int, second: int) -> bool:
    """One socket for both directions (inetd style): left to the SDK's transport."""
    a, b = os.fstat(first), os.fstat(second)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def on_pipes() -> bool:
    """Stdin and stdout are two pipes or stream sockets (what MCP clients give a server):
    served on the event loop, where serving can be cancelled. Anything else (a terminal,
    a file, one socket for both directions) is served by the SDK's transport."""
    return _kind(0) is not None and _kind(1) is not None and not _same_file(0, 1)


@asynccontextmanager
async def _claimed(fd: int, diversion: int) -> AsyncIterator[int]:
    """A private duplicate of ``fd`` (the wire) while ``fd`` points at ``diversion``;
    on exit ``fd`` is the wire again, in its original blocking mode."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    blocking = os.get_blocking(private)
    try:
        os.dup2(diversion, fd)
        try:
            yield private
        finally:
            os.dup2(private, fd)
            os.set_blocking(fd, blocking)
    finally:
        os.close(private)


async def _transport(fd: int, protocol: asyncio.Protocol, *,
                     writing: bool) -> asyncio.BaseTransport:
    """An event-loop transport over a duplicate of ``fd`` (which it closes when done)."""
    loop = asyncio.get_running_loop()
    duplicate = os.dup(fd)
    if _kind(fd) == "socket":
        transport, _ = await loop.connect_accepted_socket(
            lambda: protocol, socket.socket(fileno=duplicate))
        if writing:
            transport.pause_reading()  # stdout's socket carries nothing to read
        return transport
    pipe = os.fdopen(duplicate, "wb" if writing else "rb", buffering=0)
    if writing:
        return (await loop.connect_write_pipe(lambda: protocol, pipe))[0]
    return (await loop.connect_read_pipe(lambda: protocol, pipe))[0]


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[StdinMessages, StdoutMessages]]:
    """The read and write streams of the server over this process's stdin and stdout,
    both pipes or stream sockets."""
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        async with _claimed(0, null) as stdin_fd, _claimed(1, 2) as stdout_fd:
            # The transports own duplicates (they close them); the claims keep theirs.
            reader = _LineReader()
            read_transport = await _transport(stdin_fd, reader, writing=False)
            drain = _Drain()
            write_transport = cast(asyncio.WriteTransport,
                                   await _transport(stdout_fd, drain, writing=True))
            incoming, outgoing = StdinMessages(reader), StdoutMessages(write_transport, drain)
            try:
                yield incoming, outgoing
            finally:
                read_transport.close()
                await outgoing.aclose()
    finally:
        os.close(null)


async def _opening_request(incoming: StdinMessages) -> types.JSONRPCRequest | None:
    """The client's first request, or None if stdin ends first; it and up to
    ``_PRE_REQUEST_REPLAY_LIMIT`` frames before it are put back to be received again
    (further ones are dropped), as the SDK's ``_replay_from_opening_request`` does."""
    lead: list[SessionMessage | Exception] = []
    opening: types.JSONRPCRequest | None = None
    async for item in incoming:
        if isinstance(item, SessionMessage) and isinstance(item.message, types.JSONRPCRequest):
            opening = item.message
        elif len(lead) >= _PRE_REQUEST_REPLAY_LIMIT:
            logger.debug("dropped a frame received before the first request: %r", item)
            continue
        lead.append(item)
        if opening is not None:
            break
    incoming.put_back(lead)
    return opening


async def serve_streams(server: Server[Any], incoming: StdinMessages,
                        outgoing: WriteStream[SessionMessage],
                        init_options: InitializationOptions) -> None:
    """What ``server.run(incoming, outgoing, init_options)`` does, without its relay: in
    the server's lifespan, the first request decides the era (a request other than
    ``initialize`` carrying the 2026-07-28 envelope opens a modern connection, anything
    else a handshake one), and the SDK's loop for that era reads ``incoming`` directly,
    from the frames before that request on. Each loop refuses the other era's requests
    later. Both streams are closed on every exit."""
    async with server.lifespan(server) as lifespan_state:
        try:
            opening = await _opening_request(incoming)
            if opening is not None and opening.method != "initialize" \
                    and _has_modern_envelope(opening.params):
                await _serve_modern_stream(server, incoming, outgoing,
                                           lifespan_state=lifespan_state, raise_exceptions=False)
            else:
                await _serve_legacy_stream(server, incoming, outgoing,
                                           lifespan_state=lifespan_state, session_id=None,
                                           init_options=init_options, raise_exceptions=False)
        finally:
            await incoming.aclose()
            await outgoing.aclose()


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve ``server`` over stdin and stdout until stdin closes: on the event loop when
    both are pipes or sockets (what MCP clients give a server), else the SDK's way."""
    if not on_pipes():
        await server.run_stdio_async()
        return
    lowlevel = server._lowlevel_server  # what run_stdio_async runs, on these streams
    async with stdio_streams() as (incoming, outgoing):
        await serve_streams(lowlevel, incoming, outgoing,
                            lowlevel.create_initialization_options())
