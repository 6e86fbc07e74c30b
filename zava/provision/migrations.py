"""Run the Alembic migrations from code: upgrade, downgrade, offline SQL, revision checks."""

from __future__ import annotations

import asyncio
import functools
import io

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from alembic import command
from zava.bundled import MIGRATIONS_DIR
from zava.errors import ConfigurationError

SCRIPT_LOCATION = MIGRATIONS_DIR


def alembic_config(
    url: str | None = None,
    *,
    embedding_dim: int | None = None,
    embedding_model: str | None = None,
    stdout: io.TextIOBase | None = None,
) -> Config:
    """An Alembic config for this project's migrations, with the ``-x`` parameters set."""
    if not (SCRIPT_LOCATION / "env.py").exists():
        raise ConfigurationError(
            f"the migrations folder {SCRIPT_LOCATION} is missing; reinstall Zava (the wheel "
            "carries them) or run it from a clone of the repository (pip install -e .)"
        )
    kwargs = {"output_buffer": stdout} if stdout is not None else {}
    config = Config(**kwargs)  # type: ignore[arg-type]
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    x_args = []
    if embedding_dim is not None:
        x_args.append(f"embedding_dim={embedding_dim}")
    if embedding_model is not None:
        x_args.append(f"embedding_model={embedding_model}")
    config.cmd_opts = _XArgs(x_args)  # type: ignore[assignment]
    return config


class _XArgs:
    """The part of Alembic's parsed command line that ``get_x_argument`` reads."""

    def __init__(self, x: list[str]) -> None:
        self.x = x


@functools.cache
def head_revision() -> str:
    """The newest revision in the migrations folder (read once per process)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at, or None before the first migration."""

    def _read(sync_connection: object) -> str | None:
        context = MigrationContext.configure(
            sync_connection,  # type: ignore[arg-type]
            opts={"version_table_schema": "public"},
        )
        return context.get_current_revision()

    return await connection.run_sync(_read)


async def upgrade(url: str, revision: str = "head", *, embedding_dim: int | None = None,
                  embedding_model: str | None = None) -> None:
    """Apply migrations up to ``revision`` (runs Alembic in a worker thread)."""
    config = alembic_config(url, embedding_dim=embedding_dim, embedding_model=embedding_model)
    await asyncio.to_thread(command.upgrade, config, revision)


async def downgrade(url: str, revision: str) -> None:
    """Roll migrations back to ``revision`` (``base`` removes everything)."""
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


def offline_sql(revision_range: str = "head", *, embedding_dim: int | None = None,
                embedding_model: str | None = None) -> str:
    """The SQL a DBA would run for ``revision_range`` (``head``, or ``base:head``)."""
    buffer = io.StringIO()
    config = alembic_config(
        embedding_dim=embedding_dim, embedding_model=embedding_model, stdout=buffer
    )
    command.upgrade(config, revision_range, sql=True)
    return buffer.getvalue()
