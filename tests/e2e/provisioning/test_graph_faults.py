"""Each way Microsoft Graph misbehaves has a documented outcome (docs/decisions/0003-provisioning-worker.md)."""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit
from tests.support.microsoft import Emulator


class Scene:
    def __init__(self, stack: dev_stack.Stack, topic: str, worker: kit.Worker, microsoft: Emulator) -> None:
        self.stack, self.topic, self.worker, self.microsoft = stack, topic, worker, microsoft
        self.http = microsoft.http

    async def fault(self, person: dict[str, Any], **fault: Any) -> None:
        """A fault for this person's Graph calls only: other tests' people on the shared emulator never see it."""
        scoped = {**fault, "tid": person["tid"], "oid": person["oid"]}
        response = await self.http.post(f"{self.microsoft.url}/_emulator/faults", json=scoped)
        response.raise_for_status()

    async def person(self, title: str = "Engineer", **token_options: Any) -> tuple[dict[str, Any], str]:
        tid = str(uuid.uuid4())
        person = await self.microsoft.add_user(tid, name="Diego Siciliani", mail="diego@contoso.com", title=title)
        tokens = await self.microsoft.tokens(tid, person["oid"], str(uuid.uuid4()), **token_options)
        return person, tokens["access_token"]

    def event(self, user_id: str, person: dict[str, Any], token: str, *, at: datetime | None = None,
              valid_for: timedelta = timedelta(minutes=10), name: str = "Diego S") -> kit.UserSignedIn:  # fmt: skip
        sealed = kit.sealing(self.stack.sealing_key, token, valid_for)
        return kit.sign_in(user_id, at or datetime.now(UTC), name=name, email="diego@id-token.example",
                           oid=person["oid"], tid=person["tid"], token=sealed)  # fmt: skip

    async def provision(self, event: kit.UserSignedIn) -> dict[str, Any]:
        await kit.publish(self.stack.kafka.bootstrap_servers, self.topic, [event])

        async def probe() -> dict[str, Any] | None:
            response = await self.http.get(
                f"{self.worker.url}/v1/users/{event.user_id}", headers={"Authorization": f"Bearer {kit.OPERATOR_KEY}"}
            )
            record: dict[str, Any] = response.json()
            return record if response.status_code == 200 and record["signed_in_at"] == _iso(event) else None

        found: dict[str, Any] = await kit.until(probe, what=f"provisioning of {event.user_id}")
        return found

    async def metric(self, name: str, **labels: str) -> float:
        return await kit.metric(self.http, self.worker, name, **labels)


def _iso(event: kit.UserSignedIn) -> str:
    return event.signed_in_at.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def faults_worker(
    stack: dev_stack.Stack, worker_db: str, emulator_url: str, logs_dir: Path
) -> Iterator[tuple[str, kit.Worker]]:
    import asyncio  # noqa: PLC0415 - a module-scoped sync fixture runs its own short loop

    topic = asyncio.run(kit.create_topic(stack.kafka.bootstrap_servers))
    env = kit.worker_env(
        {
            "DATABASE_URL": worker_db, "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "TOKEN_SEALING_KEY": stack.sealing_key, "GRAPH_BASE_URL": emulator_url,
            "IDENTITY_BASE_URL": "http://127.0.0.1:9", "KAFKA_SIGNED_IN_TOPIC": topic,
            "KAFKA_CONSUMER_GROUP": f"kutamo-test-{uuid.uuid4().hex[:8]}", "GRAPH_TIMEOUT_SECONDS": "1",
        }
    )  # fmt: skip
    (logs_dir / "workers").mkdir(exist_ok=True)
    worker = kit.start_worker(env, logs_dir / "workers", "graph-faults")
    yield topic, worker
    worker.stop()


@pytest.fixture
def scene(stack: dev_stack.Stack, faults_worker: tuple[str, kit.Worker], microsoft: Emulator) -> Scene:
    return Scene(stack, faults_worker[0], faults_worker[1], microsoft)


async def test_a_person_without_a_photo_gets_no_avatar_and_that_is_not_a_failure(scene: Scene) -> None:
    person, token = await scene.person(title="Buyer")
    await scene.fault(person, endpoint="photo", status=404)

    user = await scene.provision(scene.event(str(uuid.uuid4()), person, token))

    assert (user["title"], user["avatar_url"]) == ("Buyer", None)
    assert user["profile"]["refreshed"] is True


