"""The outbox relay: throughput from outbox to Kafka, and latency from a committed sign-in to the user record.

1. Throughput. N sign-in events are written to the outbox of a database of the bench's own (the
   rows the sign-in writes: key, CloudEvent headers, JSON value). Baseline: a bare aiokafka producer
   with the relay's settings (idempotent, acks=all) sending the same records from memory. Ours: the
   kit's OutboxRelay (on the identity outbox), from start to the last row marked published (read, publish, mark).
2. Latency at a steady rate, injected at the outbox. The HTTP endpoint does ~125 sign-ins/s on this
   2-core machine, so 1,000 sign-ins/s cannot come through HTTP: a process of its own commits one
   sign-in transaction per event (outbox row + NOTIFY, as the sign-in does), event n due at
   start + n / 1,000, on 16 connections; the relay runs in its own process, a real provisioning worker
   (its own group, no Graph token: claims only) applies them. Latency = commit of the outbox row ->
   the worker's processed-event row visible (polled every 10 ms, one event in five sampled). The rate
   reached and how far commits fell behind their schedule are reported with it.
3. Latency over HTTP at the rate this machine sustains with everything on it: identity and worker
   processes, sign-ins posted at a steady rate (tokens minted beforehand, Graph read from the emulator),
   latency = sign-in response -> the user record's processed-event row visible.
"""

import asyncio
import contextlib
import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from bench.signin_validation import _prepare, _tenant, _wait_ready
from kutamo_contracts.envelope import SOURCE_IDENTITY, Envelope, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_dev.ports import free_port
from kutamo_dev.services import service_env
from kutamo_dev.stack import Stack
from kutamo_identity import db as identity_db
from kutamo_identity.outbox import writer
from kutamo_identity.outbox.relay import RELAY_LINGER_S
from kutamo_kit.outbox.relay import OutboxRelay

EVENTS, USERS, PARTITIONS = 100_000, 20_000, 6
RATE, SECONDS, INJECTORS = int(os.environ.get("BENCH_RELAY_RATE", "1000")), 20, 16
ROUNDS = 3
HTTP_RATE, HTTP_SECONDS = 40, 15
TENANT = "00000000-0000-4000-8000-0000000000be"
_partitioner = DefaultPartitioner()


