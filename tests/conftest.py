"""Fixtures that give tests the real servers: PostgreSQL, Kafka, the Microsoft emulator, both services.

`make test` brings the stack up first (and down after, if it started it) and passes its run folder in
KUTAMO_RUN_DIR; a bare `pytest` brings it up itself. Each test session gets its own database and its
own consumer group, so tests never see a developer's `make run` data.
"""

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from kutamo_dev import stack as dev_stack
from kutamo_dev.ports import free_port
from tests.support.databases import as_identity, as_provisioning, throwaway_database
from tests.support.processes import ServiceProcess, service_env

RUN_DIR = Path(os.environ.get("KUTAMO_RUN_DIR", ".run")).resolve()
# The bootstrap operator key of the identity service under test; a fresh one per session.
OPERATOR_KEY = "op-" + secrets.token_urlsafe(32)
FRONTEND_ORIGIN = "https://app.kutamo.test"
# The test workers' consumer group and port, known before either service starts (each names the other).
CONSUMER_GROUP = f"kutamo-test-{uuid.uuid4().hex[:8]}"
PROVISIONING_PORT = free_port()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that disturb shared servers run after the others, in this order; the log scan comes last.
    order = ["rotates_keys", "disrupts_kafka", "stops_services", "disrupts_database", "scans_logs"]

    def disruption(item: pytest.Item) -> int:
        marks = [i + 1 for i, name in enumerate(order) if item.get_closest_marker(name)]
        return max(marks, default=0)

    items.sort(key=disruption)


@pytest.fixture(scope="session")
def stack() -> Iterator[dev_stack.Stack]:
    current, started = dev_stack.up(RUN_DIR)
    yield current
    if started and "KUTAMO_RUN_DIR" not in os.environ:
        dev_stack.down(RUN_DIR)


@pytest.fixture(scope="session")
async def database_url(stack: dev_stack.Stack) -> AsyncIterator[str]:
    async with throwaway_database(stack.postgres.url, "kutamo_test") as url:
        yield url


@pytest.fixture(scope="session")
def logs_dir() -> Path:
    path = RUN_DIR / "test-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def emulator_url(stack: dev_stack.Stack) -> str:
    assert stack.emulator is not None
    return stack.emulator.url


@pytest.fixture(scope="session")
def identity(stack: dev_stack.Stack, database_url: str, emulator_url: str, logs_dir: Path) -> Iterator[ServiceProcess]:
    env = service_env(
        {
            "DATABASE_URL": as_identity(database_url),
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "TOKEN_SEALING_KEY": stack.sealing_key,
            "AZURE_LOGIN_BASE_URL": emulator_url,
            # Short, so key-rotation tests need not wait five minutes; the kid-flood test stays within it.
            "SIGNING_KEYS_MIN_REFRESH_SECONDS": "3",
            "KUTAMO_OPERATOR_KEY": OPERATOR_KEY,
            "CORS_ALLOWED_ORIGINS": FRONTEND_ORIGIN,
            "PROVISIONING_CONSUMER_GROUP": CONSUMER_GROUP,
            "PROVISIONING_BASE_URL": f"http://127.0.0.1:{PROVISIONING_PORT}",
            # Short, so the login page's "no answer from the Microsoft window" shows within a test.
            "LOGIN_POPUP_TIMEOUT_SECONDS": "6",
            # Every test's traffic comes from 127.0.0.1: one client as the rate limiter sees it. The limit
            # itself is tested on an identity process of its own (test_public_endpoints.py).
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "LOG_LEVEL": "DEBUG",
            # One process: the suite reads counters and /ops figures each process keeps in memory. Several
            # processes, and one of them killed, are tested on an identity of their own (test_processes.py).
            "WEB_CONCURRENCY": "1",
        }
    )
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{env['PORT']}"
    service = ServiceProcess("kutamo_identity", env, logs_dir / "identity.log")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def provisioning(
    stack: dev_stack.Stack, database_url: str, emulator_url: str, identity: ServiceProcess, logs_dir: Path
) -> Iterator[ServiceProcess]:
    env = service_env(
        {
            "DATABASE_URL": as_provisioning(database_url),
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "TOKEN_SEALING_KEY": stack.sealing_key,
            "GRAPH_BASE_URL": emulator_url,
            "IDENTITY_BASE_URL": identity.url,
            "KAFKA_CONSUMER_GROUP": CONSUMER_GROUP,
            "PORT": str(PROVISIONING_PORT),
            # The identity service's /app page reads the signed-in user from the browser.
            "CORS_ALLOWED_ORIGINS": identity.url,
            "LOG_LEVEL": "DEBUG",
        }
    )
    service = ServiceProcess("kutamo_provisioning", env, logs_dir / "provisioning.log")
    service.start()
    yield service
    service.stop()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