async def test_throttling_waits_as_long_as_graph_asks_then_provisions(scene: Scene) -> None:
    person, token = await scene.person(title="Planner")
    waited = await scene.metric("kutamo_provisioning_graph_throttle_wait_seconds_total", endpoint="me")
    await scene.fault(person, endpoint="me", status=429, retry_after=1)
    started = time.monotonic()

    user = await scene.provision(scene.event(str(uuid.uuid4()), person, token))

    assert user["title"] == "Planner"
    assert time.monotonic() - started >= 1.0
    assert await scene.metric("kutamo_provisioning_graph_throttle_wait_seconds_total", endpoint="me") == waited + 1
    assert await scene.metric("kutamo_provisioning_graph_calls_total", endpoint="me", status="429") >= 1


async def test_a_server_error_is_retried_and_the_person_still_gets_their_avatar(scene: Scene) -> None:
    person, token = await scene.person(title="Designer")
    retries = await scene.metric("kutamo_provisioning_graph_retries_total", endpoint="photo")
    await scene.fault(person, endpoint="photo", status=500, times=2)

    user = await scene.provision(scene.event(str(uuid.uuid4()), person, token))

    assert user["title"] == "Designer"
    assert user["avatar_url"] is not None
    assert await scene.metric("kutamo_provisioning_graph_retries_total", endpoint="photo") == retries + 2


async def test_an_answer_slower_than_the_timeout_is_retried(scene: Scene) -> None:
    person, token = await scene.person(title="Analyst")
    await scene.fault(person, endpoint="me", status=200, delay_seconds=2.5)

    user = await scene.provision(scene.event(str(uuid.uuid4()), person, token))

    assert user["title"] == "Analyst"
    assert await scene.metric("kutamo_provisioning_graph_calls_total", endpoint="me", status="timeout") >= 1


async def test_an_expired_or_refused_token_provisions_from_the_id_token_and_keeps_title_and_avatar(
    scene: Scene,
) -> None:
    person, token = await scene.person(title="Engineer")
    user_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    first = await scene.provision(scene.event(user_id, person, token, at=now, name="Diego"))
    assert first["title"] == "Engineer"
    assert first["avatar_url"] is not None

    expired = scene.event(user_id, person, token, at=now + timedelta(seconds=1), valid_for=timedelta(seconds=-1),
                          name="Diego Siciliani (id_token)")  # fmt: skip
    second = await scene.provision(expired)

    assert second["name"] == "Diego Siciliani (id_token)"
    assert (second["title"], second["avatar_url"]) == ("Engineer", first["avatar_url"])
    assert second["profile"]["refreshed"] is False
    assert second["profile"]["not_refreshed_reason"] == "graph_token_expired"

    # Sealed as valid, but Microsoft says the token is expired (401).
    _, stale_token = await scene.person(issued_at=int(time.time()) - 7200, access_token_lifetime_seconds=3600)
    refused = scene.event(user_id, person, stale_token, at=now + timedelta(seconds=2), name="Diego S.")
    third = await scene.provision(refused)

    assert (third["name"], third["title"]) == ("Diego S.", "Engineer")
    assert third["profile"]["not_refreshed_reason"] == "graph_token_refused"
    assert await scene.metric("kutamo_provisioning_graph_calls_total", endpoint="me", status="401") >= 1


async def test_graph_that_keeps_failing_does_not_hold_up_the_next_sign_ins(
    scene: Scene, http: httpx.AsyncClient
) -> None:
    person, token = await scene.person(title="Counsel")
    await scene.fault(person, endpoint="me", status=503, times=4)
    async with kit.DeadLetterWatch(scene.stack.kafka.bootstrap_servers) as watch:
        await kit.publish(
            scene.stack.kafka.bootstrap_servers, scene.topic, [scene.event(str(uuid.uuid4()), person, token)]
        )
        (letter,) = await watch.wait_for(scene.topic, 1)
    assert dict(letter.headers)["dlq_reason"] == b"graph_unavailable"

    user = await scene.provision(scene.event(str(uuid.uuid4()), person, token))
    assert user["title"] == "Counsel"
