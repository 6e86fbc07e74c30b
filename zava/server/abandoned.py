"""A call its client abandons is cancelled, over plain-JSON HTTP too.

With JSON answers (no event stream) the SDK runs a request in the ASGI task and never
reads the connection again, so a client that hangs up (or a load balancer passing the
abort on) would leave its query running until the statement timeout, holding a pooled
connection. This wrapper watches the connection once the request body has been read and
cancels the request when the client disconnects; the unit of work then cancels the query
in PostgreSQL.
"""

from __future__ import annotations

import anyio

from zava.server.session_cap import App, Message, Receive, Scope, Send, posts_to


class CancelOnDisconnect:
    """Cancels a POST to ``path`` whose client disconnects before the answer is sent."""

    def __init__(self, app: App, *, path: str = "/mcp") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not posts_to(scope, self.path):
            await self.app(scope, receive, send)
            return
        body_read = anyio.Event()
        answered = False

        async def reading() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                body_read.set()
            return message

        async def sending(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True  # from here the app itself notices a closed connection
            await send(message)

        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                await body_read.wait()
                while not answered:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        tasks.cancel_scope.cancel()
                        return

            async def serve() -> None:
                await self.app(scope, reading, sending)
                tasks.cancel_scope.cancel()

            tasks.start_soon(watch)
            tasks.start_soon(serve)
