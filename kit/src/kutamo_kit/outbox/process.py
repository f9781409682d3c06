"""The outbox relay in a process of its own, started and watched by the service process.

Publishing costs CPU (Kafka's produce path in Python) that must not come out of the loop serving
sign-ins or applying batches, and only one relay per database leads anyway. Operators still run one
thing: the service starts its relay, restarts it if it dies, and stops it when it stops (and a relay
whose service was killed stops by itself). What the relay counts and sees of Kafka comes back over
a pipe into the service's /metrics, /health and outage report, so nothing changes for Prometheus.

Every service process starts one (several per host, several hosts): the advisory lock lets one lead
and keeps the others waiting as followers, a connection each.
"""

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import uvloop

from kutamo_kit import logformat, runtime
from kutamo_kit.kafka.connectivity import KafkaConnectivity, install
from kutamo_kit.outbox.metrics import RelayMetrics
from kutamo_kit.outbox.relay import OutboxRelay
from kutamo_kit.outbox.table import OutboxTable

__all__ = ["RelayProcess"]

log = logging.getLogger("kutamo.outbox.process")

_RESTART_SECONDS = 1.0
_STOP_SECONDS = 15.0
_PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


class RelayProcess:
    """Keeps one relay child process running until `stopping` is set."""

    def __init__(
        self,
        table: OutboxTable,
        database_url: str,
        bootstrap_servers: str,
        *,
        service: str,
        log_level: str,
        metrics: RelayMetrics,
        connectivity: KafkaConnectivity | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """`options` go to OutboxRelay (retention, batch_size, linger, ...); they must pickle."""
        self._args = (table, database_url, bootstrap_servers, service, log_level, options or {})
        self._metrics = metrics
        self._connectivity = connectivity
        self.pid: int | None = None

    @property
    def leader(self) -> bool:
        return self._metrics.leader

    @property
    def last_error(self) -> str | None:
        return self._metrics.last_error

    async def run(self, stopping: asyncio.Event) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no event loop or sockets inherited
        while not stopping.is_set():
            reports, child_end = context.Pipe(duplex=False)
            child = context.Process(
                target=_main, args=(*self._args, os.getpid(), child_end), name="kutamo-outbox-relay"
            )
            child.start()
            child_end.close()
            self.pid = child.pid
            exited = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_reader(reports.fileno(), self._read, reports, exited)
            try:
                await _first(stopping, exited)
            finally:
                loop.remove_reader(reports.fileno())
                self._metrics.leading(False)
                if self._connectivity is not None:
                    self._connectivity.forget("relay")
                await asyncio.to_thread(_stop, child)
                reports.close()
                self.pid = None
            if not stopping.is_set():
                self._metrics.failed("RelayProcessExited")
                log.error("outbox relay process exited; restarting", extra={"exit_code": child.exitcode})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), _RESTART_SECONDS)

    def _read(self, reports: Connection, exited: asyncio.Event) -> None:
        try:
            while reports.poll():
                self._apply(*reports.recv())
        except (EOFError, OSError):
            exited.set()

    def _apply(self, name: str, value: Any) -> None:
        if name == "published":
            self._metrics.published(*value)
        elif name == "failed":
            self._metrics.failed(value)
        elif name == "leading":
            self._metrics.leading(value)
        elif name == "backlog":
            self._metrics.backlog(*value)
        elif name == "kafka" and self._connectivity is not None:
            if value:
                self._connectivity.reachable_again("relay")
            else:
                self._connectivity.trouble("relay", "the relay's producer cannot reach Kafka")


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _stop(child: Any) -> None:
    """SIGTERM (the relay finishes the batch it is publishing), then SIGKILL past the bound."""
    if child.is_alive():
        child.terminate()
        child.join(_STOP_SECONDS)
    if child.is_alive():
        child.kill()
    child.join()


class _PipeReport:
    """The relay's report (RelayReport), sent to the service process."""

    def __init__(self, pipe: Connection) -> None:
        self._pipe = pipe

    def send(self, name: str, value: Any) -> None:
        with contextlib.suppress(OSError):  # the service is gone: the relay is stopping anyway
            self._pipe.send((name, value))

    def published(self, rows: int, seconds: float) -> None:
        self.send("published", (rows, seconds))

    def failed(self, error: str) -> None:
        self.send("failed", error)

    def leading(self, leader: bool) -> None:
        self.send("leading", leader)

    def backlog(self, rows: int, oldest_age_seconds: float) -> None:
        self.send("backlog", (rows, oldest_age_seconds))


def _main(
    table: OutboxTable,
    database_url: str,
    bootstrap_servers: str,
    service: str,
    log_level: str,
    options: dict[str, Any],
    parent: int,
    pipe: Connection,
) -> None:
    """The child: die with the service, log like it, relay until SIGTERM."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(f"relay-{service}"[:15].encode()))  # ps, top: relay-identity
    if os.getppid() != parent:  # the service died while this process was starting: PDEATHSIG came too late
        return
    logformat.configure(service, log_level)
    runtime.tune_gc()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # its sockets' reads and writes in C
        runner.run(_relay(table, database_url, bootstrap_servers, options, parent, pipe))


async def _relay(
    table: OutboxTable, database_url: str, bootstrap_servers: str, options: dict[str, Any], parent: int,
    pipe: Connection,
) -> None:  # fmt: skip
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C reaches the whole group: the service stops us
        loop.add_signal_handler(signum, stopping.set)
    report = _PipeReport(pipe)
    send_kafka: Callable[[bool], None] = lambda reachable: report.send("kafka", reachable)  # noqa: E731
    # Quiet: the service process writes the outage's lines, from what this one reports.
    connectivity = install(KafkaConnectivity(bootstrap_servers, on_change=send_kafka, quiet=True))
    relay = OutboxRelay(table, database_url, bootstrap_servers, report=report, connectivity=connectivity, **options)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(connectivity.watch())]
    try:
        while not stopping.is_set():
            if os.getppid() != parent:  # the service is gone (PDEATHSIG is the fast path, this the fallback)
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), _PARENT_POLL_SECONDS)
    finally:
        relay.stop()
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
