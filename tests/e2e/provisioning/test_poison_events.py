"""An event whose processing raises something unexpected is isolated from its batch: retried a few times,
then dead-lettered with the exception's class and message; the rest of the batch is applied and the
partition moves on (the consumer group's lag returns to zero, the consumer never restarts).

Two poisons share one partition and one batch with good sign-ins: a Graph access token that is not
ASCII (sealed into the event straight on Kafka, as the API now refuses it), which makes the Graph call
raise before any request is sent; and a sign-in PostgreSQL refuses only inside the batch's transaction
(a trigger the test installs stands in for any value the database turns down).
"""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from kutamo_dev import stack as dev_stack
from kutamo_provisioning import db as worker_schema
from tests.e2e.provisioning import kit
from tests.support.microsoft import Emulator

NOT_ASCII_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJww6lyw6kifQ.c2lnbmF0dXLDqQ-é"
REFUSED_NAME = "Refused By The Database"
_REFUSING_TRIGGER = f"""
create function refuse_poison() returns trigger language plpgsql as $$
begin
  if new.name = '{REFUSED_NAME}' then
    raise exception 'this sign-in is refused by the test trigger';
  end if;
  return new;
end $$;
create trigger refuse_poison before insert or update on users for each row execute function refuse_poison();
"""


async def test_poison_events_are_dead_lettered_with_their_cause_and_the_rest_of_the_batch_is_applied(
    stack: dev_stack.Stack, base_env: dict[str, str], wdb: asyncpg.Connection, worker_logs: Path,
    microsoft: Emulator,
) -> None:  # fmt: skip
    bootstrap = stack.kafka.bootstrap_servers
    topic = await kit.create_topic(bootstrap, partitions=1)
    env = {**base_env, "KAFKA_SIGNED_IN_TOPIC": topic}
    await worker_schema.migrate(wdb)
    await wdb.execute(_REFUSING_TRIGGER)
    tid = str(uuid.uuid4())
    person = await microsoft.add_user(tid, name="Alex Wilber", mail="alex@contoso.com", title="Marketing Assistant")
    graph_token = (await microsoft.tokens(tid, person["oid"], str(uuid.uuid4())))["access_token"]
    now = datetime.now(UTC)
    first = kit.sign_in(str(uuid.uuid4()), now, name="Adele Vance")
    not_ascii = kit.sign_in(str(uuid.uuid4()), now, name="Bianca Pisani",
                            token=kit.sealing(stack.sealing_key, NOT_ASCII_TOKEN))  # fmt: skip
    with_graph = kit.sign_in(str(uuid.uuid4()), now, name="Alex W.", oid=person["oid"], tid=tid,
                             token=kit.sealing(stack.sealing_key, graph_token))  # fmt: skip
    refused = kit.sign_in(str(uuid.uuid4()), now, name=REFUSED_NAME)
    last = kit.sign_in(str(uuid.uuid4()), now + timedelta(seconds=1), name="Megan Bowen")
    events = [first, not_ascii, with_graph, refused, last]
    await kit.publish(bootstrap, topic, events)  # before the worker starts: one partition, one batch

    async with kit.DeadLetterWatch(bootstrap) as watch:
        worker = kit.start_worker(env, worker_logs, f"poison-events-{uuid.uuid4().hex[:6]}")
        try:
            letters = {dict(r.headers)["dlq_original_offset"]: r for r in await watch.wait_for(topic, 2, within=60)}
            await kit.until(lambda: _applied(wdb, [first, with_graph, last]), what="the good sign-ins applied")
            await kit.until(lambda: _no_lag(bootstrap, env["KAFKA_CONSUMER_GROUP"], topic), what="lag back to 0")
        finally:
            worker.stop()

    graph_letter, db_letter = dict(letters[b"1"].headers), dict(letters[b"3"].headers)
    assert graph_letter["dlq_reason"] == b"processing_failed"
    assert graph_letter["dlq_error_class"] == b"UnicodeEncodeError"
    assert b"ascii" in graph_letter["dlq_error_message"]
    assert graph_letter["dlq_attempts"] == b"3"
    assert db_letter["dlq_reason"] == b"processing_failed"
    assert db_letter["dlq_error_class"] == b"RaiseError"
    assert b"refused by the test trigger" in db_letter["dlq_error_message"]
    assert db_letter["dlq_attempts"] == b"3"
    for record in letters.values():  # the clear token is nowhere, sealed or not
        assert NOT_ASCII_TOKEN.encode() not in record.value
        assert all(NOT_ASCII_TOKEN.encode() not in value for _, value in record.headers)

    names = {r["name"] for r in await wdb.fetch("select name from users where user_id = any($1)",
                                                [uuid.UUID(e.user_id) for e in events])}  # fmt: skip
    assert names == {"Adele Vance", "Alex Wilber", "Megan Bowen"}
    title = await wdb.fetchval("select title from users where user_id = $1", uuid.UUID(with_graph.user_id))
    assert title == "Marketing Assistant", "Graph was read for the good event of the same batch"
    assert "stopped; restarting" not in worker.log_path.read_text(errors="replace"), "the consumer never restarted"


async def _applied(db: asyncpg.Connection, events: list[kit.UserSignedIn]) -> bool:
    ids = [uuid.UUID(e.event_id) for e in events]
    return await kit.count(db, "select count(*) from processed_events where event_id = any($1)", ids) == len(events)


async def _no_lag(bootstrap: str, group: str, topic: str) -> bool:
    return await kit.group_lag(bootstrap, group, topic, partitions=1) == 0
