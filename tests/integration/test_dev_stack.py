"""The local stack is usable: PostgreSQL answers and Kafka holds every contract topic as declared."""

import os
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from kutamo_contracts import ALL_TOPICS
from kutamo_dev import stack as dev_stack

RUN_DIR = Path(os.environ.get("KUTAMO_RUN_DIR", ".run"))


@pytest.fixture(scope="module")
def running_stack() -> dev_stack.Stack:
    recorded = dev_stack.load(RUN_DIR)
    if recorded is None:
        pytest.fail(f"no stack recorded in {RUN_DIR}; start one with `python -m kutamo_dev up`")
    return recorded


async def test_postgres_answers_a_query(running_stack: dev_stack.Stack) -> None:
    connection = await asyncpg.connect(running_stack.postgres.url, timeout=10)
    try:
        assert await connection.fetchval("select 1") == 1
    finally:
        await connection.close()


async def test_every_contract_topic_exists_with_its_partitions(running_stack: dev_stack.Stack) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=running_stack.kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic.name for topic in ALL_TOPICS])
    finally:
        await admin.close()
    partitions = {entry["topic"]: len(entry["partitions"]) for entry in described if entry["error_code"] == 0}
    assert partitions == {topic.name: topic.partitions for topic in ALL_TOPICS}


def test_stack_record_is_private_to_its_owner(running_stack: dev_stack.Stack) -> None:
    mode = (Path(running_stack.run_dir) / dev_stack.STACK_FILE).stat().st_mode & 0o777
    assert mode == 0o600
