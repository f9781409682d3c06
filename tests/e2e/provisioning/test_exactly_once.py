"""Kafka delivers at least once; the worker makes it exactly once in effect, in order per user."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def applied(db: asyncpg.Connection, events: list[kit.UserSignedIn]) -> int:
    return await kit.count(
        db, "select count(*) from processed_events where event_id = any($1)", [uuid.UUID(e.event_id) for e in events]
    )


async def test_the_same_event_delivered_twice_leaves_one_user_with_the_right_data(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    user_id = str(uuid.uuid4())
    event = kit.sign_in(user_id, T0, name="Megan Bowen", email="megan@contoso.com")
    worker = kit.start_worker(base_env, worker_logs, "twice")
    try:
        await kit.publish(bootstrap, topic, [event])
        await kit.publish(bootstrap, topic, [event])
        await kit.until(lambda: kit.metric(http, worker, "kutamo_provisioning_events_total", outcome="duplicate"),
                        what="the second delivery")  # fmt: skip
        response = await http.get(
            f"{worker.url}/v1/users/{user_id}", headers={"Authorization": f"Bearer {kit.OPERATOR_KEY}"}
        )
    finally:
        worker.stop()

    assert await kit.count(wdb, "select count(*) from users where user_id = $1", uuid.UUID(user_id)) == 1
    assert await applied(wdb, [event]) == 1
    assert response.json()["name"] == "Megan Bowen"
    assert response.json()["email"] == "megan@contoso.com"


async def test_a_batch_replayed_after_a_crash_is_applied_once(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
    http: httpx.AsyncClient,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    people = [str(uuid.uuid4()) for _ in range(20)]
    events = [kit.sign_in(p, T0 + timedelta(seconds=i), name=f"Person {i}") for i, p in enumerate(people)]
    worker = kit.start_worker(base_env, worker_logs, "replayed-1")
    await kit.publish(bootstrap, topic, events)
    await kit.until(lambda: _all(wdb, events), what="the first delivery")
    worker.kill()
    # As if the crash had lost every offset commit: a group with no offsets reads the topic from the start.
    lost_commits = {**base_env, "KAFKA_CONSUMER_GROUP": f"kutamo-test-{uuid.uuid4().hex[:8]}"}

    again = kit.start_worker(lost_commits, worker_logs, "replayed-2")
    try:
        await kit.until(
            lambda: _at_least(http, again, "duplicate", len(events)), what="the redelivery of the whole batch"
        )
    finally:
        again.stop()

    assert await applied(wdb, events) == len(events)
    assert (
        await kit.count(wdb, "select count(*) from users where user_id = any($1)", [uuid.UUID(p) for p in people]) == 20
    )
    names = {str(r["user_id"]): r["name"] for r in await wdb.fetch("select user_id, name from users")}
    assert all(names[p] == f"Person {i}" for i, p in enumerate(people))


async def test_several_sign_ins_of_one_person_in_one_batch_leave_the_newest_data(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
) -> None:  # fmt: skip
    user_id = str(uuid.uuid4())
    names = ["Lee", "Lee G", "Lee Gu", "Lee Gu (Sales)"]
    events = [kit.sign_in(user_id, T0 + timedelta(minutes=i), name=n) for i, n in enumerate(names)]
    # One email only on the second: a later sign-in without one keeps it.
    events[1] = kit.sign_in(user_id, T0 + timedelta(minutes=1), name="Lee G", email="lee@contoso.com")
    events[2] = kit.sign_in(user_id, T0 + timedelta(minutes=2), name="Lee Gu", email=None)
    events[3] = kit.sign_in(user_id, T0 + timedelta(minutes=3), name="Lee Gu (Sales)", email=None)
    await kit.publish(stack.kafka.bootstrap_servers, topic, events)  # all waiting before the worker starts

    worker = kit.start_worker(base_env, worker_logs, "one-batch")
    try:
        await kit.until(lambda: _all(wdb, events), what="the batch")
    finally:
        worker.stop()

    row = await wdb.fetchrow("select name, email, source_event_id from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["email"]) == ("Lee Gu (Sales)", "lee@contoso.com")
    assert str(row["source_event_id"]) == events[3].event_id


async def test_an_older_sign_in_processed_after_a_newer_one_does_not_overwrite_it(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    user_id = str(uuid.uuid4())
    newer = kit.sign_in(user_id, T0 + timedelta(hours=1), name="Alex Wilber", email="alex.wilber@contoso.com")
    older = kit.sign_in(user_id, T0, name="Alex W", email="alex@old.contoso.com")
    worker = kit.start_worker(base_env, worker_logs, "stale")
    try:
        await kit.publish(bootstrap, topic, [newer])
        await kit.until(lambda: _all(wdb, [newer]), what="the newer sign-in")
        await kit.publish(bootstrap, topic, [older])
        await kit.until(lambda: _all(wdb, [older]), what="the older sign-in")
    finally:
        worker.stop()

    row = await wdb.fetchrow("select name, email from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["email"]) == ("Alex Wilber", "alex.wilber@contoso.com")
    outcome = await wdb.fetchval("select outcome from processed_events where event_id = $1", uuid.UUID(older.event_id))
    assert outcome == "stale"


async def _all(db: asyncpg.Connection, events: list[kit.UserSignedIn]) -> bool:
    return await applied(db, events) == len(events)


async def _at_least(http: httpx.AsyncClient, worker: kit.Worker, outcome: str, n: int) -> bool:
    return await kit.metric(http, worker, "kutamo_provisioning_events_total", outcome=outcome) >= n
