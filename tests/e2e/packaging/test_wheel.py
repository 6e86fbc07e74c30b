"""The wheel runs anywhere: built from a clean clone, installed into a fresh venv outside
the checkout, it migrates, seeds, passes doctor and answers an MCP tool call.

Everything happens in one temporary folder under /tmp (short: the embedded PostgreSQL's
unix socket lives in the data directory): ``git clone`` of this repository (so only
committed files count, as in CI), ``python -m build`` (sdist, then the wheel from the
sdist), a venv with the wheel (dependencies from PyPI through pip's cache; not the
local-embeddings extra: the seed ships precomputed catalog vectors), then that venv's
``zava`` with the folder as its working directory and a fresh ``ZAVA_DATA_DIR``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from zava.seeding import company

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SEATTLE = next(m for m in company.managers() if m.store == "Seattle")


@dataclass(frozen=True)
class Installed:
    """A venv holding the wheel, and the folder and environment to run it in."""

    work: Path
    venv: Path
    env: dict[str, str]

    def bin(self, program: str) -> Path:
        return self.venv / "bin" / program

    def run(self, *args: str | Path, timeout: float = 300) -> str:
        """Run a command in ``work``; its stdout and stderr together; fail on non-zero."""
        result = subprocess.run([str(a) for a in args], cwd=self.work, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{output}"
        return output


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> None:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")


def _clean_environment(data_dir: Path) -> dict[str, str]:
    """This process's environment without anything pointing at the checkout, its venv or
    another database."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ZAVA_")
           and k not in ("DATABASE_URL", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(ZAVA_DATA_DIR=str(data_dir), ZAVA_LOG_LEVEL="WARNING", HF_HUB_OFFLINE="1")
    return env


def _stop_leftover_cluster(installed: Installed) -> None:
    """Stop the embedded PostgreSQL of ``installed`` if a failed step left it running."""
    pgdata = Path(installed.env["ZAVA_DATA_DIR"]) / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return
    pg_ctl = subprocess.run(
        [str(installed.bin("python")), "-c",
         "from zava.provision.embedded import pg_bin; print(pg_bin('pg_ctl'))"],
        capture_output=True, text=True, env=installed.env, cwd=installed.work).stdout.strip()
    if pg_ctl:
        subprocess.run([pg_ctl, "stop", "-D", str(pgdata), "-m", "fast"],
                       capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """The wheel of a fresh clone, installed into a fresh venv under /tmp."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the wheel test clones the repository: it needs git and a git checkout")
    work = Path(tempfile.mkdtemp(prefix="zw-", dir="/tmp"))
    installed = Installed(work=work, venv=work / "venv",
                          env=_clean_environment(work / "data"))
    try:
        _run("git", "clone", "--quiet", ROOT, work / "src", cwd=work)
        _run(sys.executable, "-m", "build", "--outdir", work / "dist", work / "src", cwd=work)
        wheels = list((work / "dist").glob("zava-*.whl"))
        assert len(wheels) == 1, wheels
        _run(sys.executable, "-m", "venv", installed.venv, cwd=work)
        _run(installed.bin("python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", wheels[0], cwd=work, timeout=900)
        yield installed
    finally:
        _stop_leftover_cluster(installed)
        shutil.rmtree(work, ignore_errors=True)


def test_the_wheel_carries_the_migrations_and_the_seed(installed: Installed) -> None:
    where = installed.run(installed.bin("python"), "-c", (
        "import zava, zava.bundled as b; "
        "print(zava.__file__); print(b.MIGRATIONS_DIR); print(b.SEED_DIR)")).split()
    site_packages = next(installed.venv.glob("lib/python*/site-packages")).resolve()
    package, migrations, seed = map(Path, where)
    assert package.is_relative_to(site_packages), "zava was imported from elsewhere"
    assert migrations == site_packages / "zava" / "migrations"
    assert seed == site_packages / "zava" / "seed"
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == sorted(
        p.name for p in (ROOT / "alembic" / "versions").glob("*.py"))
    assert sorted(p.relative_to(seed).as_posix() for p in seed.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(ROOT / "seed").as_posix()
               for p in (ROOT / "seed").rglob("*") if p.is_file())
    missing = installed.run(installed.bin("python"), "-c", (
        "import importlib.util as u; "
        "print([m for m in ('torch', 'sentence_transformers') if u.find_spec(m)])"))
    assert missing.strip() == "[]", "the local-embeddings extra was installed"


async def test_migrate_seed_doctor_and_serve_from_the_wheel(installed: Installed) -> None:
    zava = installed.bin("zava")
    installed.run(zava, "db", "upgrade")
    installed.run(zava, "seed", "--size", "tiny", "--quiet")
    report = installed.run(zava, "doctor")
    print(report)
    assert "[FAIL]" not in report and "[WARN]" not in report, report
    assert "migrations: at head" in report, report

    server = StdioServerParameters(
        command=str(zava), args=["serve", "--rls-user", str(SEATTLE.manager_id)],
        env=installed.env, cwd=installed.work)
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool(
                "execute_sales_query",
                {"postgresql_query": "SELECT count(*) FROM retail.stores"})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["row_count"] == 1
    assert result.structured_content["rows"] == [[1]]  # Seattle sees its own store only
