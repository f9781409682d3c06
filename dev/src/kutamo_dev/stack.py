"""The local stack's record (`<run_dir>/stack.json`) and its lifecycle: up, down, Kafka stop/start for tests.

`up` reuses whatever is recorded and still answering, and starts only what is missing.
"""

import base64
import contextlib
import fcntl
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec

from kutamo_dev import kafka, postgres, procs
from kutamo_dev.kafka import KafkaInfo
from kutamo_dev.ports import free_port, is_free
from kutamo_dev.postgres import PostgresInfo

__all__ = [
    "EmulatorInfo",
    "KafkaInfo",
    "PostgresInfo",
    "ServiceInfo",
    "Stack",
    "StackError",
    "down",
    "health",
    "load",
    "restart_kafka",
    "save",
    "start_kafka",
    "start_postgres",
    "stop_kafka",
    "stop_postgres",
    "up",
]

log = logging.getLogger(__name__)

STACK_FILE = "stack.json"
# What one `up` call started (name, pid), so a failure part-way can stop exactly that.
Started = list[tuple[str, int | None]]


class StackError(RuntimeError):
    """The recorded stack cannot be used as asked (nothing recorded, or a component is not ours)."""


class EmulatorInfo(msgspec.Struct, kw_only=True):
    url: str
    pid: int
    pid_started: int | None = None

    @property
    def marker(self) -> str:
        return f"kutamo_dev.emulator --port {self.url.rsplit(':', 1)[1]}"

    def running(self) -> bool:
        return procs.ours(self.pid, self.pid_started, self.marker)


class ServiceInfo(msgspec.Struct, kw_only=True):
    name: str
    url: str
    pid: int
    pid_started: int | None = None

    @property
    def marker(self) -> str:
        return f"-m kutamo_{self.name}"

    def running(self) -> bool:
        return procs.ours(self.pid, self.pid_started, self.marker)

    def stop(self, timeout: float = 15) -> None:
        procs.stop_recorded(self.pid, self.pid_started, self.marker, timeout)


class Stack(msgspec.Struct, kw_only=True):
    run_dir: str
    postgres: PostgresInfo
    kafka: KafkaInfo
    emulator: EmulatorInfo | None = None
    # Key the two services share to seal Graph access tokens in events; secret, hence stack.json is 0600.
    sealing_key: str
    # The bootstrap operator key of the services `run` starts (for /ops and the admin API); secret too.
    operator_key: str = ""
    services: list[ServiceInfo] = msgspec.field(default_factory=list)


def load(run_dir: str | Path) -> Stack | None:
    """The recorded stack, or None when nothing is recorded in `run_dir`."""
    path = Path(run_dir) / STACK_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=Stack)
    except FileNotFoundError:
        return None


def save(stack: Stack) -> None:
    """Write the record atomically, readable by its owner only (it holds the sealing key)."""
    path = Path(stack.run_dir) / STACK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(msgspec.json.format(msgspec.json.encode(stack)))
    os.chmod(partial, 0o600)
    partial.replace(path)


def up(run_dir: str | Path, *, emulator: bool = True) -> tuple[Stack, bool]:
    """Bring PostgreSQL, Kafka and the emulator up; True in the result when anything had to be started."""
    root = Path(run_dir).resolve()
    with _locked(root):
        old = load(root)
        started: Started = []
        try:
            pg = _ensure_postgres(root, old.postgres if old else None, started)
            broker = _ensure_kafka(root, old.kafka if old else None, started)
            emu = _ensure_emulator(root, old.emulator if old else None, started) if emulator else None
        except BaseException:
            # Leave nothing half-up behind: stop what this call started, keep what was already running.
            for name, pid in reversed(started):
                log.warning("stopping %s after a failed start", name)
                procs.stop(pid, 20)
            raise
        stack = Stack(
            run_dir=str(root),
            postgres=pg,
            kafka=broker,
            emulator=emu,
            sealing_key=old.sealing_key if old else base64.b64encode(os.urandom(32)).decode(),
            operator_key=old.operator_key if old and old.operator_key else "kut_op_" + secrets.token_urlsafe(32),
            services=[s for s in old.services if s.running()] if old else [],
        )
        save(stack)
    return stack, bool(started)


def down(run_dir: str | Path) -> None:
    """Stop the recorded services, emulator, Kafka and PostgreSQL (those we started), then forget them."""
    root = Path(run_dir).resolve()
    with _locked(root):
        stack = load(root)
        if stack is None:
            return
        for service in stack.services:
            log.info("stopping service %s (pid %d)", service.name, service.pid)
            service.stop()
        if stack.emulator is not None:
            log.info("stopping the Microsoft emulator (pid %d)", stack.emulator.pid)
            procs.stop_recorded(stack.emulator.pid, stack.emulator.pid_started, stack.emulator.marker, 10)
        if stack.kafka.managed:
            log.info("stopping Kafka (pid %s)", stack.kafka.pid)
            kafka.stop(stack.kafka)
        if stack.postgres.managed:
            log.info("stopping PostgreSQL (pid %s)", stack.postgres.pid)
            postgres.stop(stack.postgres)
        (root / STACK_FILE).unlink(missing_ok=True)


