"""The outbox relay in a process of its own, started and watched by the worker.

Publishing "user provisioned" costs about as much CPU as applying the sign-ins (Kafka's produce path
in Python), and only one relay per database leads anyway. In its own process it no longer takes the
consumer's core: the worker applies batches while the relay publishes them. Operators still run one
thing: the worker starts the relay, restarts it if it dies, and stops it when it stops (and a relay
whose worker was killed stops by itself). What the relay counts comes back over a pipe into the
worker's /metrics, so nothing changes for Prometheus.
"""

import asyncio
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

from kutamo_contracts import logformat
from kutamo_provisioning import db
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.outbox import OutboxRelay

log = logging.getLogger(__name__)

_RESTART_SECONDS = 1.0
_STOP_SECONDS = 15.0
_LEADER_POLL_SECONDS = 0.25
_PR_SET_PDEATHSIG = 1


class RelayProcess:
    """Keeps one relay child process running until `stopping` is set."""

    def __init__(self, database_url: str, bootstrap_servers: str, log_level: str, metrics: Metrics) -> None:
        self._args = (database_url, bootstrap_servers, log_level)
        self._metrics = metrics
        self.leader = False
        self.pid: int | None = None

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
                self.leader = False
                await asyncio.to_thread(_stop, child)
                reports.close()
                self.pid = None
            if not stopping.is_set():
                self._metrics.outbox_errors.inc()
                log.error("outbox relay process exited; restarting", extra={"exit_code": child.exitcode})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), _RESTART_SECONDS)

    def _read(self, reports: Connection, exited: asyncio.Event) -> None:
        try:
            while reports.poll():
                name, value = reports.recv()
                if name == "published":
                    self._metrics.outbox_published.inc(value)
                elif name == "errors":
                    self._metrics.outbox_errors.inc(value)
                elif name == "leader":
                    self.leader = bool(value)
        except (EOFError, OSError):
            exited.set()


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


class _Report:
    def __init__(self, pipe: Connection, name: str) -> None:
        self._pipe, self._name = pipe, name

    def inc(self, amount: float = 1) -> None:
        with contextlib.suppress(OSError):  # the worker is gone: the relay is stopping anyway
            self._pipe.send((self._name, amount))


class _Reports:
    """The relay's counters, sent to the worker process."""

    def __init__(self, pipe: Connection) -> None:
        self.outbox_published = _Report(pipe, "published")
        self.outbox_errors = _Report(pipe, "errors")


def _main(database_url: str, bootstrap_servers: str, log_level: str, parent: int, pipe: Connection) -> None:
    """The child: die with the worker, log like it, relay until SIGTERM."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the worker died while this process was starting: PDEATHSIG came too late
        return
    logformat.configure("provisioning", log_level)
    gc.freeze()  # as the worker does (worker._tune_gc): start-up objects out of the collector's scans
    gc.set_threshold(20_000, 20, 20)
    asyncio.run(_relay(database_url, bootstrap_servers, parent, pipe))


async def _relay(database_url: str, bootstrap_servers: str, parent: int, pipe: Connection) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C reaches the whole group: the worker stops us
        loop.add_signal_handler(signum, stopping.set)
    pool = await db.create_pool(database_url, max_size=3)
    relay = OutboxRelay(pool, bootstrap_servers, _Reports(pipe))
    task = asyncio.create_task(relay.run(stopping))
    leader = False
    try:
        while not stopping.is_set():
            if os.getppid() != parent:  # the worker is gone (PDEATHSIG is the fast path, this the fallback)
                stopping.set()
                break
            if relay.leader != leader:
                leader = relay.leader
                with contextlib.suppress(OSError):
                    pipe.send(("leader", leader))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), _LEADER_POLL_SECONDS)
        await task
    finally:
        try:
            await asyncio.wait_for(pool.close(), _STOP_SECONDS / 3)
        except TimeoutError:  # e.g. still trying to reconnect to a database that is gone
            pool.terminate()
