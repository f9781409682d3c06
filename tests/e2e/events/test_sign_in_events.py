"""Sign-ins over HTTP to events on the real Kafka: each once, one user's in order, also through long
transactions and a Kafka outage."""

import asyncio
import re

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from tests.e2e.conftest import eventually
from tests.e2e.operations.scrape import metrics_text
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant

PARTITIONS = [TopicPartition(USER_SIGNED_IN.name, p) for p in range(USER_SIGNED_IN.partitions)]


async def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(PARTITIONS)
        return offsets
    finally:
        await consumer.stop()


async def events_since(
    bootstrap: str, start: dict[TopicPartition, int], wanted: set[str], until: set[str], within: float = 60
) -> dict[str, list[str]]:
    """Event ids per user id, in Kafka's order, of the records after `start` whose ce_id is wanted, read until
    every event of `until` arrived: one later sign-in of each user, so on each user's partition every earlier
    event of theirs, a duplicate included, has been read. Absence is read, not waited for."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[int, int, str, str]] = []
    try:
        consumer.assign(PARTITIONS)
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        loop = asyncio.get_running_loop()
        deadline, arrived = loop.time() + within, set()
        while arrived != until:
            assert loop.time() < deadline, f"{len(until - arrived)} later sign-ins did not arrive within {within}s"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    event_id = dict(r.headers)["ce_id"].decode()
                    if event_id in wanted:
                        found.append((r.partition, r.offset, r.key.decode(), event_id))
                    elif event_id in until:
                        arrived.add(event_id)
    finally:
        await consumer.stop()
    users: dict[str, list[str]] = {}
    for _, _, user, event_id in sorted(found):
        users.setdefault(user, []).append(event_id)
    return users


class SignIns:
    def __init__(self, http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator) -> None:
        self.http, self.identity, self.tenant, self.microsoft = http, identity, tenant, microsoft
        self.oids: dict[str, str] = {}

    async def once(self, oid: str) -> tuple[str, str]:
        response = await sign_in(self.http, self.identity, self.microsoft, self.tenant, oid)
        assert response.status_code == 201, response.text
        self.oids[response.json()["user_id"]] = oid
        return response.json()["user_id"], response.json()["event_id"]

    async def __call__(self, users: int, each: int) -> dict[str, list[str]]:
        """`users` people signing in `each` times one after another, all people at once; event ids per user."""
        done: dict[str, list[str]] = {}

        async def person(n: int) -> None:
            someone = await self.microsoft.add_user(self.tenant.directory_id, name=f"Person {n}", mail=None, title=None)
            for _ in range(each):
                user_id, event_id = await self.once(someone["oid"])
                done.setdefault(user_id, []).append(event_id)

        await asyncio.gather(*(person(n) for n in range(users)))
        return done

    async def once_more(self, user_ids: list[str]) -> set[str]:
        """One more sign-in of each of these users: the event ids that must arrive after all their earlier ones."""
        return {event_id for _, event_id in await asyncio.gather(*(self.once(self.oids[u]) for u in user_ids))}


@pytest.fixture
def sign_ins(http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator) -> SignIns:
    return SignIns(http, identity, tenant, microsoft)


async def test_concurrent_sign_ins_with_long_transactions_interleaved_arrive_once_each_in_per_user_order(
    stack: dev_stack.Stack, database_url: str, provisioning: ServiceProcess, sign_ins: SignIns
) -> None:
    start = await end_offsets(stack.kafka.bootstrap_servers)

    async def long_transaction(seconds: float) -> None:
        # Holds a transaction id while sign-ins commit around it, like a slow sign-in would.
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await conn.fetchval("select pg_current_xact_id()")
                await asyncio.sleep(seconds)
        finally:
            await conn.close()

    results = await asyncio.gather(sign_ins(15, 4), *(long_transaction(s) for s in (0.5, 1.0, 1.5, 2.0)))
    expected = results[0]
    wanted = {e for events in expected.values() for e in events}

    later = await sign_ins.once_more(list(expected))

    received = await events_since(stack.kafka.bootstrap_servers, start, wanted, until=later)

    assert received == expected, "each sign-in's event exactly once, each user's in sign-in order"


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not exposed"
    return float(match.group(1))


@pytest.mark.disrupts_kafka
async def test_sign_ins_while_kafka_is_down_wait_in_the_backlog_and_all_arrive_in_order_afterwards(
    stack: dev_stack.Stack, http: httpx.AsyncClient, identity: ServiceProcess, sign_ins: SignIns
) -> None:
    start = await end_offsets(stack.kafka.bootstrap_servers)
    dev_stack.stop_kafka(stack)
    try:
        expected = await sign_ins(6, 5)

        async def backlog() -> float | None:
            text = await metrics_text(http, identity.url)
            rows = _gauge(text, "kutamo_identity_outbox_backlog_rows")
            return rows if rows >= 30 and _gauge(text, "kutamo_identity_outbox_oldest_age_seconds") > 0 else None

        await eventually(backlog, within=20, what="a backlog of 30 rows on /metrics")
    finally:
        dev_stack.start_kafka(stack)
    wanted = {e for events in expected.values() for e in events}

    later = await sign_ins.once_more(list(expected))

    received = await events_since(stack.kafka.bootstrap_servers, start, wanted, until=later, within=90)

    assert received == expected, "nothing lost, nothing doubled, each user's in order"

    async def drained() -> bool | None:
        text = await metrics_text(http, identity.url)
        return True if _gauge(text, "kutamo_identity_outbox_backlog_rows") == 0 else None

    await eventually(drained, within=20, what="backlog back to 0")
