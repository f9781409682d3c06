"""Identity as several processes on one port: one killed is replaced while the others keep serving (and
/metrics still counts every process's sign-ins), and a crash loop stops the supervisor instead of
spinning (docs/operations.md)."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kutamo_dev.ports import free_port
from kutamo_identity.server import EXIT_RESTARTS_EXHAUSTED, RESTART_LIMIT
from tests.e2e.operations.scrape import metrics, total
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess, identity_workers
from tests.support.signin import sign_in
from tests.support.tenants import Tenant

RATE = 20  # sign-ins a second, as issue 17 tried it


@pytest.fixture
def two_processes(identity: ServiceProcess, logs_dir: Path) -> Iterator[ServiceProcess]:
    port = str(free_port())
    env = {**identity.env, "PORT": port, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    service = ServiceProcess("kutamo_identity", env, logs_dir / "identity-two-processes.log")
    service.start()
    yield service
    service.stop()


async def test_a_killed_identity_process_is_replaced_while_the_other_keeps_serving(
    two_processes: ServiceProcess, microsoft: Emulator, tenant: Tenant
) -> None:
    assert two_processes._proc is not None
    parent = two_processes._proc.pid
    before = identity_workers(parent)
    assert len(before) == 2
    person = (await microsoft.add_user(tenant.directory_id, name="Steady", mail=None, title=None))["oid"]
    failures: list[tuple[float, str]] = []
    outcomes: list[int] = []

    async def one(http: httpx.AsyncClient) -> None:
        try:
            outcomes.append((await sign_in(http, two_processes, microsoft, tenant, person)).status_code)
        except httpx.HTTPError as exc:
            failures.append((time.monotonic(), type(exc).__name__))
            return
        if outcomes[-1] != 201:
            failures.append((time.monotonic(), str(outcomes[-1])))

    async with httpx.AsyncClient(timeout=10) as http:
        tasks = []
        killed_at = 0.0
        for i in range(RATE * 12):
            if i == RATE * 3:
                os.kill(before[0], signal.SIGKILL)
                killed_at = time.monotonic()
            tasks.append(asyncio.create_task(one(http)))
            await asyncio.sleep(1 / RATE)
        await asyncio.gather(*tasks)

    assert len(failures) <= len(tasks) * 0.01, failures
    assert all(at <= killed_at + 2 for at, _ in failures), failures
    after = identity_workers(parent)
    assert before[0] not in after
    assert len(after) == 2, "the killed process was not replaced"
    assert "identity worker process replaced" in two_processes.log_path.read_text()
    async with httpx.AsyncClient() as http:  # whichever process answers counts every process's sign-ins
        for _ in range(4):
            scraped = await metrics(http, two_processes.url)
            ok = total(scraped, "kutamo_identity_sign_ins_total", tenant_id=tenant.tenant_id, result="ok")
            assert ok == outcomes.count(201)


async def test_a_supervisor_whose_processes_keep_dying_gives_up_with_a_failed_status(
    two_processes: ServiceProcess,
) -> None:
    assert two_processes._proc is not None
    supervisor = two_processes._proc
    killed: set[int] = set()
    deadline = time.monotonic() + 120
    while supervisor.poll() is None and time.monotonic() < deadline:
        for pid in set(identity_workers(supervisor.pid)) - killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        await asyncio.sleep(0.05)

    assert supervisor.poll() == EXIT_RESTARTS_EXHAUSTED
    assert len(killed) > RESTART_LIMIT
    assert "identity workers keep dying: giving up" in two_processes.log_path.read_text()
    assert identity_workers(supervisor.pid) == []
