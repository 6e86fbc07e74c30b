"""Who may read /metrics (the rule itself, on hand-made requests) and what `zava stats`
says when the server refuses it."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from starlette.requests import Request

from zava.cli import main
from zava.server.http import metrics_refusal

TOKEN = SecretStr("metrics-s3cret")


def request(authorization: str | None = None, client: str = "10.1.2.3") -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": headers,
                    "client": (client, 40000), "query_string": b"", "scheme": "http",
                    "server": ("127.0.0.1", 8000)})


def test_the_token_is_accepted_only_as_a_bearer_token() -> None:
    assert metrics_refusal(request("Bearer metrics-s3cret"), TOKEN) is None
    assert metrics_refusal(request("bearer metrics-s3cret"), TOKEN) is None
    for wrong in (None, "metrics-s3cret", "Basic metrics-s3cret", "Bearer other"):
        refused = metrics_refusal(request(wrong), TOKEN)
        assert refused is not None and refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"


def test_with_a_token_loopback_needs_it_too() -> None:
    refused = metrics_refusal(request(client="127.0.0.1"), TOKEN)
    assert refused is not None and refused.status_code == 401


@pytest.mark.parametrize(("client", "allowed"), [("127.0.0.1", True), ("::1", True),
                                                 ("10.1.2.3", False), ("", False)])
def test_without_a_token_only_loopback_reads_it(client: str, allowed: bool) -> None:
    refused = metrics_refusal(request(client=client), None)
    assert (refused is None) == allowed
    if refused is not None:
        assert refused.status_code == 403


@pytest.mark.parametrize("status", [401, 403])
def test_stats_names_the_token_when_refused(status: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx, "get", lambda *_, **__: httpx.Response(status))
    result = CliRunner().invoke(main, ["stats", "--url", "http://127.0.0.1:9"])
    assert result.exit_code != 0
    assert f"refused the request ({status})" in result.output and "--token" in result.output
    assert "running there" not in result.output
