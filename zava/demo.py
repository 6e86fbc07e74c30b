"""`zava demo`: the same questions asked as the Seattle manager and as head office through
real MCP client sessions against `zava serve`, side by side, then client configurations."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from rich.console import Console
from rich.table import Table

from zava.config import Settings
from zava.seeding import company


@dataclass(frozen=True)
class Question:
    """One step of the tour: a question and the tool call that answers it."""

    text: str
    tool: str
    arguments: dict[str, Any]


QUESTIONS = (
    Question("Which stores can I see?", "get_multiple_table_schemas",
             {"table_names": ["retail.stores"]}),
    Question("Revenue by store, last 12 months", "get_store_performance",
             {"period": "last_12_months"}),
    Question("Orders per store (free SQL)", "execute_sales_query",
             {"postgresql_query": "SELECT s.name, count(*) AS orders FROM retail.orders o "
                                  "JOIN retail.stores s USING (store_id) "
                                  "GROUP BY 1 ORDER BY 2 DESC"}),
    Question("Top 3 products, last 30 days", "get_top_products",
             {"period": "last_30_days", "limit": 3}),
    Question("Something to keep rain off the patio", "semantic_search_products",
             {"query_description": "something to keep rain off the patio", "max_rows": 3}),
    Question("Attack: switch identity to head office", "execute_sales_query",
             {"postgresql_query": "SELECT set_config('app.current_rls_user_id', "
                                  f"'{company.HEAD_OFFICE_ID}', true)"}),
)


def _summary(tool: str, result: Any) -> str:
    if result.is_error:
        return "refused: " + str(result.content[0].text).split(": ", 1)[-1][:90]
    data = result.structured_content or {}
    if tool == "get_multiple_table_schemas":
        return ", ".join(data["store_names"])
    if tool == "get_store_performance":
        return "\n".join(f"{s['store']}: ${s['revenue']:,.0f}" for s in data["stores"])
    if tool == "execute_sales_query":
        return "\n".join(f"{r[0]}: {r[1]}" for r in data["rows"][:8])
    if tool == "get_top_products":
        return "\n".join(f"{p['rank']}. {p['name'][:40]}" for p in data["products"])
    if tool == "semantic_search_products":
        return "\n".join(f"{p['name'][:40]} ({p['units_in_your_stores']} in stock)"
                         for p in data["products"])
    return json.dumps(data)[:200]


def server_command() -> list[str]:
    """How to start this installation's server: the `zava` script beside this Python."""
    script = shutil.which("zava", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "zava"]


async def ask_all(manager: uuid.UUID, env: dict[str, str]) -> list[str]:
    """Run the tour's questions through one stdio session as ``manager``."""
    command, *prefix = server_command()
    params = StdioServerParameters(command=command,
                                   args=[*prefix, "serve", "--rls-user", str(manager)], env=env)
    answers = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for question in QUESTIONS:
            result = await session.call_tool(question.tool, question.arguments)
            answers.append(_summary(question.tool, result))
    return answers


def client_configs(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Claude Desktop and VS Code (mcp.json) configurations with one server per manager."""
    command, *prefix = server_command()
    env = {"ZAVA_DATA_DIR": str(settings.data_dir)}
    claude: dict[str, Any] = {"mcpServers": {}}
    vscode: dict[str, Any] = {"servers": {}}
    for manager in company.managers():
        name = "zava-" + (manager.store or manager.region or "head-office").lower()
        args = [*prefix, "serve", "--rls-user", str(manager.manager_id)]
        claude["mcpServers"][name] = {"command": command, "args": args, "env": env}
        vscode["servers"][name] = {"type": "stdio", "command": command, "args": args, "env": env}
    return claude, vscode


async def run_tour(settings: Settings, console: Console) -> None:
    """Ask every question as Seattle and as head office; print both side by side."""
    env = {k: v for k, v in os.environ.items()}
    env.update(ZAVA_DATA_DIR=str(settings.data_dir), ZAVA_DATABASE_NAME=settings.database_name,
               ZAVA_LOG_LEVEL="WARNING", HF_HUB_OFFLINE="1")
    seattle = await ask_all(company.SEATTLE_MANAGER_ID, env)
    head_office = await ask_all(company.HEAD_OFFICE_ID, env)
    table = Table(title="The same questions, two callers: row-level security at work",
                  show_lines=True)
    table.add_column("question", style="bold")
    table.add_column("Seattle store manager")
    table.add_column("Head office")
    for question, left, right in zip(QUESTIONS, seattle, head_office, strict=True):
        table.add_row(question.text, left, right)
    console.print(table)
