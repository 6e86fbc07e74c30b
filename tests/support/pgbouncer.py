"""A real PgBouncer (Debian's package) in transaction mode in front of the test cluster,
started on a free loopback port and stopped when the block ends."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from tests.support.system_packages import require_program
from zava.provision.embedded import ADMIN_ROLE, APP_ROLE, EmbeddedCluster


@dataclass(frozen=True)
class PgBouncer:
    """A running PgBouncer: its port and its log."""

    port: int
    log: Path
    version: str

    def url(self, role: str, database: str) -> str:
        """The asyncpg URL for ``role`` on ``database`` through this PgBouncer."""
        return URL.create("postgresql+asyncpg", username=role, host="127.0.0.1",
                          port=self.port, database=database).render_as_string(
                              hide_password=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(cluster: EmbeddedCluster, folder: Path, port: int, pool_size: int,
            ignored: str) -> str:
    # trust, as the embedded cluster itself: the test logins have no passwords; the
    # auth_file only lists who may connect. No ignore_startup_parameters by default: the
    # product must send nothing PgBouncer would refuse.
    return f"""[databases]
* = host={cluster.socket_dir} port={cluster.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
admin_users = {ADMIN_ROLE}
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
server_lifetime = 3600
ignore_startup_parameters = {ignored}
"""


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {port}:\n{log.read_text()}")


@contextmanager
def running_pgbouncer(cluster: EmbeddedCluster, *, pool_size: int = 2,
                      ignore_startup_parameters: str = "") -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode with ``pool_size`` server connections per database
    and login, in front of ``cluster`` (over its unix socket). Server connections are
    handed out last-released first (PgBouncer's default, ``server_round_robin = 0``)."""
    program = require_program("pgbouncer")
    version = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             check=True).stdout.split("\n")[0]
    folder = Path(tempfile.mkdtemp(prefix="zpgb-", dir="/tmp"))
    folder.chmod(0o755)  # readable by PgBouncer's user (see below)
    port = _free_port()
    (folder / "users.txt").write_text(f'"{APP_ROLE}" ""\n"{ADMIN_ROLE}" ""\n')
    config = folder / "pgbouncer.ini"
    config.write_text(_config(cluster, folder, port, pool_size, ignore_startup_parameters))
    log = folder / "pgbouncer.log"
    command = [str(program), str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: run it as the owner of
        # the cluster's socket folder (the embedded package's system user)
        command[1:1] = ["-u", cluster.socket_dir.owner()]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_listening(process, port, log)
        yield PgBouncer(port=port, log=log, version=version)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
