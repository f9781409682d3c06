"""Operators see the pipeline: the summary behind /ops, and metrics that move with what happens."""

import json
import subprocess
import sys
import time
import uuid

import httpx
from aiokafka import AIOKafkaProducer

from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from tests.conftest import CONSUMER_GROUP, OPERATOR_KEY
from tests.e2e.conftest import eventually, provisioned_user
from tests.e2e.operations.scrape import metrics, total
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


async def test_the_pipeline_summary_needs_an_operator_key(http: httpx.AsyncClient, identity: ServiceProcess) -> None:
    assert (await http.get(f"{identity.url}/ops/summary")).json()["code"] == "api_key_required"
    page = await http.get(f"{identity.url}/ops")
    assert page.status_code == 200
    assert "pipeline" in page.text


async def test_the_pipeline_summary_shows_every_stage(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, tenant: Tenant, microsoft: Emulator
) -> None:
    person = await microsoft.add_user(tenant.directory_id, name="Ops", mail="ops@contoso.com", title="SRE")
    signed_in = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()
    await provisioned_user(http, provisioning, signed_in["user_id"], signed_in["session_token"], title="SRE")

    summary = (await http.get(f"{identity.url}/ops/summary", headers=OPERATOR)).json()

    ours = next(t for t in summary["sign_ins"] if t["tenant_id"] == tenant.tenant_id)
    assert ours["ok_last_15_minutes"] >= 1
    assert summary["outbox"]["available"] is True
    assert summary["consumer"]["group"] == CONSUMER_GROUP
    assert len(summary["consumer"]["partitions"]) == USER_SIGNED_IN.partitions
    assert summary["dead_letters"]["available"] is True
    assert summary["graph"]["available"] is True
    assert any(key.startswith("me ") for key in summary["graph"]["calls_by_endpoint_and_status"])


async def test_metrics_move_through_sign_ins_a_refusal_graph_throttling_and_a_dead_letter(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
    stack: dev_stack.Stack,
) -> None:
    before_identity = await metrics(http, identity.url)
    before_worker = await metrics(http, provisioning.url)
    person = await microsoft.add_user(tenant.directory_id, name="Metric", mail="m@contoso.com", title="Analyst")
    ok = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()
    await provisioned_user(http, provisioning, ok["user_id"], ok["session_token"], title="Analyst")
    expired = await sign_in(http, identity, microsoft, tenant, person["oid"], issued_at=int(time.time()) - 7200)
    throttle = {"endpoint": "me", "status": 429, "retry_after": 1, "tid": tenant.directory_id, "oid": person["oid"]}
    await http.post(f"{microsoft.url}/_emulator/faults", json=throttle)
    await microsoft.add_user(tenant.directory_id, name="Metric", mail="m@contoso.com", title="Lead", oid=person["oid"])
    throttled = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()
    await provisioned_user(http, provisioning, throttled["user_id"], throttled["session_token"], title="Lead")
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(USER_SIGNED_IN.name, b"not an event", key=b"metrics-test")
    finally:
        await producer.stop()

    async def dead_lettered() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        now = await metrics(http, provisioning.url)
        grew = total(now, "kutamo_provisioning_dead_letters_total") > total(
            before_worker, "kutamo_provisioning_dead_letters_total"
        )
        return now if grew else None

    after_worker = await eventually(dead_lettered, what="a dead letter in the worker's metrics")
    after_identity = await metrics(http, identity.url)

    def grew(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
        return total(after, name, **labels) - total(before, name, **labels)

    tenant_label = {"tenant_id": tenant.tenant_id}
    assert grew(before_identity, after_identity, "kutamo_identity_sign_ins_total", result="ok", **tenant_label) == 2
    assert grew(before_identity, after_identity, "kutamo_identity_sign_ins_total", result="token_expired",
                **tenant_label) == 1  # fmt: skip
    assert expired.status_code == 401
    assert grew(before_identity, after_identity, "kutamo_identity_token_validation_seconds_count") >= 2
    assert grew(before_identity, after_identity, "kutamo_identity_relay_published_total") >= 2
    assert grew(before_worker, after_worker, "kutamo_provisioning_graph_calls_total", endpoint="me", status="429") == 1
    assert grew(before_worker, after_worker, "kutamo_provisioning_graph_throttle_wait_seconds_total") >= 1
    assert grew(before_worker, after_worker, "kutamo_provisioning_dead_letters_total", reason="malformed_event") == 1
    assert total(after_identity, "process_resident_memory_bytes") > 0


def test_ops_status_prints_the_same_summary_in_a_terminal(identity: ServiceProcess) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kutamo_identity", "ops", "status"],
        env=identity.env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip

    for heading in ("Sign-ins", "Outbox", "Provisioning consumer lag", "Dead letters", "Microsoft Graph"):
        assert heading in done.stdout
    assert f"group {CONSUMER_GROUP}:" in done.stdout
    assert "UNAVAILABLE" not in done.stdout.split("Microsoft Graph")[0]


async def test_one_sign_in_can_be_followed_by_its_trace_id_through_both_services(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, tenant: Tenant, microsoft: Emulator
) -> None:
    trace_id = uuid.uuid4().hex
    person = await microsoft.add_user(tenant.directory_id, name="Traced", mail="t@contoso.com", title="Followed")
    page = (await http.get(f"{identity.url}/v1/login/{tenant.login_code}")).json()
    tokens = await microsoft.tokens(tenant.directory_id, person["oid"], tenant.application_id, nonce=page["nonce"])
    response = await http.post(
        f"{identity.url}/v1/sign-ins",
        json={"login_code": tenant.login_code, "id_token": tokens["id_token"], "nonce": page["nonce"]},
        headers={"traceparent": f"00-{trace_id}-{'1' * 16}-01", "X-Request-Id": "frontend-req-42"},
    )
    signed_in = response.json()
    await provisioned_user(http, provisioning, signed_in["user_id"], signed_in["session_token"], title=None)

    def lines(service: ServiceProcess) -> list[dict[str, object]]:
        return [json.loads(line) for line in service.log_path.read_text().splitlines() if trace_id in line]

    assert response.headers["X-Request-Id"] == "frontend-req-42"
    accepted = [line for line in lines(identity) if line["msg"] == "sign-in accepted"]
    assert accepted[0]["request_id"] == "frontend-req-42"
    assert accepted[0]["event_id"] == signed_in["event_id"]
    # One line per sign-in: the access line says what the request did (it used to be a line of its own too).
    # (The request's other lines here are debug ones and the first fetch of the directory's signing keys.)
    assert len(accepted) == 1
    assert (accepted[0]["logger"], accepted[0]["path"], accepted[0]["status"]) == (
        "kutamo_identity.access",
        "/v1/sign-ins",
        201,
    )
    access = [line for line in lines(identity) if line["logger"] == "kutamo_identity.access"]
    assert [line["request_id"] for line in access] == ["frontend-req-42"]

    async def applied() -> dict[str, object] | None:
        found = [line for line in lines(provisioning) if line["msg"] == "sign-in applied"]
        return found[0] if found else None

    line = await eventually(applied, what="the worker's log line for the traced sign-in")
    assert (line["event_id"], line["user_id"]) == (signed_in["event_id"], signed_in["user_id"])
