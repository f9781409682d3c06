"""A batch whose transaction fails because of some of its events is split until those events are alone:
only they become dead letters (unstorable_event for a value PostgreSQL refuses, processing_failed with
the exception's class for anything else, after bounded retries), the others are applied, and the
partition does not retry forever. A database that does not answer dead-letters nothing."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest
from aiokafka import ConsumerRecord

from kutamo_contracts.envelope import SOURCE_IDENTITY, Envelope, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.topics import USER_PROVISIONED, USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from kutamo_kit.outages import DatabaseAway, database_unavailable
from kutamo_provisioning import batch as batch_module
from kutamo_provisioning import db as worker_db
from kutamo_provisioning import users
from kutamo_provisioning.avatars import PostgresAvatarStore
from kutamo_provisioning.batch import ATTEMPTS, BatchProcessor
from kutamo_provisioning.provisioner import Provisioner
from kutamo_provisioning.tenancy import worker_transaction
from tests.support.databases import throwaway_database

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pool(stack: dev_stack.Stack) -> AsyncIterator[asyncpg.Pool]:
    """A database of this test's own: no worker's relay runs on it, so the outbox rows stay to be counted."""
    async with throwaway_database(stack.postgres.url, "kutamo_unstorable") as url:
        created = await worker_db.create_pool(url)
        async with created.acquire() as conn:
            await worker_db.migrate(conn)
        yield created
        await created.close()


def record(offset: int, name: str) -> "ConsumerRecord[bytes, bytes]":
    event = UserSignedIn(
        event_id=str(uuid.uuid4()), tenant_id="00000000-0000-4000-8000-000000000001", user_id=str(uuid.uuid4()),
        azure_tid=str(uuid.uuid4()), azure_oid=str(uuid.uuid4()), signed_in_at=T0 + timedelta(seconds=offset),
        login_code="contoso", name=name, email="someone@contoso.com",
    )  # fmt: skip
    env = encode_record(USER_SIGNED_IN, event, event_id=event.event_id, subject=event.user_id, source=SOURCE_IDENTITY,
                        time=T0)  # fmt: skip
    return ConsumerRecord(
        topic=USER_SIGNED_IN.name, partition=0, offset=offset, timestamp=0, timestamp_type=0, key=env.key,
        value=env.value, checksum=None, serialized_key_size=0, serialized_value_size=0, headers=env.headers,
    )  # fmt: skip


async def test_only_the_event_postgresql_refuses_is_dead_lettered(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Text is made storable before it reaches the database; to reach the safety net behind that, the
    # claims are taken as they are here, so PostgreSQL itself refuses the NUL character.
    monkeypatch.setattr(batch_module, "from_claims", lambda e, r: users.Details(name=e.name, email=e.email))
    processor = BatchProcessor(pool, Provisioner.__new__(Provisioner), PostgresAvatarStore(), lambda: T0, 4)
    records = [record(0, "Adele Vance"), record(1, "Bad\x00 Name"), record(2, "Megan Bowen")]

    result = await processor.process(records)

    assert [(f.record.offset, f.error.code) for f in result.failed] == [(1, "unstorable_event")]
    assert "UntranslatableCharacter" in result.failed[0].error.detail
    users_of = [uuid.UUID(r.key.decode()) for r in records]
    async with worker_transaction(pool) as conn:  # the pool acts as the app role: row-level security
        names = {r["name"] for r in await conn.fetch("select name from users where user_id = any($1)", users_of)}
        applied = await conn.fetchval("select count(*) from processed_events where event_id = any($1)",
                                      [uuid.UUID(dict(r.headers)["ce_id"].decode()) for r in records])  # fmt: skip
    assert names == {"Adele Vance", "Megan Bowen"}
    assert applied == 2
    waiting = [msgspec.msgpack.decode(r["record"], type=Envelope) for r in await pool.fetch(
        "select record from outbox where topic = $1 and record is not null", USER_PROVISIONED.name)]  # fmt: skip
    announced = sorted(e.key for e in waiting if uuid.UUID(e.key.decode()) in users_of)
    assert announced == sorted([records[0].key, records[2].key]), "each applied user announced once"


async def test_any_exception_inside_the_transaction_dead_letters_only_its_event_after_bounded_retries(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_apply = users.apply_batch
    tries: list[int] = []

    async def apply_batch(conn: asyncpg.Connection, items: list[users.Item], now: datetime) -> list[users.Outcome]:
        if any(i.event.name == "Poison" for i in items):
            tries.append(len(items))
            raise ZeroDivisionError("a bug that only this event reaches")
        return await real_apply(conn, items, now)

    monkeypatch.setattr(batch_module.users, "apply_batch", apply_batch)
    processor = BatchProcessor(pool, Provisioner.__new__(Provisioner), PostgresAvatarStore(), lambda: T0, 4)
    records = [record(n, "Poison" if n == 5 else f"Person {n}") for n in range(8)]

    result = await processor.process(records)

    assert [(f.record.offset, f.error.code, f.error.error_class, f.attempts) for f in result.failed] == [
        (5, "processing_failed", "ZeroDivisionError", ATTEMPTS)
    ]
    assert "a bug that only this event reaches" in result.failed[0].error.detail
    assert tries == [8, 4, 2, 1, 1, 1], "halved down to the event, then tried alone ATTEMPTS times"
    users_of = [uuid.UUID(r.key.decode()) for n, r in enumerate(records) if n != 5]
    async with worker_transaction(pool) as conn:
        assert await conn.fetchval("select count(*) from users where user_id = any($1)", users_of) == 7
    assert [o.change for o in result.outcomes] == ["created"] * 7


async def test_a_database_that_does_not_answer_fails_the_batch_and_dead_letters_nothing(stack: dev_stack.Stack) -> None:
    async with throwaway_database(stack.postgres.url, "kutamo_outage") as url:
        gone = await worker_db.create_pool(url)
        async with gone.acquire() as conn:
            await worker_db.migrate(conn)
        await gone.close()  # every acquire now fails, as when PostgreSQL is down
        processor = BatchProcessor(gone, Provisioner.__new__(Provisioner), PostgresAvatarStore(), lambda: T0, 4)

        with pytest.raises(DatabaseAway) as failed:  # the consumer pauses and fetches the batch again later
            await processor.process([record(0, "Adele Vance"), record(1, "Megan Bowen")])
        assert database_unavailable(failed.value)
