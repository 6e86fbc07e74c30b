"""Run the Alembic migrations from code: upgrade, downgrade, offline SQL, revision checks.

Alembic itself is imported only by the commands that migrate: a server needs just the
head revision (read from the migration files' headers) and the database's revision (one
query), and importing Alembic would add a tenth of a second to every start.
"""

from __future__ import annotations

import asyncio
import functools
import io
import re
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from zava.bundled import MIGRATIONS_DIR
from zava.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = MIGRATIONS_DIR


def alembic_config(
    url: str | None = None,
    *,
    embedding_dim: int | None = None,
    embedding_model: str | None = None,
    stdout: io.TextIOBase | None = None,
) -> Config:
    """An Alembic config for this project's migrations, with the ``-x`` parameters set."""
    from alembic.config import Config

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


_REVISION = re.compile(r'^revision(?:: str)? = "([^"]+)"', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision(?:: [^=]+)? = (?:"([^"]+)"|None)', re.MULTILINE)


@functools.cache
def head_revision() -> str:
    """The newest revision in the migrations folder (read once per process): the one no
    other revision names as its ``down_revision``. (Alembic's ScriptDirectory gives the
    same answer; a unit test holds the two together.)"""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (SCRIPT_LOCATION / "versions").glob("*.py"):
        source = script.read_text()
        revision, parent = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or parent is None:
            raise ConfigurationError(f"{script} has no revision header; reinstall Zava")
        revisions.add(revision.group(1))
        if parent.group(1):
            parents.add(parent.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise ConfigurationError(
            f"the migrations folder {SCRIPT_LOCATION} has {len(heads)} heads "
            f"({', '.join(sorted(heads)) or 'none'}); reinstall Zava")
    return heads.pop()


async def current_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at, or None before the first migration."""
    table = await connection.scalar(text("SELECT to_regclass('public.alembic_version')"))
    if table is None:
        return None
    versions = list(await connection.scalars(
        text("SELECT version_num FROM public.alembic_version")))
    if len(versions) > 1:
        raise ConfigurationError(
            f"the database is at several revisions ({', '.join(versions)}): merge them "
            "with `alembic merge`, or restore the database")
    return versions[0] if versions else None


async def upgrade(url: str, revision: str = "head", *, embedding_dim: int | None = None,
                  embedding_model: str | None = None) -> None:
    """Apply migrations up to ``revision`` (runs Alembic in a worker thread)."""
    from alembic import command

    config = alembic_config(url, embedding_dim=embedding_dim, embedding_model=embedding_model)
    await asyncio.to_thread(command.upgrade, config, revision)


async def downgrade(url: str, revision: str) -> None:
    """Roll migrations back to ``revision`` (``base`` removes everything)."""
    from alembic import command

    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


def offline_sql(revision_range: str = "head", *, embedding_dim: int | None = None,
                embedding_model: str | None = None) -> str:
    """The SQL a DBA would run for ``revision_range`` (``head``, or ``base:head``)."""
    from alembic import command

    buffer = io.StringIO()
    config = alembic_config(
        embedding_dim=embedding_dim, embedding_model=embedding_model, stdout=buffer
    )
    command.upgrade(config, revision_range, sql=True)
    return buffer.getvalue()
