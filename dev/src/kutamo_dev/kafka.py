"""A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) from Maven Central jars.

The jars are gathered once with Maven into `<repo>/.cache/kafka/<version>/libs`; the broker's data lives
in `<run_dir>/kafka/data`, is formatted on first start only, and survives stop/start on the same ports.
With KAFKA_BOOTSTRAP_SERVERS set, that external broker is used instead and only the topics are created.
"""

import asyncio
import base64
import concurrent.futures
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kutamo_contracts import ALL_TOPICS
from kutamo_dev import procs
from kutamo_dev.ports import free_port, is_free

__all__ = ["VERSION", "KafkaInfo", "answering", "ensure_jars", "ensure_topics", "external", "start", "stop"]

log = logging.getLogger(__name__)

VERSION = "4.1.1"
_REPO = Path(__file__).resolve().parents[3]
_POM = _REPO / "dev" / "kafka" / "pom.xml"
_LOG4J = _REPO / "dev" / "kafka" / "log4j2.properties"
_COMPLETE = ".complete"
_TOPIC_ALREADY_EXISTS = 36
# The JVM's default tiered JIT (C2 included), as production brokers run. Stopping at C1 started the
# broker ~3 s sooner, but under load it spent more CPU per message on two shared cores, and the
# benchmarks measure the whole pipeline (provisioning: 6,101 -> 7,276 events/s median, docs/benchmarks.md).
_JVM = ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
T = TypeVar("T")


class KafkaInfo(msgspec.Struct, kw_only=True):
    bootstrap_servers: str
    pid: int | None = None
    port: int | None = None
    controller_port: int | None = None
    data_dir: str | None = None
    managed: bool = False
    version: str = VERSION
    pid_started: int | None = None
    """The broker's start time (procs.started_at): a later process with the same pid is not ours."""

    @property
    def marker(self) -> str:
        """What the broker's command line holds: its configuration file, beside the data folder."""
        return str(Path(self.data_dir or ".").parent / "server.properties")

    def running(self) -> bool:
        """The broker this record names is still running (not merely some process with its pid)."""
        return self.managed and procs.ours(self.pid, self.pid_started, self.marker)


def external(bootstrap_servers: str) -> KafkaInfo:
    """The broker named by KAFKA_BOOTSTRAP_SERVERS: never started or stopped here, but given our topics."""
    ensure_topics(bootstrap_servers)
    return KafkaInfo(bootstrap_servers=bootstrap_servers, managed=False, version="external")


def ensure_jars(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder of broker jars, gathered with Maven on first use (KUTAMO_CACHE_DIR overrides `.cache`)."""
    cache = Path(environ.get("KUTAMO_CACHE_DIR") or _REPO / ".cache")
    libs = cache / "kafka" / VERSION / "libs"
    if (libs / _COMPLETE).exists():
        return libs
    # A copy without the marker was interrupted: start it over rather than run with missing jars.
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(libs, ignore_errors=True)
    if shutil.which("mvn") is None:
        raise procs.StartupError("Maven (mvn) is needed once to download the Kafka jars; install it")
    log.info("downloading Apache Kafka %s jars with Maven into %s (once)", VERSION, libs)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(_POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise procs.StartupError(f"Maven could not gather the Kafka jars:\n{tail}")
    staging.rename(libs)
    (libs / _COMPLETE).write_text(VERSION + "\n")
    return libs


def start(
    run_dir: Path, port: int | None = None, controller_port: int | None = None, timeout: float = 90.0
) -> KafkaInfo:
    """Start the broker (on the given ports when still free), wait until it answers, create our topics."""
    began = time.monotonic()
    libs = ensure_jars()
    kafka_dir = run_dir.resolve() / "kafka"
    data_dir = kafka_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port if port is not None and is_free(port) else free_port()
    controller_port = controller_port if controller_port is not None and is_free(controller_port) else free_port()
    config = kafka_dir / "server.properties"
    config.write_text(_server_properties(port, controller_port, data_dir))
    if not (data_dir / "meta.properties").exists():
        _format(libs, config, kafka_dir / "format.log")
    log_path = kafka_dir / "kafka.log"
    cmd = [
        "java",
        *_JVM,
        "-cp",
        f"{libs}/*",
        f"-Dlog4j2.configurationFile={_LOG4J}",
        f"-Dkafka.logs.dir={kafka_dir / 'logs'}",
        "kafka.Kafka",
        str(config),
    ]
    pid = procs.start(cmd, log_path)
    bootstrap = f"127.0.0.1:{port}"
    try:
        procs.wait_for(lambda: answering(bootstrap), timeout, "Kafka did not start", log_path=log_path, pid=pid)
        ensure_topics(bootstrap)
    except BaseException:
        procs.stop(pid, 10)  # a broker that never became usable must not linger
        raise
    log.info("Kafka %s ready on port %d in %.1fs (pid %d)", VERSION, port, time.monotonic() - began, pid)
    return KafkaInfo(
        bootstrap_servers=bootstrap,
        pid=pid,
        port=port,
        controller_port=controller_port,
        data_dir=str(data_dir),
        managed=True,
        pid_started=procs.started_at(pid),
    )


def stop(info: KafkaInfo, timeout: float = 30.0) -> None:
    """Stop a broker started here; SIGTERM makes it shut down cleanly so the next start is quick."""
    if info.managed:
        procs.stop_recorded(info.pid, info.pid_started, info.marker, timeout)


def answering(bootstrap_servers: str) -> bool:
    """True when the broker answers a metadata request."""
    if not all(_port_open(address) for address in bootstrap_servers.split(",")):
        return False  # spares aiokafka's connection-error log lines while the JVM is still starting
    try:
        _run(lambda: _list_topics(bootstrap_servers))
    except Exception:  # any failure means "not yet"
        return False
    return True


def ensure_topics(bootstrap_servers: str) -> None:
    """Create every contract topic with its declared partition count; existing topics are left alone."""
    _run(lambda: _create_topics(bootstrap_servers))


def _server_properties(port: int, controller_port: int, data_dir: Path) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        # One broker: every internal topic must have one replica, or consumers hang on FindCoordinator.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Topics come from the contracts only, so a typo in a topic name fails instead of creating one.
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _format(libs: Path, config: Path, log_path: Path) -> None:
    cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    cmd = [
        "java",
        "-cp",
        f"{libs}/*",
        f"-Dlog4j2.configurationFile={_LOG4J}",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(config),
    ]
    with log_path.open("wb") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = procs.log_tail(log_path)
        raise procs.StartupError(f"formatting Kafka storage failed. Last lines of {log_path}:\n{tail}")


def _port_open(address: str) -> bool:
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even when called inside a running event loop."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Inside a loop (an async test calling stop/start helpers): use a private loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def _list_topics(bootstrap_servers: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 10)
        return await asyncio.wait_for(admin.list_topics(), 10)
    finally:
        await admin.close()


async def _create_topics(bootstrap_servers: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [NewTopic(t.name, t.partitions, 1) for t in ALL_TOPICS if t.name not in existing]
        if not missing:
            return
        response = await admin.create_topics(missing)
        for name, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else ""
                raise procs.StartupError(f"cannot create Kafka topic {name}: error {code} {message}")
        log.info("created Kafka topics: %s", ", ".join(t.name for t in missing))
    finally:
        await admin.close()