def _envelope(topic: str, user: str) -> Envelope:
    event_id, now = str(uuid.uuid4()), datetime.now(UTC)
    event = UserSignedIn(
        event_id=event_id, tenant_id=TENANT, user_id=user, azure_tid=str(uuid.uuid4()), azure_oid=str(uuid.uuid4()),
        signed_in_at=now, login_code="bench", name=f"Person {user[:8]}", email=f"{user[:8]}@contoso.com",
    )  # fmt: skip
    record = encode_record(USER_SIGNED_IN, event, event_id=event_id, subject=user, source=SOURCE_IDENTITY, time=now,
                           traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")  # fmt: skip
    return msgspec.structs.replace(record, topic=topic)


async def _database(stack: Stack) -> str:
    name = f"kutamo_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.postgres.url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = stack.postgres.url.rpartition("/")[0] + f"/{name}"
    await identity_db.migrate_database(url)
    return url


async def _drop(stack: Stack, url: str) -> None:
    admin = await asyncpg.connect(stack.postgres.url)
    await admin.execute(f'drop database if exists "{url.rpartition("/")[2]}" with (force)')
    await admin.close()


async def _topic(bootstrap: str) -> str:
    name = f"bench.relay.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def _raw_producer(bootstrap: str, records: list[Envelope]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
                                max_batch_size=512 * 1024)  # fmt: skip
    await producer.start()
    try:
        started = time.perf_counter()
        sends = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
        await asyncio.gather(*sends)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _raw_batches(bootstrap: str, records: list[Envelope]) -> float:
    """The bare producer again, queuing one closed record batch per partition per 2,000 records, as the relay
    does (but without overlapping the building of the next 2,000 with the sending of these)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
                                max_batch_size=512 * 1024)  # fmt: skip
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(records[0].topic))
        started = time.perf_counter()
        for at in range(0, len(records), 2000):
            per_partition: dict[int, list[Envelope]] = {}
            for r in records[at : at + 2000]:
                per_partition.setdefault(_partitioner(r.key, partitions, partitions), []).append(r)
            futures = []
            for partition, members in per_partition.items():
                batch = producer.create_batch()
                for r in members:
                    if batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is None:
                        futures.append(await producer.send_batch(batch, r.topic, partition=partition))
                        batch = producer.create_batch()
                        batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers)
                batch.close()  # complete: no linger
                futures.append(await producer.send_batch(batch, records[0].topic, partition=partition))
            await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _fill_outbox(url: str, records: list[Envelope]) -> None:
    conn = await asyncpg.connect(url, server_settings={"search_path": "identity"})
    try:
        now = datetime.now(UTC)
        rows = [(str(uuid.uuid4()), r.topic, r.key, r.value, writer.encode_headers(r), now) for r in records]
        await conn.copy_records_to_table(
            "outbox", records=rows, columns=["event_id", "topic", "key", "value", "headers", "created_at"]
        )
    finally:
        await conn.close()


async def _relay_throughput(stack: Stack, url: str, total: int, batch_size: int) -> float:
    relay = OutboxRelay(writer.OUTBOX, url, stack.kafka.bootstrap_servers, batch_size=batch_size, poll_interval=0.05)
    conn = await asyncpg.connect(url, server_settings={"search_path": "identity"})
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    try:
        while relay.published_total < total:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        assert await conn.fetchval("select count(*) from outbox") == 0
        return total / elapsed
    finally:
        relay.stop()
        await task
        await conn.close()


async def _throughput(stack: Stack) -> dict[str, Any]:
    """Rounds of the four measures interleaved; the machine is shared, so best and median are both kept."""
    bootstrap = stack.kafka.bootstrap_servers
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    raw_topic, relay_topic = await _topic(bootstrap), await _topic(bootstrap)
    records = [_envelope(raw_topic, users[i % USERS]) for i in range(EVENTS)]
    rounds: dict[str, list[float]] = {
        "raw_send": [],
        "raw_batch_api": [],
        "relay_batch_2000": [],
        "relay_batch_5000": [],
    }
    for _ in range(ROUNDS):
        rounds["raw_send"].append(await _raw_producer(bootstrap, records))
        rounds["raw_batch_api"].append(await _raw_batches(bootstrap, records))
        for batch_size in (2000, 5000):
            url = await _database(stack)
            try:
                await _fill_outbox(url, [msgspec.structs.replace(r, topic=relay_topic) for r in records])
                rounds[f"relay_batch_{batch_size}"].append(await _relay_throughput(stack, url, EVENTS, batch_size))
            finally:
                await _drop(stack, url)
    best = {name: round(max(values)) for name, values in rounds.items()}
    median = {name: round(statistics.median(values)) for name, values in rounds.items()}
    ours = best["relay_batch_2000"]
    return {
        "events": EVENTS, "partitions": PARTITIONS, "record_bytes": len(records[0].value),
        "headers_per_record": len(records[0].headers), "rounds": ROUNDS,
        "best_events_per_s": best, "median_events_per_s": median,
        "all_rounds_events_per_s": {name: [round(v) for v in values] for name, values in rounds.items()},
        "relay_events_per_s": ours, "relay_batch_size": 2000,
        "ratio_to_raw_send": round(ours / best["raw_send"], 2),
        "ratio_to_raw_batch_api": round(ours / best["raw_batch_api"], 2),
        "target_events_per_s": 20_000, "meets_target": ours >= 20_000,
    }  # fmt: skip


def _relay_process(url: str, bootstrap: str) -> None:
    linger = float(os.environ.get("BENCH_RELAY_LINGER", str(RELAY_LINGER_S)))  # identity's, unless set
    relay = OutboxRelay(writer.OUTBOX, url, bootstrap, linger=linger)
    asyncio.run(relay.run())


async def _start_worker(stack: Stack, url: str, topic: str, identity_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """The worker process and its base URL."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    await _skip_to_end(stack.kafka.bootstrap_servers, topic, group)
    announced = await _topic(stack.kafka.bootstrap_servers)  # its user-provisioned, kept off the real topic
    env = service_env(stack, "provisioning", free_port(), identity_url)
    env.update({"DATABASE_URL": url, "KAFKA_SIGNED_IN_TOPIC": topic, "KAFKA_CONSUMER_GROUP": group,
                "KAFKA_PROVISIONED_TOPIC": announced, "LOG_LEVEL": "WARNING"})  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "kutamo_provisioning"], env=env, stdout=subprocess.DEVNULL)
    async with httpx.AsyncClient(timeout=2) as http:
        await _wait_ready(http, f"http://127.0.0.1:{env['PORT']}")
    return proc, f"http://127.0.0.1:{env['PORT']}"


