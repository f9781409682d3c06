"""The worker's outbox relay runs in a process of its own: announcements keep flowing when it dies (the
worker starts another), its counts reach the worker's /metrics, and it never outlives a killed worker."""

import asyncio
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PARTITIONS = 3


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def relay_pid(worker: kit.Worker, other_than: int | None = None) -> int:
    assert worker._proc is not None
    worker_pid = worker._proc.pid
    pid: int = await kit.until(lambda: _relay(worker_pid, other_than), what="the relay process")
    return pid


async def _relay(worker_pid: int, other_than: int | None) -> int | None:
    """The worker's child that is the relay (not multiprocessing's resource tracker, if one runs)."""
    for pid in children(worker_pid):
        if b"spawn_main" in _cmdline(pid) and pid != other_than:
            return pid
    return None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


async def announced(consumer: AIOKafkaConsumer, expected: set[str]) -> set[str]:
    seen: set[str] = set()
    deadline = asyncio.get_running_loop().time() + 30
    while not expected <= seen and asyncio.get_running_loop().time() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            seen |= {msgspec.json.decode(r.value)["source_event_id"] for r in records}
    return seen


async def test_the_relay_process_is_restarted_when_it_dies_and_never_outlives_the_worker(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    announcements = await kit.create_topic(bootstrap, PARTITIONS)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign([TopicPartition(announcements, p) for p in range(PARTITIONS)])
    worker = kit.start_worker({**base_env, "KAFKA_PROVISIONED_TOPIC": announcements}, worker_logs, "relay-process")
    try:
        first = [kit.sign_in(str(uuid.uuid4()), T0 + timedelta(seconds=i)) for i in range(20)]
        await kit.publish(bootstrap, topic, first)
        assert await announced(consumer, {e.event_id for e in first}) >= {e.event_id for e in first}
        relay = await relay_pid(worker)

        os.kill(relay, signal.SIGKILL)
        replacement = await relay_pid(worker, other_than=relay)
        second = [kit.sign_in(str(uuid.uuid4()), T0 + timedelta(minutes=1, seconds=i)) for i in range(20)]
        await kit.publish(bootstrap, topic, second)
        assert await announced(consumer, {e.event_id for e in second}) >= {e.event_id for e in second}
        await kit.until(lambda: _empty(wdb), what="the outbox to drain")
        # A row is counted once Kafka acknowledged it and it left the outbox; rows the killed relay had
        # published but not yet removed are published again by the next one (at least once).
        await kit.until(lambda: _published(http, worker, len(second)), what="the relay's counts in /metrics")
        assert await kit.metric(http, worker, "kutamo_provisioning_relay_errors_total") >= 1

        worker.kill()
        await kit.until(lambda: _gone(replacement), within=10, what="the relay to stop with its worker")
    finally:
        worker.stop()
        await consumer.stop()


async def _empty(db: asyncpg.Connection) -> bool:
    return await kit.count(db, "select count(*) from outbox") == 0


async def _published(http: httpx.AsyncClient, worker: kit.Worker, at_least: int) -> bool:
    return await kit.metric(http, worker, "kutamo_provisioning_relay_published_total") >= at_least


async def _gone(pid: int) -> bool:
    return not alive(pid)


async def test_a_worker_killed_while_its_relay_starts_leaves_no_relay_behind(
    base_env: dict[str, str], worker_logs: Path
) -> None:
    worker = kit.start_worker(base_env, worker_logs, "relay-orphan")  # returns as soon as it is ready
    log = str(worker_logs / "relay-orphan.log")
    worker.kill()  # the relay process is typically still importing now
    await kit.until(lambda: _none_writing_to(log), within=10, what="no relay left writing to the worker's log")


async def _none_writing_to(log: str) -> bool:
    """No process (the relay inherits the worker's stderr) still has the worker's log open."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/fd/2") == log and alive(int(pid)):
                return False
        except OSError:
            continue
    return True
