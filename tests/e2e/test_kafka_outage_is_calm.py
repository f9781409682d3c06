"""A Kafka outage under steady sign-ins is calm: neither service floods its log or burns CPU while the
broker is away, and every event of the outage arrives once it is back (issue 17).

The figures of a run are written to the run folder (`kafka-outage.json`); docs/operations.md quotes them.
"""

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kutamo_dev import stack as dev_stack
from tests.conftest import RUN_DIR
from tests.e2e.conftest import provisioned_user
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant

WINDOW_SECONDS = 15.0
SIGN_INS_PER_SECOND = 2
_TICKS = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """The process and its descendants (a service's relay runs as its child)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """CPU the process tree used so far (user + system, children reaped included)."""
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / _TICKS


def log_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


class Window:
    """Log lines per second and CPU (cores) of each service over a stretch of time."""

    def __init__(self, services: dict[str, ServiceProcess]) -> None:
        self._services = services
        self._start = {name: (log_lines(s.log_path), cpu_seconds(_pid(s))) for name, s in services.items()}
        self._t0 = time.monotonic()

    def close(self) -> dict[str, dict[str, float]]:
        elapsed = time.monotonic() - self._t0
        figures = {}
        for name, service in self._services.items():
            lines, cpu = self._start[name]
            figures[name] = {
                "log_lines_per_s": round((log_lines(service.log_path) - lines) / elapsed, 2),
                "cpu_cores": round((cpu_seconds(_pid(service)) - cpu) / elapsed, 3),
            }
        return figures


def _pid(service: ServiceProcess) -> int:
    assert service._proc is not None
    return service._proc.pid


async def _signing_in(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant, seconds: float
) -> list[dict[str, Any]]:
    """Sign-ins of new people at a steady rate for `seconds`; every one must be accepted."""
    done: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tick = time.monotonic()
        for _ in range(SIGN_INS_PER_SECOND):
            person = await microsoft.add_user(tenant.directory_id, name="Outage Person", mail=None, title="Calm")
            response = await sign_in(http, identity, microsoft, tenant, person["oid"])
            assert response.status_code == 201, response.text
            done.append(response.json())
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    return done


@pytest.mark.disrupts_kafka
async def test_a_kafka_outage_under_sign_ins_is_calm_and_loses_nothing(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
    stack: dev_stack.Stack,
) -> None:
    services = {"identity": identity, "provisioning": provisioning}
    await _signing_in(http, identity, microsoft, tenant, 3)  # warm: connections, caches
    steady = Window(services)
    signed_in = await _signing_in(http, identity, microsoft, tenant, WINDOW_SECONDS)
    steady_figures = steady.close()

    dev_stack.stop_kafka(stack)
    try:
        await asyncio.sleep(2)  # the clients notice; the outage's first lines are part of the window
        outage = Window(services)
        signed_in += await _signing_in(http, identity, microsoft, tenant, WINDOW_SECONDS)
        outage_figures = outage.close()
    finally:
        dev_stack.start_kafka(stack)
    (RUN_DIR / "kafka-outage.json").write_text(json.dumps({"steady": steady_figures, "outage": outage_figures}))

    for name in services:
        calm, down = steady_figures[name], outage_figures[name]
        assert down["log_lines_per_s"] <= 3 * calm["log_lines_per_s"] + 20, (name, calm, down)
        assert down["cpu_cores"] <= calm["cpu_cores"] + 0.10, (name, calm, down)

    async def provisioned(event: dict[str, Any]) -> None:
        await provisioned_user(http, provisioning, event["user_id"], event["session_token"], title="Calm")

    await asyncio.gather(*(provisioned(event) for event in signed_in))
