"""Helpers for the worker's end-to-end tests: their own topic, worker processes, events, dead letters.

Each test module gets its own user-signed-in topic (KAFKA_SIGNED_IN_TOPIC) and its own database, so
counts of users and processed events are exact and no other test's traffic interferes.
"""

import asyncio
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kutamo_contracts.envelope import SOURCE_IDENTITY, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import Binding, SealingKeys, parse_key, seal_token
from kutamo_contracts.topics import DEAD_LETTERS, USER_SIGNED_IN
from kutamo_dev.ports import free_port
from tests.support.processes import ServiceProcess, service_env

OPERATOR_KEY = "test-operator-key-" + "0123456789abcdef" * 2
TENANT = "00000000-0000-4000-8000-00000000000a"


class Worker(ServiceProcess):
    """A provisioning worker process that tests can also kill outright."""

    def kill(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)
        if self._log is not None:
            self._log.close()

    def terminate(self) -> int:
        """SIGTERM, as an orchestrator stops a worker; returns the exit code."""
        assert self._proc is not None
        self._proc.terminate()
        code = self._proc.wait(30)
        if self._log is not None:
            self._log.close()
        return code


def worker_env(base: dict[str, str], **overrides: str) -> dict[str, str]:
    return service_env({**base, "KUTAMO_OPERATOR_KEY": OPERATOR_KEY, "LOG_LEVEL": "DEBUG"}, **overrides)


def start_worker(env: dict[str, str], logs: Path, name: str) -> Worker:
    worker = Worker("kutamo_provisioning", {**env, "PORT": str(free_port())}, logs / f"{name}.log")
    worker.start()
    return worker


async def create_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"test.user-signed-in.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    return name


def sign_in(
    user_id: str,
    at: datetime,
    *,
    name: str = "Adele Vance",
    email: str | None = "adele@contoso.com",
    oid: str | None = None,
    tid: str | None = None,
    token: tuple[str, bytes, datetime] | None = None,
) -> UserSignedIn:
    """A sign-in event; `token` = (Graph access token, sealing key, expiry) seals it into the event."""
    event_id = str(uuid.uuid4())
    oid = oid or str(uuid.uuid4())
    binding = Binding(event_id, TENANT, user_id, oid)
    sealed = seal_token(SealingKeys(token[1]), binding, token[0], token[2]) if token else None
    return UserSignedIn(
        event_id=event_id,
        tenant_id=TENANT,
        user_id=user_id,
        azure_tid=tid or str(uuid.uuid4()),
        azure_oid=oid,
        signed_in_at=at,
        login_code="contoso",
        name=name,
        email=email,
        sealed_graph_token=sealed,
    )


def sealing(key_text: str, token: str, valid_for: timedelta = timedelta(minutes=10)) -> tuple[str, bytes, datetime]:
    return token, parse_key(key_text), datetime.now(UTC) + valid_for


def encoded(event: UserSignedIn) -> bytes:
    return msgspec.json.encode(event)


async def publish(bootstrap: str, topic: str, events: list[UserSignedIn]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sends = []
        for event in events:
            env = encode_record(USER_SIGNED_IN, event, event_id=event.event_id, subject=event.user_id,
                                source=SOURCE_IDENTITY, time=event.signed_in_at)  # fmt: skip
            sends.append(await producer.send(topic, env.value, key=env.key, headers=env.headers))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def publish_raw(bootstrap: str, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


class DeadLetterWatch:
    """Reads the dead-letter topic from where it ended when the watch started."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._tp = TopicPartition(DEAD_LETTERS.name, 0)
        self.seen: list[Any] = []

    async def __aenter__(self) -> "DeadLetterWatch":
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._consumer.seek_to_end(self._tp)
        await self._consumer.position(self._tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def wait_for(self, topic: str, count: int, within: float = 30.0) -> list[Any]:
        """The first `count` dead letters of records from `topic`."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            mine = [r for r in self.seen if dict(r.headers).get("dlq_original_topic") == topic.encode()]
            if len(mine) >= count:
                return mine
            batch = await self._consumer.getmany(self._tp, timeout_ms=500)
            self.seen.extend(batch.get(self._tp, []))
        raise AssertionError(f"{count} dead letter(s) from {topic} did not arrive within {within}s")


async def group_lag(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Records of `topic` the consumer group has not committed yet, over its `partitions` partitions."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    finally:
        await consumer.stop()
        await admin.close()
    done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
    return sum(end - done.get(tp, 0) for tp, end in ends.items())


async def until(probe: Any, within: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within}s")


async def count(db: asyncpg.Connection, sql: str, *args: Any) -> int:
    value: int = await db.fetchval(sql, *args)
    return value


async def metric(http: httpx.AsyncClient, worker: ServiceProcess, name: str, **labels: str) -> float:
    """The value of one sample on the worker's /metrics (0 when absent)."""
    text = (await http.get(worker.url + "/metrics")).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        base, _, rest = series.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if base == name and all(part in found.split(",") for part in want.split(",") if part):
            total += float(value)
    return total
