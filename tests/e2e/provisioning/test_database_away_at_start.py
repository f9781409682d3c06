"""A worker started while PostgreSQL is down waits for it instead of exiting, then becomes ready and
provisions what arrived meanwhile (docs/operations.md, issue 17)."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from kutamo_dev import stack as dev_stack
from kutamo_dev.ports import free_port
from tests.e2e.provisioning import kit
from tests.e2e.provisioning.test_database_outage import users_of

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.disrupts_database
async def test_a_worker_started_while_postgresql_is_down_becomes_ready_once_it_is_back(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, worker_db: str, worker_logs: Path
) -> None:
    meanwhile = [kit.sign_in(str(uuid.uuid4()), T0, name="Arrived Meanwhile") for _ in range(3)]
    worker = kit.Worker("kutamo_provisioning", {**base_env, "PORT": str(free_port())}, worker_logs / "late-start.log")
    offset = worker.log_path.stat().st_size if worker.log_path.exists() else 0
    dev_stack.stop_postgres(stack)
    try:
        starting = asyncio.create_task(asyncio.to_thread(worker.start, 120))
        await kit.publish(stack.kafka.bootstrap_servers, topic, meanwhile)
        await asyncio.sleep(5)
        assert not starting.done(), "it gave up (or claimed to be ready) while PostgreSQL was down"
        assert worker._proc is not None
        assert worker._proc.poll() is None
    finally:
        dev_stack.start_postgres(stack)
    try:
        await starting
        await kit.until(lambda: users_of(worker_db, meanwhile), within=60, what="the sign-ins sent meanwhile")
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{worker.url}/health/ready")).status_code == 200
    finally:
        worker.stop()
    log = worker.log_path.read_bytes()[offset:].decode(errors="replace")
    assert log.count("database unavailable at start: waiting for it") == 1
    assert log.count("database available: starting") == 1
    assert "Traceback" not in log
