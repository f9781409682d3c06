"""Identity starts without PostgreSQL: a process replaced while the database is down does not stop the
supervisor, and a service started during an outage waits, then becomes ready by itself once the
database is back (docs/operations.md, issue 17)."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kutamo_dev import stack as dev_stack
from kutamo_dev.ports import free_port
from tests.e2e.conftest import eventually
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess, identity_workers
from tests.support.signin import sign_in
from tests.support.tenants import Tenant


def connected_to(pid: int, port: int) -> bool:
    """Process `pid` holds an established TCP connection to `port` (its pool reached PostgreSQL)."""
    sockets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            sockets.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in sockets and fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                return True
    return False


@pytest.fixture
def two_processes(identity: ServiceProcess, logs_dir: Path) -> Iterator[ServiceProcess]:
    port = str(free_port())
    env = {**identity.env, "PORT": port, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    service = ServiceProcess("kutamo_identity", env, logs_dir / "identity-database-away.log")
    yield service
    service.stop()


async def signs_in(
    http: httpx.AsyncClient, service: ServiceProcess, microsoft: Emulator, tenant: Tenant, oid: str
) -> bool | None:
    try:
        return True if (await sign_in(http, service, microsoft, tenant, oid)).status_code == 201 else None
    except httpx.HTTPError:
        return None


@pytest.mark.disrupts_database
async def test_an_identity_process_killed_while_postgresql_is_down_is_replaced_and_both_sign_in_once_it_is_back(
    two_processes: ServiceProcess, stack: dev_stack.Stack, microsoft: Emulator, tenant: Tenant
) -> None:
    two_processes.start()
    assert two_processes._proc is not None
    assert stack.postgres.port is not None
    supervisor = two_processes._proc
    before = identity_workers(supervisor.pid)
    assert len(before) == 2
    person = (await microsoft.add_user(tenant.directory_id, name="Through An Outage", mail=None, title=None))["oid"]
    offset = two_processes.log_path.stat().st_size
    async with httpx.AsyncClient(timeout=10) as http:
        dev_stack.stop_postgres(stack)
        try:
            os.kill(before[0], signal.SIGKILL)

            async def replaced() -> list[int] | None:
                now = identity_workers(supervisor.pid)
                return now if len(now) == 2 and before[0] not in now else None

            after = await eventually(replaced, within=30, what="the killed process replaced")
            await asyncio.sleep(3)  # the replacement's start-up has run against the absent database
            assert supervisor.poll() is None, "the supervisor stopped: " + two_processes.log_tail()
            assert identity_workers(supervisor.pid) == after, "the replacement did not stay up"
            away = await http.get(f"{two_processes.url}/v1/login/{tenant.login_code}")
            assert away.status_code == 503
            assert away.json()["code"] == "database_unavailable"
            assert away.headers["retry-after"]
            unready = await http.get(f"{two_processes.url}/health/ready")
            assert unready.status_code == 503
            assert unready.json()["checks"]["database"]["ok"] is False
        finally:
            dev_stack.start_postgres(stack)

        await eventually(lambda: signs_in(http, two_processes, microsoft, tenant, person), within=60,
                         what="a sign-in after PostgreSQL is back")  # fmt: skip
        started = time.monotonic()
        while not all(connected_to(pid, stack.postgres.port) for pid in after):
            assert time.monotonic() - started < 60, "a process never served a sign-in"
            outcomes = await asyncio.gather(
                *(sign_in(http, two_processes, microsoft, tenant, person) for _ in range(8))
            )
            assert [o.status_code for o in outcomes] == [201] * 8, [o.text[:200] for o in outcomes]
        for _ in range(20):  # whichever process answers: every one is ready
            assert (await http.get(f"{two_processes.url}/health/ready")).status_code == 200

    assert identity_workers(supervisor.pid) == after
    log = two_processes.log_path.read_bytes()[offset:].decode(errors="replace")
    assert "identity worker process replaced" in log
    assert '"unhandled error"' not in log
    assert "Traceback" not in log


@pytest.mark.disrupts_database
async def test_identity_started_while_postgresql_is_down_waits_and_becomes_ready_once_it_is_back(
    two_processes: ServiceProcess, stack: dev_stack.Stack, microsoft: Emulator, tenant: Tenant
) -> None:
    person = (await microsoft.add_user(tenant.directory_id, name="Late Start", mail=None, title=None))["oid"]
    offset = two_processes.log_path.stat().st_size if two_processes.log_path.exists() else 0
    dev_stack.stop_postgres(stack)
    try:
        starting = asyncio.create_task(asyncio.to_thread(two_processes.start, 120))
        await asyncio.sleep(5)
        assert not starting.done(), "it gave up (or claimed to be ready) while PostgreSQL was down"
        assert two_processes._proc is not None
        assert two_processes._proc.poll() is None
    finally:
        dev_stack.start_postgres(stack)
    await starting
    async with httpx.AsyncClient(timeout=10) as http:
        assert await signs_in(http, two_processes, microsoft, tenant, person)
    log = two_processes.log_path.read_bytes()[offset:].decode(errors="replace")
    assert log.count("database unavailable at start: waiting for it") == 1
    assert log.count("database available: starting") == 1
