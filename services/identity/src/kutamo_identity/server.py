"""The HTTP stack identity is served on, and the supervisor of its processes.

uvicorn with uvloop and httptools (chosen by measurement over granian and over uvicorn's pure-Python
defaults: docs/benchmarks.md). With WEB_CONCURRENCY > 1 the parent binds the port once and runs that
many worker processes accepting on it; a worker that dies or stops answering its health ping is replaced
while the others keep serving. A crash loop is not hidden: after RESTART_LIMIT replacements within
RESTART_WINDOW seconds the supervisor stops and exits non-zero, so the host's own supervisor (systemd,
Kubernetes) sees a failed service (docs/operations.md).
"""

import logging
import os
import tempfile
import time
from collections import deque
from typing import Any

import uvicorn
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from kutamo_identity.metrics import MULTIPROCESS_DIR

log = logging.getLogger("kutamo_identity.server")

RESTART_LIMIT = 10
RESTART_WINDOW = 60.0
EXIT_RESTARTS_EXHAUSTED = 3


def settings(app: Any, *, host: str, port: int, workers: int, factory: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=factory,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,  # identity writes its own access line (correlation.py)
        server_header=False,
        date_header=False,
    )


def serve(app: Any, *, host: str, port: int, workers: int, factory: bool = False) -> int:
    """Serve until stopped; the exit status. `app` is an import string when workers > 1 (spawned processes)."""
    config = settings(app, host=host, port=port, workers=workers, factory=factory)
    if workers <= 1:
        uvicorn.Server(config).run()
        return 0
    with tempfile.TemporaryDirectory(prefix="kutamo-identity-metrics-") as metrics_dir:
        # Spawned workers inherit it and write their metric values there (metrics.py).
        os.environ.setdefault(MULTIPROCESS_DIR, metrics_dir)
        supervisor = Supervisor(config, sockets=[config.bind_socket()])
        supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        return STARTUP_FAILURE  # a replacement could not start (uvicorn stops then: it would fail again)
    return EXIT_RESTARTS_EXHAUSTED if supervisor.gave_up else 0


class Supervisor(Multiprocess):
    """uvicorn's process supervisor (replaces dead or hung workers), with a bound on replacements."""

    def __init__(self, config: uvicorn.Config, sockets: list[Any]) -> None:
        super().__init__(config, sockets)
        self.restarts: deque[float] = deque()
        self.gave_up = False

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        gone = before - {p.pid for p in self.processes}
        for pid in gone:
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call] # live gauges go, counters stay
        replaced = len(gone)
        if not replaced:
            return
        now = time.monotonic()
        self.restarts.extend([now] * replaced)
        while self.restarts and self.restarts[0] < now - RESTART_WINDOW:
            self.restarts.popleft()
        log.warning(
            "identity worker process replaced",
            extra={"workers": self.processes_num, "restarts_in_window": len(self.restarts), "limit": RESTART_LIMIT},
        )
        if len(self.restarts) > RESTART_LIMIT:
            log.error(
                "identity workers keep dying: giving up",
                extra={"restarts": len(self.restarts), "window_seconds": RESTART_WINDOW},
            )
            self.gave_up = True
            self.should_exit.set()
