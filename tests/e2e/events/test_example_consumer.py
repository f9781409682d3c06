"""The example downstream consumer (examples/, aiokafka + jsonschema only) follows the real topics and
validates what it receives against the published schemas."""

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kutamo_contracts.topics import USER_PROVISIONED, USER_SIGNED_IN, Topic
from kutamo_dev import stack as dev_stack
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "user_events_consumer.py"


class Example:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], within: float = 30.0) -> dict[str, Any]:
        """The first printed line that matches, reading more output for at most `within` seconds."""
        assert self.process.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for line in self.lines:
                if match(line):
                    return line
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"the example printed nothing matching within {within}s: {self.lines[-5:]}")
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                raise AssertionError("the example consumer exited")
            self.lines.append(json.loads(raw))


async def group_at_end(bootstrap: str, topics: list[Topic]) -> str:
    """A new consumer group whose committed offsets are the topics' end offsets now."""
    group = f"test.example.{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()
    return group


@pytest.fixture
async def run_example(stack: dev_stack.Stack) -> AsyncIterator[Callable[..., Any]]:
    started: list[asyncio.subprocess.Process] = []

    async def run(*args: str, group: str | None = None) -> Example:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLE),
            "--bootstrap-servers",
            stack.kafka.bootstrap_servers,
            "--group",
            group or f"test.example.{uuid.uuid4().hex[:8]}",
            *args,
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(process)
        return Example(process)

    yield run
    for process in started:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.communicate(), 20)  # read what it still prints, so it can exit
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_the_example_consumer_receives_and_validates_a_sign_in_and_the_provisioned_user(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
    run_example: Callable[..., Any],
    stack: dev_stack.Stack,
) -> None:
    # The group starts at the topics' current end (a shared stack's topics may hold many events).
    group = await group_at_end(stack.kafka.bootstrap_servers, [USER_SIGNED_IN, USER_PROVISIONED])
    example = await run_example(group=group)
    person = await microsoft.add_user(tenant.directory_id, name="Lidia Holloway", mail="lidia@contoso.com", title="PM")

    response = await sign_in(http, identity, microsoft, tenant, person["oid"])
    assert response.status_code == 201, response.text
    event_id = response.json()["event_id"]

    signed_in = await example.wait_for(lambda line: line["ce_id"] == event_id)
    assert signed_in["valid"], signed_in
    assert signed_in["topic"] == USER_SIGNED_IN.name
    assert signed_in["key"] == response.json()["user_id"] == signed_in["payload"]["user_id"]
    provisioned = await example.wait_for(
        lambda line: line["ce_type"].endswith("user.provisioned.v1") and line["payload"]["source_event_id"] == event_id
    )
    assert provisioned["valid"], provisioned
    assert provisioned["payload"]["title"] == "PM"


async def test_the_example_consumer_reports_an_invalid_event_and_skips_a_duplicate(
    stack: dev_stack.Stack, topic: str, run_example: Callable[..., Any]
) -> None:
    good_id = str(uuid.uuid4())
    good = {
        "event_id": good_id,
        "tenant_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "azure_tid": str(uuid.uuid4()),
        "azure_oid": str(uuid.uuid4()),
        "signed_in_at": "2026-11-26T12:00:00+00:00",
        "login_code": "contoso",
        "a_field_added_later": "consumers ignore it",
    }
    bad = {**good, "event_id": str(uuid.uuid4()), "user_id": 42}
    del bad["login_code"]
    later = {**good, "event_id": str(uuid.uuid4())}  # after the duplicate, on the same partition
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers)
    await producer.start()
    try:
        for value in (good, bad, good, later):
            headers = [("ce_id", value["event_id"].encode()), ("ce_type", USER_SIGNED_IN.event_type.encode())]
            await producer.send_and_wait(topic, msgspec.json.encode(value), key=b"user-1", headers=headers)
    finally:
        await producer.stop()

    example = await run_example("--topic", topic, "--from-beginning")

    invalid = await example.wait_for(lambda line: line["ce_id"] == bad["event_id"])
    assert not invalid["valid"]
    assert any("login_code" in error for error in invalid["errors"])
    assert any(error.startswith("user_id") for error in invalid["errors"])
    valid = await example.wait_for(lambda line: line["ce_id"] == good_id)
    assert valid["valid"]
    await example.wait_for(lambda line: line["ce_id"] == later["event_id"])  # so the duplicate was read before
    assert [line["ce_id"] for line in example.lines] == [good_id, bad["event_id"], later["event_id"]]
