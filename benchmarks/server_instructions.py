"""Instructions the stdio server executes per call, under valgrind's callgrind: a measure
of server CPU that does not move with the machine's load (seconds of CPU time do, by 2x
and more on this shared 2-core machine), for comparing two versions of a hot path.

The server starts under callgrind with instrumentation off; after the warm-up calls it is
switched on (``callgrind_control -i on``) for the measured calls only, so imports and
start-up are not counted. Runs about 50x slower than native: keep ``--calls`` small.

    python -m benchmarks.server_instructions [--calls 100] [--tool execute_sales_query]
        [--sql "SELECT 1"] [--caller <manager id>] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

from benchmarks.common import seeded_target, server_env
from zava.seeding import company


def _control(pid: int, *options: str) -> None:
    subprocess.run(["callgrind_control", *options, str(pid)], check=True, capture_output=True)


def _instructions(folder: Path) -> int:
    """The largest ``totals:`` line of the callgrind dumps in ``folder`` (the dump taken
    after the measured calls)."""
    totals = [int(line.split()[1]) for dump in folder.iterdir()
              for line in dump.read_text(errors="replace").splitlines()
              if line.startswith("totals:")]
    return max(totals, default=0)


async def main(calls: int, tool: str, arguments: dict[str, object], caller: uuid.UUID,
               data_dir: Path | None) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    settings, _ = await seeded_target("workshop", data_dir)
    env = server_env(settings)
    with tempfile.TemporaryDirectory(prefix="zcg-") as folder:
        params = StdioServerParameters(command="valgrind", env=env, args=[
            "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={folder}/callgrind.out", sys.executable, "-m", "zava",
            "serve", "--rls-user", str(caller)])
        async with stdio_client(params) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            for _ in range(30):
                await session.call_tool(tool, arguments)
            (pid,) = map(int, Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
                         .read_text().split())
            _control(pid, "-i", "on")
            for _ in range(calls):
                result = await session.call_tool(tool, arguments)
                assert not result.is_error, result.content
            _control(pid, "-i", "off")
            _control(pid, "-d")  # dump what the measured calls executed
        per_call = _instructions(Path(folder)) / calls
    print(f"{tool} {json.dumps(arguments)}: {per_call / 1e6:.3f} M instructions per call "
          f"({calls} calls)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--tool", default="execute_sales_query")
    parser.add_argument("--sql", default="SELECT 1",
                        help="the query, for execute_sales_query")
    parser.add_argument("--caller", type=uuid.UUID, default=company.HEAD_OFFICE_ID)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    tool_arguments: dict[str, object] = (
        {"postgresql_query": args.sql} if args.tool == "execute_sales_query" else {})
    asyncio.run(main(args.calls, args.tool, tool_arguments, args.caller, args.data_dir))
