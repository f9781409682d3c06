"""The worker's read API: a tenant's people, their avatars, for a session of that tenant or an operator."""

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kutamo_dev import stack as dev_stack
from tests.e2e.conftest import provisioned_user
from tests.e2e.provisioning import kit
from tests.support.databases import as_provisioning
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant, create_tenant

OPERATOR = {"Authorization": f"Bearer {kit.OPERATOR_KEY}"}


@pytest.fixture(scope="module")
def api(stack: dev_stack.Stack, database_url: str, identity: ServiceProcess, logs_dir: Path) -> Iterator[kit.Worker]:
    """A second worker process on the test session's database, with the operator key set."""
    env = kit.worker_env(
        {
            "DATABASE_URL": as_provisioning(database_url), "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "TOKEN_SEALING_KEY": stack.sealing_key, "IDENTITY_BASE_URL": identity.url,
            "KAFKA_CONSUMER_GROUP": f"kutamo-test-{uuid.uuid4().hex[:8]}",
            "KAFKA_SIGNED_IN_TOPIC": asyncio.run(kit.create_topic(stack.kafka.bootstrap_servers)),
        }
    )  # fmt: skip
    (logs_dir / "workers").mkdir(exist_ok=True)
    worker = kit.start_worker(env, logs_dir / "workers", "api")
    yield worker
    worker.stop()


async def signed_in_people(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    tenant: Tenant, count: int,
) -> list[dict[str, Any]]:  # fmt: skip
    people = []
    for i in range(count):
        person = await microsoft.add_user(tenant.directory_id, name=f"Person {i}", mail=f"p{i}@x.com", title=f"T{i}")
        response = await sign_in(http, identity, microsoft, tenant, person["oid"])
        assert response.status_code == 201, response.text
        signed_in = response.json()
        await provisioned_user(http, provisioning, signed_in["user_id"], signed_in["session_token"], title=f"T{i}")
        people.append(signed_in)
    return people


async def test_a_tenants_people_are_listed_page_by_page_to_its_sessions_and_operators_only(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    api: kit.Worker,
) -> None:  # fmt: skip
    ours, theirs = create_tenant(identity, name="Northwind"), create_tenant(identity, name="Tailspin")
    people = await signed_in_people(http, identity, provisioning, microsoft, ours, 3)
    strangers = await signed_in_people(http, identity, provisioning, microsoft, theirs, 1)
    session = {"Authorization": f"Bearer {people[0]['session_token']}"}
    url = f"{api.url}/v1/tenants/{ours.tenant_id}/users"

    first = (await http.get(url, params={"limit": 2}, headers=session)).json()
    rest = (await http.get(url, params={"limit": 2, "after": first["next_after"]}, headers=session)).json()
    other = await http.get(f"{api.url}/v1/tenants/{theirs.tenant_id}/users", headers=session)
    as_operator = await http.get(f"{api.url}/v1/tenants/{theirs.tenant_id}/users", headers=OPERATOR)
    wrong_key = await http.get(url, headers={"Authorization": "Bearer " + "x" * 40})
    deprecated = await http.get(
        f"{api.url}/v1/tenants/{theirs.tenant_id}/users", headers={"X-Operator-Key": kit.OPERATOR_KEY}
    )
    deprecated_wrong = await http.get(url, headers={"X-Operator-Key": "x" * 40})
    anonymous = await http.get(url)

    listed = [u["user_id"] for u in first["users"] + rest["users"]]
    assert sorted(listed) == sorted(p["user_id"] for p in people)
    assert rest["next_after"] is None
    assert (other.status_code, other.json()["code"]) == (403, "tenant_forbidden")
    assert [u["user_id"] for u in as_operator.json()["users"]] == [strangers[0]["user_id"]]
    assert (wrong_key.status_code, wrong_key.json()["code"]) == (401, "operator_key_invalid")
    assert deprecated.json()["users"] == as_operator.json()["users"], "X-Operator-Key still works for a release"
    assert (deprecated_wrong.status_code, deprecated_wrong.json()["code"]) == (401, "operator_key_invalid")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "session_required")
    assert anonymous.headers["content-type"].startswith("application/problem+json")


async def test_a_users_avatar_is_served_with_an_etag_and_revalidated_cheaply(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    tenant: Tenant, api: kit.Worker,
) -> None:  # fmt: skip
    (person,) = await signed_in_people(http, identity, provisioning, microsoft, tenant, 1)
    stranger = (await signed_in_people(http, identity, provisioning, microsoft, create_tenant(identity), 1))[0]
    url = f"{api.url}/v1/users/{person['user_id']}/avatar"

    image = await http.get(url, headers={"Authorization": f"Bearer {person['session_token']}"})
    again = await http.get(
        url, headers={"Authorization": f"Bearer {person['session_token']}", "If-None-Match": image.headers["etag"]}
    )
    hidden = await http.get(url, headers={"Authorization": f"Bearer {stranger['session_token']}"})

    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content.startswith(b"\xff\xd8\xff")
    assert "max-age" in image.headers["cache-control"]
    assert (again.status_code, again.content) == (304, b"")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "user_not_found")


async def test_operators_see_health_and_the_pipeline_metrics(
    http: httpx.AsyncClient, provisioning: ServiceProcess
) -> None:
    live = await http.get(f"{provisioning.url}/health/live")
    ready = (await http.get(f"{provisioning.url}/health/ready")).json()
    metrics = (await http.get(f"{provisioning.url}/metrics")).text

    assert live.status_code == 200
    assert ready["checks"]["database"]["ok"] is True
    assert ready["checks"]["consumer"]["joined_group"] is True
    for name in (
        "consumer_lag_messages", "batch_size_messages", "batch_processing_seconds", "events", "dead_letters",
        "graph_calls", "graph_retries", "graph_throttle_wait_seconds", "avatar_downloads", "avatar_downloaded_bytes",
        "ready",
    ):  # fmt: skip
        assert re.search(rf"^# TYPE kutamo_provisioning_{name}(_total)? ", metrics, re.MULTILINE), name
    assert "process_resident_memory_bytes" in metrics
    assert 'kutamo_provisioning_events_total{outcome="created"}' in metrics
