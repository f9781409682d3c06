"""A message the worker cannot apply ends in the dead-letter topic with its reason, the partition moves
on, and an operator can replay it once the cause is fixed."""

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit
from tests.support.microsoft import Emulator


def operator_command(stack: dev_stack.Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "kutamo_provisioning", "dead-letters", *args],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip


async def test_malformed_and_still_failing_messages_are_dead_lettered_with_their_reason_and_later_ones_applied(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
    microsoft: Emulator, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    tid = str(uuid.uuid4())
    person = await microsoft.add_user(tid, name="Isaiah Langer", mail="isaiah@contoso.com", title="Sales Rep")
    tokens = await microsoft.tokens(tid, person["oid"], str(uuid.uuid4()))
    user_id = str(uuid.uuid4())
    sealed = kit.sealing(stack.sealing_key, tokens["access_token"])
    failing = kit.sign_in(
        user_id,
        datetime.now(UTC) + timedelta(minutes=1),
        name="Isaiah Langer",
        oid=person["oid"],
        tid=tid,
        token=sealed,
    )
    # Same user, so the same partition, behind both; it signed in a moment earlier than the failing one.
    later = kit.sign_in(user_id, datetime.now(UTC), name="Isaiah L.")
    await http.post(f"{microsoft.url}/_emulator/faults", json={"endpoint": "me", "status": 500, "times": 4, "tid": tid})
    worker = kit.start_worker(base_env, worker_logs, "dead-letters")
    try:
        async with kit.DeadLetterWatch(bootstrap) as watch:
            ce = [("ce_specversion", b"1.0"), ("ce_type", USER_SIGNED_IN.event_type.encode())]
            await kit.publish_raw(bootstrap, topic, user_id.encode(), b'{"not": "an event"', ce)
            await kit.publish(bootstrap, topic, [failing])
            await kit.publish(bootstrap, topic, [later])
            letters = await watch.wait_for(topic, 2)
        await kit.until(lambda: _applied(wdb, later), what="the later sign-in")
    finally:
        worker.stop()
        await http.delete(f"{microsoft.url}/_emulator/faults", params={"tid": tid})

    malformed, graph_failed = (dict(r.headers) for r in letters)
    assert malformed["dlq_reason"] == b"malformed_event"
    assert malformed["dlq_error_class"] == b"MalformedEvent"
    assert malformed["dlq_error_message"]  # the decoder's sentence, e.g. which header or field is wrong
    assert graph_failed["dlq_reason"] == b"graph_unavailable"
    assert graph_failed["dlq_error_class"] == b"GraphFailed"
    assert graph_failed["dlq_attempts"] == b"4"
    assert graph_failed["dlq_original_topic"] == topic.encode()
    assert int(graph_failed["dlq_original_offset"]) == int(malformed["dlq_original_offset"]) + 1
    assert datetime.fromisoformat(graph_failed["dlq_failed_at"].decode()).tzinfo is not None
    assert json.loads(letters[1].value)["value"] == kit.encoded(failing).decode()  # kept whole for replay
    assert b"access_token" not in letters[1].value
    assert tokens["access_token"].encode() not in letters[1].value
    row = await wdb.fetchrow("select name, title from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["title"]) == ("Isaiah L.", None)

    # Graph is healthy again: the operator lists the dead letters and replays the one that failed.
    listed = [json.loads(line) for line in operator_command(stack, "list").stdout.splitlines()]
    mine = next(entry for entry in listed if entry["original_offset"] == int(graph_failed["dlq_original_offset"])
                and entry["topic"] == topic)  # fmt: skip
    assert mine["reason"] == "graph_unavailable"
    replayed = operator_command(stack, "replay", "--offset", str(mine["offset"]))
    assert json.loads(replayed.stdout) == {"replayed_offsets": [mine["offset"]]}

    again = kit.start_worker(base_env, worker_logs, "dead-letters-replayed")
    try:
        await kit.until(lambda: _applied(wdb, failing), what="the replayed sign-in")
    finally:
        again.stop()
    row = await wdb.fetchrow("select name, title, avatar_sha256 from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["title"]) == ("Isaiah Langer", "Sales Rep")
    assert row["avatar_sha256"] is not None


async def _applied(db: asyncpg.Connection, event: kit.UserSignedIn) -> bool:
    found = await db.fetchval("select 1 from processed_events where event_id = $1", uuid.UUID(event.event_id))
    return found is not None
