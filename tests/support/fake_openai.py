"""A small OpenAI-compatible embeddings server on 127.0.0.1, for the provider's tests.

It answers ``POST /v1/embeddings`` (OpenAI, Ollama, vLLM) and
``POST /openai/deployments/{name}/embeddings`` (Azure) with deterministic bag-of-words
vectors, records every request, and plays scripted failures first.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def word_vector(text: str, dimension: int) -> list[float]:
    """Counts of hashed words: texts sharing words are similar."""
    vector = [0.0] * dimension
    for word in text.lower().split():
        vector[hashlib.sha256(word.encode()).digest()[0] % dimension] += 1.0
    return vector


@dataclass
class Scripted:
    """A reply played instead of a normal answer: a status (and headers) or a delay."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class FakeOpenAI:
    """State of the fake server: what it received and what it will do next."""

    dimension: int = 1536
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    wrong_dimension: bool = False
    url: str = ""

    async def _answer(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"path": request.url.path, "query": dict(request.query_params),
                              "headers": dict(request.headers), "body": body})
        if self.script:
            step = self.script.pop(0)
            if step.delay_s:
                await asyncio.sleep(step.delay_s)
            if step.status != 200:
                return JSONResponse({"error": {"message": f"scripted {step.status}"}},
                                    status_code=step.status, headers=step.headers)
        size = body.get("dimensions", self.dimension) + (1 if self.wrong_dimension else 0)
        data = [{"object": "embedding", "index": i, "embedding": word_vector(text, size)}
                for i, text in enumerate(body["input"])]
        data.reverse()  # the API does not promise order: clients must sort by index
        return JSONResponse({"object": "list", "data": data, "model": body.get("model")})

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[
            Route("/v1/embeddings", self._answer, methods=["POST"]),
            Route("/openai/deployments/{name}/embeddings", self._answer, methods=["POST"]),
        ])


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def fake_openai(dimension: int = 1536) -> AsyncIterator[FakeOpenAI]:
    """Run the fake server on 127.0.0.1 until the block ends."""
    fake = FakeOpenAI(dimension=dimension)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
