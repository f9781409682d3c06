"""Workers crash, stop and scale out; sign-ins are neither lost nor doubled, and neither are announcements."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from kutamo_contracts.topics import USER_PROVISIONED
from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit
from tests.support.microsoft import Emulator

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def processed(db: asyncpg.Connection, events: list[kit.UserSignedIn]) -> int:
    ids = [uuid.UUID(e.event_id) for e in events]
    return await kit.count(db, "select count(*) from processed_events where event_id = any($1)", ids)


async def announcements_from(bootstrap: str) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(USER_PROVISIONED.name, p) for p in range(USER_PROVISIONED.partitions)]
    consumer.assign(partitions)
    for tp in partitions:
        await consumer.seek_to_end(tp)
        await consumer.position(tp)
    return consumer, partitions


async def announced(consumer: AIOKafkaConsumer, users: set[str], expected: set[str]) -> list[str]:
    """source_event_ids of user-provisioned events of these users, read until all expected ones arrived."""
    seen: list[str] = []
    deadline = asyncio.get_running_loop().time() + 30
    while not expected <= set(seen) and asyncio.get_running_loop().time() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                if record.key.decode() in users:
                    seen.append(kit.msgspec.json.decode(record.value)["source_event_id"])
    return seen


async def test_a_worker_killed_mid_batch_and_restarted_loses_nothing_and_doubles_nothing(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
    microsoft: Emulator, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    tid = str(uuid.uuid4())
    people = [await microsoft.add_user(tid, name=f"P{i}", mail=f"p{i}@contoso.com", title="Staff") for i in range(40)]
    tokens = [(await microsoft.tokens(tid, p["oid"], str(uuid.uuid4())))["access_token"] for p in people]
    user_ids = [str(uuid.uuid4()) for _ in people]
    events = [
        kit.sign_in(user_ids[i], T0 + timedelta(minutes=j), name=f"P{i} v{j}", oid=p["oid"], tid=tid,
                    token=kit.sealing(stack.sealing_key, tokens[i]))
        for j in range(10) for i, p in enumerate(people)
    ]  # fmt: skip
    consumer, _ = await announcements_from(bootstrap)
    # Slow Graph answers (for this test's directory only) keep batches in flight long enough to kill the
    # worker in the middle of one.
    await http.post(f"{microsoft.url}/_emulator/faults", json={"endpoint": "me", "status": 200, "times": 1000,
                                                              "delay_seconds": 0.3, "tid": tid})  # fmt: skip
    env = {**base_env, "BATCH_MAX_RECORDS": "40"}
    try:
        await kit.publish(bootstrap, topic, events)
        worker = kit.start_worker(env, worker_logs, "killed")
        await kit.until(lambda: _at_least(wdb, events, 80), what="the first batches")
        worker.kill()
        at_kill = await processed(wdb, events)
        await http.delete(f"{microsoft.url}/_emulator/faults", params={"tid": tid})

        restarted = kit.start_worker(env, worker_logs, "restarted")
        try:
            await kit.until(lambda: _at_least(wdb, events, len(events)), within=60, what="every sign-in")
        finally:
            restarted.stop()
        seen = await announced(consumer, set(user_ids), {e.event_id for e in events})
    finally:
        await consumer.stop()
        await http.delete(f"{microsoft.url}/_emulator/faults", params={"tid": tid})

    assert at_kill < len(events), "the worker finished before it was killed; the test proved nothing"
    assert await processed(wdb, events) == len(events)
    assert await kit.count(wdb, "select count(*) from users where user_id = any($1)",
                           [uuid.UUID(u) for u in user_ids]) == len(people)  # fmt: skip
    rows = await wdb.fetch(
        "select user_id, source_event_id, title from users where user_id = any($1)", [uuid.UUID(u) for u in user_ids]
    )
    newest = {e.user_id: e.event_id for e in events[-len(people) :]}
    assert {str(r["user_id"]): str(r["source_event_id"]) for r in rows} == newest
    assert {r["title"] for r in rows} == {"Staff"}
    assert set(seen) == {e.event_id for e in events}, "an applied sign-in was never announced"


async def test_workers_side_by_side_share_partitions_and_a_stopped_one_hands_over_cleanly(
    stack: dev_stack.Stack, base_env: dict[str, str], wdb: asyncpg.Connection, worker_logs: Path,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    topic = await kit.create_topic(bootstrap, partitions=6)
    env = {**base_env, "KAFKA_SIGNED_IN_TOPIC": topic, "BATCH_MAX_RECORDS": "50"}
    user_ids = [str(uuid.uuid4()) for _ in range(120)]
    events = [kit.sign_in(u, T0 + timedelta(minutes=j), name=f"{u[:4]} v{j}") for j in range(5) for u in user_ids]
    first = kit.start_worker(env, worker_logs, "side-by-side-1")
    second = kit.start_worker(env, worker_logs, "side-by-side-2")
    try:
        shares = await kit.until(lambda: _both_assigned(http, first, second), what="both workers holding partitions")
        assert sorted(shares[0] + shares[1]) == list(range(6))
        for chunk in range(0, len(events), 100):
            await kit.publish(bootstrap, topic, events[chunk : chunk + 100])
            if chunk == 200:
                # SIGTERM: finish the batch, commit, leave the group (uvicorn re-raises the signal after that)
                assert first.terminate() in (0, -15)
            await asyncio.sleep(0.1)
        await kit.until(lambda: _at_least(wdb, events, len(events)), within=60, what="every sign-in")
    finally:
        second.stop()

    assert await processed(wdb, events) == len(events)
    skipped = await kit.count(
        wdb,
        "select count(*) from processed_events where event_id = any($1) and outcome <> 'applied'",
        [uuid.UUID(e.event_id) for e in events],
    )
    assert skipped == 0
    names = {
        r["name"]
        for r in await wdb.fetch("select name from users where user_id = any($1)", [uuid.UUID(u) for u in user_ids])
    }
    assert names == {f"{u[:4]} v4" for u in user_ids}
    stopped = first.log_path.read_text()
    assert "partitions revoked" in stopped
    assert "Application shutdown complete" in stopped


async def _at_least(db: asyncpg.Connection, events: list[kit.UserSignedIn], n: int) -> bool:
    return await processed(db, events) >= n


async def _both_assigned(http: httpx.AsyncClient, *workers: kit.Worker) -> list[list[int]] | None:
    shares = []
    for worker in workers:
        body = (await http.get(worker.url + "/health/ready")).json()
        shares.append(body["checks"]["consumer"]["assigned_partitions"])
    return shares if all(shares) and sum(len(s) for s in shares) == 6 else None
