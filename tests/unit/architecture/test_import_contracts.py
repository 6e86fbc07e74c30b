"""The import contracts in pyproject.toml ([tool.importlinter]) hold.

`make test` and `make lint` run `lint-imports` too; this test makes `pytest tests/unit`
alone check them. The contracts (layers server -> services -> repositories -> db, db at the
floor, only the server speaks MCP, provisioning for the command line and the server only)
are documented where they are written.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_import_contract_is_kept() -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        contracts = tomllib.load(handle)["tool"]["importlinter"]["contracts"]
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), "import-linter is missing: pip install -e '.[dev]'"
    result = subprocess.run([str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    report = result.stdout + result.stderr
    print(report)
    assert result.returncode == 0, report
    assert re.search(rf"Contracts: {len(contracts)} kept, 0 broken", report), report
