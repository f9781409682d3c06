"""PostgreSQL restarts under traffic: both services answer 503 with Retry-After (never 500), log the outage
once, report it in readiness, and recover by themselves; the worker pauses and then provisions what
arrived meanwhile, dead-lettering nothing (issue 17)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Answers:
    """Every answer the routes gave while the test ran: (service, path, status, Retry-After, code)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int, str | None, str | None]] = []
        self.stop = asyncio.Event()

    async def keep_asking(self, http: httpx.AsyncClient, name: str, urls: list[str], headers: dict[str, str]) -> None:
        while not self.stop.is_set():
            for url in urls:
                response = await http.get(url, headers=headers, timeout=10)
                code = response.json().get("code") if response.status_code >= 400 else None
                self.seen.append((name, url, response.status_code, response.headers.get("retry-after"), code))
            await asyncio.sleep(0.05)

    def failed(self) -> list[tuple[str, str, int, str | None, str | None]]:
        return [a for a in self.seen if a[2] >= 500]


async def users_of(url: str, events: list[kit.UserSignedIn]) -> int | None:
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": "provisioning"})
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        ids = [uuid.UUID(e.event_id) for e in events]
        done = await kit.count(conn, "select count(*) from processed_events where event_id = any($1)", ids)
    finally:
        await conn.close()
    return done if done == len(events) else None


def new_lines(path: Path, offset: int) -> list[str]:
    with path.open(errors="replace") as log:
        log.seek(offset)
        return log.read().splitlines()


@pytest.mark.disrupts_database
async def test_a_postgresql_restart_is_answered_503_with_retry_after_and_the_worker_resumes_where_it_was(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, worker_db: str, worker_logs: Path,
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    before = [kit.sign_in(str(uuid.uuid4()), T0, name="Before") for _ in range(5)]
    meanwhile = [kit.sign_in(str(uuid.uuid4()), T0 + timedelta(minutes=1), name="Meanwhile") for _ in range(5)]
    worker_log = worker_logs / "database-outage.log"
    worker_offset = worker_log.stat().st_size if worker_log.exists() else 0
    worker = kit.start_worker(base_env, worker_logs, "database-outage")
    answers = Answers()
    identity_log = identity.log_path
    identity_offset = identity_log.stat().st_size
    operator = {"Authorization": f"Bearer {kit.OPERATOR_KEY}"}
    try:
        await kit.publish(bootstrap, topic, before)
        await kit.until(lambda: users_of(worker_db, before), what="the sign-ins before the outage")
        identity_routes = [f"{identity.url}/v1/login/{tenant.login_code}", f"{identity.url}/.well-known/jwks.json"]
        worker_routes = [f"{worker.url}/v1/users/{before[0].user_id}", f"{worker.url}/v1/users/{uuid.uuid4()}"]
        askers = [
            asyncio.create_task(answers.keep_asking(http, "identity", identity_routes, {})),
            asyncio.create_task(answers.keep_asking(http, "worker", worker_routes, operator)),
        ]
        await asyncio.sleep(1)
        dev_stack.stop_postgres(stack)
        try:
            await kit.publish(bootstrap, topic, meanwhile)  # Kafka keeps them while the worker cannot apply them
            await asyncio.sleep(6)
            ready = await http.get(f"{worker.url}/health/ready")
            identity_ready = await http.get(f"{identity.url}/health/ready")
        finally:
            dev_stack.start_postgres(stack)
        await kit.until(lambda: users_of(worker_db, meanwhile), within=90, what="the sign-ins that came meanwhile")
        await asyncio.sleep(6)  # the readiness loops notice the database is back
        answers.stop.set()
        await asyncio.gather(*askers)
        dead = await http.get(f"{worker.url}/metrics")
        ready_after = await http.get(f"{worker.url}/health/ready")
    finally:
        answers.stop.set()
        worker.stop()

    unavailable = [a for a in answers.seen if a[2] == 503]
    assert unavailable, "the outage was never seen by a request: the test proved nothing"
    assert {a[0] for a in unavailable} == {"identity", "worker"}
    assert answers.failed() == unavailable, "only 503 while PostgreSQL restarts, never a 500"
    assert all(a[4] == "database_unavailable" and a[3] is not None and 1 <= int(a[3]) <= 10 for a in unavailable)
    assert answers.seen[-1][2] in (200, 404), "the routes answer again after the restart"
    assert {a[2] for a in answers.seen[-4:]} <= {200, 404}

    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert ready.json()["checks"]["database"]["reason"]
    assert identity_ready.status_code == 503
    assert identity_ready.json()["checks"]["database"]["ok"] is False
    assert ready_after.status_code == 200, ready_after.text

    assert "kutamo_provisioning_dead_letters_total{" not in dead.text, "nothing dead-lettered for an outage"
    for log in (new_lines(identity_log, identity_offset), new_lines(worker_log, worker_offset)):
        assert sum('"msg":"database unavailable"' in line for line in log) == 1
        assert sum('"msg":"database available again"' in line for line in log) == 1
        noise = ('"unhandled error"', "stopped; restarting", "Failed to restore the pool connection floor")
        assert not [line[:300] for line in log if any(n in line for n in noise)]