async def _skip_to_end(bootstrap: str, topic: str, group: str) -> None:
    """Commit the group at the topic's end, so the worker applies only what the bench sends."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()


# The sign-in's outbox write (row + wake-up hint, one transaction) as one statement: one round trip.
_INJECT = """
with added as (
    insert into outbox (event_id, topic, key, value, headers, created_at) values ($1, $2, $3, $4, $5, $6)
    returning id
)
select pg_notify($7, '') from added
"""
_VISIBLE = "select event_id::text from processed_events where event_id = any($1::uuid[])"


class Latencies:
    """Polls processed_events for sampled event ids; records time from 'sent' to 'visible'."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.pending: dict[str, float] = {}
        self.seconds: list[float] = []
        self.done = asyncio.Event()

    async def watch(self) -> None:
        conn = await asyncpg.connect(self._url, server_settings={"search_path": "provisioning"})
        try:
            while not (self.done.is_set() and not self.pending):
                if self.pending:
                    ids = list(self.pending)
                    seen = await conn.fetch(_VISIBLE, ids)
                    now = time.perf_counter()
                    for row in seen:
                        self.seconds.append(now - self.pending.pop(row["event_id"]))
                await asyncio.sleep(0.01)
        finally:
            await conn.close()


def _summary(seconds: list[float], sent: int, elapsed: float) -> dict[str, Any]:
    ordered = sorted(seconds)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)  # noqa: E731
    return {"sent": sent, "achieved_rate_per_s": round(sent / elapsed), "sampled": len(ordered),
            "p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99), "max_ms": round(ordered[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}  # fmt: skip


class _Injected(msgspec.Struct):
    """What the injecting process reports at the end."""

    committed: int
    elapsed_s: float
    behind_schedule_s: list[float]


def _inject_process(url: str, topic: str, rate: int, seconds: int, out: "multiprocessing.Queue[Any]") -> None:
    asyncio.run(_inject(url, topic, rate, seconds, out))


async def _inject(url: str, topic: str, rate: int, seconds: int, out: "multiprocessing.Queue[Any]") -> None:
    """Commit rate * seconds sign-in transactions, event n due at start + n / rate, on INJECTORS
    connections so commits overlap; the events are encoded beforehand so the clock drives only the
    commits. Sampled (event id, commit time) pairs go to the parent as they happen, then the summary.
    When every connection is busy the schedule slips, and `behind_schedule_s` shows by how much."""
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    events = []
    for n in range(rate * seconds):
        envelope = _envelope(topic, users[n % USERS])
        events.append((envelope.headers[1][1].decode(), envelope.key, envelope.value, writer.encode_headers(envelope)))
    conns = [await asyncpg.connect(url, server_settings={"search_path": "identity"}) for _ in range(INJECTORS)]
    idle: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
    for conn in conns:
        idle.put_nowait(conn)
    behind: list[float] = []
    sampled: list[tuple[str, float, datetime]] = []

    async def sign_in(n: int, due: float, conn: asyncpg.Connection) -> None:
        event_id, key, value, headers = events[n]
        try:
            await conn.execute(_INJECT, event_id, topic, key, value, headers, datetime.now(UTC), writer.CHANNEL)
        finally:
            idle.put_nowait(conn)
        committed = time.perf_counter()  # CLOCK_MONOTONIC: the parent's perf_counter reads the same clock
        behind.append(committed - due)
        if n % 5 == 0:
            sampled.append((event_id, committed, datetime.now(UTC)))

    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    for n in range(len(events)):
        due = started + n / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(sign_in(n, due, await idle.get()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        # Handed over within 5 ms of the commit: the watcher starts looking only once it knows the event,
        # so samples held back longer (20 at a time: up to 100 ms at 1,000/s) counted as latency.
        if sampled and (len(sampled) >= 20 or time.perf_counter() - sampled[0][1] > 0.005):
            out.put(sampled)
            sampled = []
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    out.put(sampled)
    out.put(_Injected(committed=len(behind), elapsed_s=elapsed, behind_schedule_s=behind))
    for conn in conns:
        await conn.close()


async def _collect(out: "multiprocessing.Queue[Any]", latencies: Latencies, commits: dict[str, datetime]) -> _Injected:
    """Hand the injector's sampled commits to the watcher as they arrive; return its summary."""
    while True:
        try:
            item = out.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.005)
            continue
        if isinstance(item, _Injected):
            return item
        for event_id, committed, at in item:
            latencies.pending[event_id] = committed
            commits[event_id] = at


async def _injected(stack: Stack) -> dict[str, Any]:
    url = await _database(stack)
    topic = await _topic(stack.kafka.bootstrap_servers)
    spawn = multiprocessing.get_context("spawn")
    relay = spawn.Process(target=_relay_process, args=(url, stack.kafka.bootstrap_servers))
    relay.start()
    worker, worker_url = await _start_worker(stack, url, topic, "http://127.0.0.1:9")
    out: multiprocessing.Queue[Any] = spawn.Queue()
    injector = spawn.Process(target=_inject_process, args=(url, topic, RATE, SECONDS, out))
    latencies = Latencies(url)
    watcher = asyncio.create_task(latencies.watch())
    try:
        cpu_before = (_cpu_seconds(stack.kafka.pid), _cpu_seconds(relay.pid))
        injector.start()
        commits: dict[str, datetime] = {}
        injected = await asyncio.wait_for(_collect(out, latencies, commits), SECONDS + 120)
        await _drained(url)
        pids = (stack.kafka.pid, relay.pid)
        broker_cpu, relay_cpu = (_cpu_seconds(p) - b for p, b in zip(pids, cpu_before, strict=True))
        latencies.done.set()
        await asyncio.wait_for(watcher, 120)
        relayed = await _relay_share(url, commits)
        behind = sorted(injected.behind_schedule_s)
        batches = await _worker_batches(worker_url)
        return {
            **_summary(latencies.seconds, injected.committed, injected.elapsed_s),
            "target_rate_per_s": RATE, "seconds": SECONDS, "connections": INJECTORS,
            "commit_behind_schedule_ms": {
                "p50": round(behind[len(behind) // 2] * 1000, 1),
                "p99": round(behind[int(len(behind) * 0.99)] * 1000, 1),
                "max": round(behind[-1] * 1000, 1),
            },
            "of_which_commit_to_published": _summary(relayed, len(relayed), injected.elapsed_s),
            "kafka_broker_cpu_ms_per_event": round(broker_cpu * 1000 / injected.committed, 3),
            "relay_process_cpu_ms_per_event": round(relay_cpu * 1000 / injected.committed, 3),
            "worker_batches": batches,
        }  # fmt: skip
    finally:
        watcher.cancel()
        for proc in (injector, relay):
            if proc.pid is not None:
                proc.terminate()
                proc.join(30)
        worker.terminate()
        worker.wait(30)
        await _drop(stack, url)


async def _worker_batches(base: str) -> dict[str, float]:
    """The worker's own account of its batches (its /metrics): how many, their mean size and duration."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{base}/metrics")).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith(("kutamo_provisioning_batch_size_messages_", "kutamo_provisioning_batch_processing_")):
            values[name] = float(value)
    count = values.get("kutamo_provisioning_batch_processing_seconds_count", 0.0) or 1.0
    return {
        "batches": values.get("kutamo_provisioning_batch_processing_seconds_count", 0.0),
        "mean_records": round(values.get("kutamo_provisioning_batch_size_messages_sum", 0.0) / count, 1),
        "mean_ms": round(values.get("kutamo_provisioning_batch_processing_seconds_sum", 0.0) * 1000 / count, 1),
    }


def _cpu_seconds(pid: int | None) -> float:
    """CPU (user + system) a process used so far, from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")


async def _drained(url: str) -> None:
    """Wait until the relay has published every row (the CPU window covers all of its work)."""
    conn = await asyncpg.connect(url, server_settings={"search_path": "identity"})
    try:
        while await conn.fetchval("select count(*) from outbox"):  # noqa: ASYNC110 - another process's rows
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _over_http(stack: Stack) -> dict[str, Any]:
    assert stack.emulator is not None
    url = await _database(stack)
    port = free_port()
    env = service_env(stack, "identity", port)
    # One client address: the default limit (per address and minute) answered most of the sign-ins 429.
    env.update(DATABASE_URL=url, LOG_LEVEL="WARNING", RATE_LIMIT_PER_MINUTE="1000000")
    identity = subprocess.Popen([sys.executable, "-m", "kutamo_identity"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as http:
            await _wait_ready(http, base)
            worker, _ = await _start_worker(stack, url, USER_SIGNED_IN.name, base)
            login_code, tid, app = _tenant(env)
            total = HTTP_RATE * HTTP_SECONDS
            bodies = await _prepare(http, base, stack.emulator.url, login_code, tid, app, total)
            latencies = Latencies(url)
            watcher = asyncio.create_task(latencies.watch())
            statuses: list[int] = []
            answered: dict[str, datetime] = {}

            async def sign_in(body: dict[str, Any]) -> None:
                response = await http.post(f"{base}/v1/sign-ins", json=body)
                statuses.append(response.status_code)
                if response.status_code == 201:
                    latencies.pending[response.json()["event_id"]] = time.perf_counter()
                    answered[response.json()["event_id"]] = datetime.now(UTC)

            started = time.perf_counter()
            tasks = []
            for n, body in enumerate(bodies):
                if (delay := started + n / HTTP_RATE - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(sign_in(body)))
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - started
            latencies.done.set()
            await asyncio.wait_for(watcher, 120)
            relayed = await _relay_share(url, answered)
            return {**_summary(latencies.seconds, statuses.count(201), elapsed), "target_rate_per_s": HTTP_RATE,
                    "seconds": HTTP_SECONDS, "graph_read": True, "statuses": dict(Counter(statuses)),
                    "of_which_response_to_published": _summary(relayed, len(relayed), elapsed)}  # fmt: skip
    finally:
        for proc in (worker, identity):
            if proc is not None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(30)
        await _drop(stack, url)


async def _relay_share(url: str, answered: dict[str, datetime]) -> list[float]:
    """Seconds from each sign-in's response (or commit) to its outbox row published (the identity side)."""
    conn = await asyncpg.connect(url, server_settings={"search_path": "identity"})
    try:
        rows = await conn.fetch(
            "select event_id::text, published_at from outbox_published where event_id = any($1::uuid[])", list(answered)
        )
    finally:
        await conn.close()
    return [max(0.0, (r["published_at"] - answered[r["event_id"]]).total_seconds()) for r in rows if r["published_at"]]


async def _run(stack: Stack) -> dict[str, Any]:
    parts = {"throughput": _throughput, "latency_injected_at_outbox": _injected, "latency_over_http": _over_http}
    chosen = os.environ.get("BENCH_RELAY_PARTS", ",".join(parts)).split(",")
    return {name: await measure(stack) for name, measure in parts.items() if name in chosen}


def run(stack: Stack) -> dict[str, Any]:
    return asyncio.run(_run(stack))
