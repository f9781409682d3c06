"""Readiness follows the database; no log line of the whole run carries a token, key or secret."""

import re
from pathlib import Path

import httpx
import pytest

from kutamo_dev import stack as dev_stack
from tests.conftest import OPERATOR_KEY
from tests.e2e.conftest import eventually
from tests.support.processes import ServiceProcess


async def readiness(http: httpx.AsyncClient, service: ServiceProcess) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        response = await http.get(f"{service.url}/health/ready", timeout=5)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


@pytest.mark.disrupts_database
async def test_readiness_flips_when_postgresql_goes_away_and_back(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, stack: dev_stack.Stack
) -> None:
    identity_ready, worker_ready = await readiness(http, identity), await readiness(http, provisioning)
    assert (identity_ready[0], sorted(identity_ready[1]["checks"])) == (
        200,
        ["database", "outbox_relay", "session_keys"],
    )
    assert (worker_ready[0], sorted(worker_ready[1]["checks"])) == (200, ["consumer", "database", "kafka"])
    dev_stack.stop_postgres(stack)
    try:
        for service in (identity, provisioning):

            async def unready(service: ServiceProcess = service) -> dict | None:  # type: ignore[type-arg]
                status, body = await readiness(http, service)
                return body if status == 503 else None

            body = await eventually(unready, within=30, what=f"{service.module} reporting not ready")
            assert body["checks"]["database"]["ok"] is False
        assert (await http.get(f"{identity.url}/health/live")).status_code == 200
    finally:
        dev_stack.start_postgres(stack)

    for service in (identity, provisioning):

        async def ready(service: ServiceProcess = service) -> bool | None:
            return True if (await readiness(http, service))[0] == 200 else None

        await eventually(ready, within=60, what=f"{service.module} ready again")


TOKEN_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
API_KEY_SHAPED = re.compile(r"kut_[A-Za-z0-9_-]{40,}")


@pytest.mark.scans_logs
def test_no_log_of_the_whole_run_holds_a_token_a_key_or_a_secret(logs_dir: Path, stack: dev_stack.Stack) -> None:
    candidates = [*logs_dir.glob("*.log"), *Path(stack.run_dir).glob("*.log")]
    logs = sorted(p for p in candidates if p.stat().st_size)
    assert logs, "the services wrote no logs"
    secrets = [stack.sealing_key, OPERATOR_KEY]
    findings = []
    for path in logs:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if TOKEN_SHAPED.search(line) or API_KEY_SHAPED.search(line) or any(s in line for s in secrets):
                findings.append(f"{path.name}:{number}: {line[:160]}")
    assert not findings, "\n".join(findings[:20])