def health(stack: Stack) -> dict[str, bool]:
    """Whether each recorded component answers right now, by name."""
    result = {
        "postgres": postgres.answering(stack.postgres.url),
        "kafka": kafka.answering(stack.kafka.bootstrap_servers),
    }
    if stack.emulator is not None:
        result["emulator"] = _emulator_answering(stack.emulator.url)
    for service in stack.services:
        result[service.name] = service.running()
    return result


def stop_kafka(stack: Stack) -> None:
    """Stop the managed broker, keeping its ports and data so `start_kafka` brings back the same broker."""
    _require_managed_kafka(stack)
    kafka.stop(stack.kafka)


def start_kafka(stack: Stack) -> Stack:
    """Start the managed broker again on its recorded ports and data dir; updates and saves the record."""
    _require_managed_kafka(stack)
    info = stack.kafka
    if info.running():
        return stack
    for port in (info.port, info.controller_port):
        if port is not None and not is_free(port):
            raise StackError(f"Kafka cannot start again: port {port} is taken by another process")
    stack.kafka = kafka.start(Path(stack.run_dir), info.port, info.controller_port)
    save(stack)
    return stack


def restart_kafka(stack: Stack) -> Stack:
    """Stop and start the managed broker on the same ports and data (an outage of a few seconds)."""
    stop_kafka(stack)
    return start_kafka(stack)


def stop_postgres(stack: Stack) -> None:
    """Stop the managed PostgreSQL, keeping its port and data so `start_postgres` brings it back."""
    if not stack.postgres.managed:
        raise StackError("PostgreSQL is external (DATABASE_URL); the stack cannot stop it")
    postgres.stop(stack.postgres)


def start_postgres(stack: Stack) -> Stack:
    """Start the managed PostgreSQL again on its recorded port and data; updates and saves the record."""
    if not stack.postgres.managed:
        raise StackError("PostgreSQL is external (DATABASE_URL); the stack cannot start it")
    if stack.postgres.running():
        return stack
    port = stack.postgres.port
    if port is not None and not is_free(port):
        raise StackError(f"PostgreSQL cannot start again: port {port} is taken by another process")
    stack.postgres = postgres.start(Path(stack.run_dir), port)
    save(stack)
    return stack


def _require_managed_kafka(stack: Stack) -> None:
    if not stack.kafka.managed:
        raise StackError("Kafka is external (KAFKA_BOOTSTRAP_SERVERS); it is not stopped or started from here")


def _ensure_postgres(root: Path, recorded: PostgresInfo | None, started: Started) -> PostgresInfo:
    if os.environ.get("DATABASE_URL"):
        return postgres.external(os.environ["DATABASE_URL"])
    if recorded is not None and recorded.running():
        procs.wait_for(
            lambda: postgres.answering(recorded.url),
            30,
            "recorded PostgreSQL does not answer",
            log_path=root / "postgres" / "postgres.log",
            pid=recorded.pid,
        )
        log.info("PostgreSQL already running on port %s", recorded.port)
        postgres.ensure_roles(recorded)  # a cluster started before the services had roles of their own
        return recorded
    info = postgres.start(root, recorded.port if recorded is not None and recorded.managed else None)
    started.append(("PostgreSQL", info.pid))
    return info


def _ensure_kafka(root: Path, recorded: KafkaInfo | None, started: Started) -> KafkaInfo:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return kafka.external(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    if recorded is not None and recorded.running():
        procs.wait_for(
            lambda: kafka.answering(recorded.bootstrap_servers),
            60,
            "recorded Kafka does not answer",
            log_path=root / "kafka" / "kafka.log",
            pid=recorded.pid,
        )
        kafka.ensure_topics(recorded.bootstrap_servers)  # contracts may have gained a topic since
        log.info("Kafka already running on port %s", recorded.port)
        return recorded
    reuse = recorded if recorded is not None and recorded.managed else None
    info = kafka.start(root, reuse.port if reuse else None, reuse.controller_port if reuse else None)
    started.append(("Kafka", info.pid))
    return info


def _ensure_emulator(root: Path, recorded: EmulatorInfo | None, started: Started) -> EmulatorInfo:
    if recorded is not None and recorded.running() and _emulator_answering(recorded.url):
        log.info("Microsoft emulator already running at %s", recorded.url)
        return recorded
    began = time.monotonic()
    # The same URL as before when possible: running services were configured with it.
    old_port = int(recorded.url.rsplit(":", 1)[1]) if recorded is not None else None
    port = old_port if old_port is not None and is_free(old_port) else free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "emulator.log"
    pid = procs.start([sys.executable, "-m", "kutamo_dev.emulator", "--port", str(port)], log_path)
    started.append(("the Microsoft emulator", pid))
    procs.wait_for(
        lambda: _emulator_answering(url),
        30,
        "the Microsoft emulator did not start",
        log_path=log_path,
        pid=pid,
    )
    log.info("Microsoft emulator ready at %s in %.1fs (pid %d)", url, time.monotonic() - began, pid)
    return EmulatorInfo(url=url, pid=pid, pid_started=procs.started_at(pid))


def _emulator_answering(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_emulator/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise up/down on one run dir, so two terminals never start two clusters on the same data."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
