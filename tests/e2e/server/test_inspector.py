"""A third-party client: the MCP Inspector CLI (from npm) lists the tools and calls
execute_sales_query against `zava serve` over stdio."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zava.seeding import company

INSPECTOR = "@modelcontextprotocol/inspector@2"
pytestmark = pytest.mark.skipif(shutil.which("npx") is None,
                                reason="npx (Node.js) is not installed: the Inspector needs it")


@pytest.fixture(scope="module")
def launcher(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A script that starts the server with the test environment (the Inspector's own
    argument parser would take `serve --rls-user ...` for its options)."""
    script = tmp_path_factory.mktemp("inspector") / "zava-seattle.sh"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in server_env.items()
                       if k.startswith(("ZAVA_", "HF_", "PATH", "HOME")))
    script.write_text(f"#!/bin/sh\nexport {exports}\nexec {shlex.quote(sys.executable)} -m zava "
                      f"serve --rls-user {company.SEATTLE_MANAGER_ID}\n")
    script.chmod(0o755)
    return script


def inspector(launcher: Path, *args: str) -> dict[str, object]:
    result = subprocess.run(["npx", "-y", INSPECTOR, "--cli", str(launcher), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    output: dict[str, object] = json.loads(result.stdout)
    return output


def test_inspector_lists_the_tools(launcher: Path) -> None:
    listed = inspector(launcher, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert {"execute_sales_query", "get_multiple_table_schemas",
            "semantic_search_products", "get_current_utc_date"} <= names


def test_inspector_calls_execute_sales_query(launcher: Path) -> None:
    called = inspector(launcher, "--method", "tools/call", "--tool-name", "execute_sales_query",
                       "--tool-arg", "postgresql_query=SELECT name FROM retail.stores")
    assert called["isError"] is False
    assert called["structuredContent"]["rows"] == [["Seattle"]]  # type: ignore[index]
