"""`zava serve --transport http --workers N`: N worker processes on one listening socket.

The supervisor binds the address once and starts each worker as an ordinary
`zava serve` that inherits the socket (the kernel hands each new connection to one of
them) and a pipe on which it says when it accepts requests. Each worker opens its own
runtime: its own pool of ``ZAVA_POOL_SIZE + ZAVA_POOL_MAX_OVERFLOW`` connections, so
N workers hold up to N times that (see README, "Running a fleet").

Signals to the supervisor:
- SIGTERM / SIGINT: every worker stops accepting, finishes its calls in flight
  (``ZAVA_HTTP_SHUTDOWN_TIMEOUT_S``) and closes its pool; then the supervisor exits 0.
- SIGHUP: rolling restart (new code, new settings): one worker at a time, a
  replacement is started and waited for until it accepts, then the old one is stopped
  gracefully, so the socket is always served.
- A worker that dies is replaced; one that cannot start (exits before accepting) stops
  the supervisor with exit code 1, since its replacements would fail the same way.
Workers start one after another, so the first one migrates an embedded database alone.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from loguru import logger

START_TIMEOUT_S = 180.0
"""How long a new worker may take to accept requests (an embedded cluster may start)."""


@dataclass
class Worker:
    """One worker process and the read end of its started pipe."""

    process: subprocess.Popen[bytes]
    started_pipe: int

    def wait_started(self, timeout_s: float) -> bool:
        """True once the worker accepts requests; False if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                readable, _, _ = select.select([self.started_pipe], [], [], 0.2)
                if readable:
                    return os.read(self.started_pipe, 1) == b"1"
                if self.process.poll() is not None:
                    return False
            return False
        finally:
            self.close_pipe()

    def close_pipe(self) -> None:
        """Close the read end of the started pipe (once)."""
        if self.started_pipe >= 0:
            os.close(self.started_pipe)
            self.started_pipe = -1

    def stop(self, timeout_s: float) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            logger.warning("worker {} did not stop in {:g} s: killed", self.process.pid,
                           timeout_s)
            self.process.kill()
            self.process.wait()


def worker_fds(option: str) -> tuple[int, int]:
    """The (listening socket, started pipe) descriptors of ``--worker-fds L,P``."""
    listen, _, pipe = option.partition(",")
    return int(listen), int(pipe)


def announce_started(pipe: int) -> Callable[[], None]:
    """What a worker calls once it accepts requests: one byte on the supervisor's pipe."""

    def started() -> None:
        try:
            os.write(pipe, b"1")
            os.close(pipe)
        except OSError:  # the supervisor is gone; nothing to tell
            pass

    return started


class Supervisor:
    """Starts, replaces and stops the workers; ``command`` is a worker's argv without
    ``--worker-fds``."""

    def __init__(self, command: Sequence[str], *, workers: int, host: str, port: int,
                 stop_timeout_s: float) -> None:
        self.command = list(command)
        self.count = workers
        self.stop_timeout_s = stop_timeout_s
        self.listener = socket.create_server((host, port), backlog=2048)
        self.listener.set_inheritable(True)
        self.workers: list[Worker] = []
        self.signals: list[int] = []

    def spawn(self) -> Worker:
        """One new worker on the shared socket."""
        read_end, write_end = os.pipe()
        fds = (self.listener.fileno(), write_end)
        try:
            process = subprocess.Popen([*self.command, "--worker-fds", f"{fds[0]},{fds[1]}"],
                                       pass_fds=fds, preexec_fn=_stop_with_supervisor)
        finally:
            os.close(write_end)
        return Worker(process, read_end)

    def start_one(self) -> Worker | None:
        """A new worker once it accepts requests; None if it could not start."""
        worker = self.spawn()
        if worker.wait_started(START_TIMEOUT_S):
            logger.info("worker {} accepts requests", worker.process.pid)
            return worker
        worker.stop(5)
        logger.error("worker {} did not start (exit code {})", worker.process.pid,
                     worker.process.returncode)
        return None

    def run(self) -> int:
        """Supervise until SIGTERM or SIGINT; the exit code."""
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, self._queue)
        try:
            for _ in range(self.count):
                worker = self.start_one()
                if worker is None:
                    return 1
                self.workers.append(worker)
            logger.info("{} workers serving", len(self.workers))
            while True:
                while self.signals:
                    signum = self.signals.pop(0)
                    if signum == signal.SIGHUP:
                        self.rolling_restart()
                    else:
                        logger.info("stopping {} workers gracefully", len(self.workers))
                        return 0
                if not self.replace_dead():
                    return 1
                time.sleep(0.2)
        finally:
            self.stop_all()
            self.listener.close()

    def rolling_restart(self) -> None:
        """Replace every worker, one at a time, each only once its successor accepts."""
        logger.info("rolling restart of {} workers", len(self.workers))
        for index, old in enumerate(list(self.workers)):
            new = self.start_one()
            if new is None:
                logger.error("rolling restart stopped: the old workers keep serving")
                return
            self.workers[index] = new
            old.stop(self.stop_timeout_s)
        logger.info("rolling restart done")

    def replace_dead(self) -> bool:
        """Start a successor for each worker that exited; False if one cannot start."""
        for index, worker in enumerate(self.workers):
            if worker.process.poll() is None:
                continue
            logger.warning("worker {} exited (code {}): starting another",
                           worker.process.pid, worker.process.returncode)
            new = self.start_one()
            if new is None:
                return False
            self.workers[index] = new
        return True

    def stop_all(self) -> None:
        """SIGTERM to every worker at once, then wait for each (killing stragglers)."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers:
            worker.stop(self.stop_timeout_s)
        self.workers.clear()

    def _queue(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signum)


_PR_SET_PDEATHSIG = 1


def _stop_with_supervisor() -> None:
    """In a new worker, before it runs: ask Linux for SIGTERM when the supervisor dies
    (killed, or out of memory), so that no orphan keeps serving on the shared socket
    without anyone to restart or stop it. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
