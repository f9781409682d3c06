"""Fixtures for the worker's end-to-end tests: a database and a topic of the module's own, worker settings."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit
from tests.support.databases import throwaway_database


@pytest.fixture(scope="module")
async def worker_db(stack: dev_stack.Stack) -> AsyncIterator[str]:
    async with throwaway_database(stack.postgres.url, "kutamo_worker") as url:
        yield url


@pytest.fixture
async def wdb(worker_db: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(worker_db, server_settings={"search_path": "provisioning"})
    yield conn
    await conn.close()


@pytest.fixture
async def topic(stack: dev_stack.Stack) -> str:
    return await kit.create_topic(stack.kafka.bootstrap_servers)


@pytest.fixture
async def lifecycle_topic(stack: dev_stack.Stack) -> str:
    return await kit.create_topic(stack.kafka.bootstrap_servers)


@pytest.fixture
def base_env(
    stack: dev_stack.Stack, worker_db: str, emulator_url: str, topic: str, lifecycle_topic: str
) -> dict[str, str]:
    """Settings of a worker on this test's topics (sign-ins, and an empty lifecycle topic, so it never
    reads the shared one's backlog), with a consumer group of its own."""
    return kit.worker_env(
        {
            "DATABASE_URL": worker_db,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "TOKEN_SEALING_KEY": stack.sealing_key,
            "GRAPH_BASE_URL": emulator_url,
            "IDENTITY_BASE_URL": "http://127.0.0.1:9",
            "KAFKA_SIGNED_IN_TOPIC": topic,
            "KAFKA_LIFECYCLE_TOPIC": lifecycle_topic,
            "KAFKA_CONSUMER_GROUP": f"kutamo-test-{uuid.uuid4().hex[:8]}",
        }
    )


@pytest.fixture
def worker_logs(logs_dir: Path) -> Path:
    path = logs_dir / "workers"
    path.mkdir(exist_ok=True)
    return path
