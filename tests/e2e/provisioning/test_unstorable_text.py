"""Text PostgreSQL cannot store (a NUL character) in a name, email or title, from the id_token or from
Graph, is cleaned, not fatal: the sign-in is applied and the partition keeps moving."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from kutamo_dev import stack as dev_stack
from tests.e2e.provisioning import kit
from tests.support.microsoft import Emulator


async def test_nul_characters_from_claims_or_graph_are_dropped_and_the_sign_ins_applied(
    stack: dev_stack.Stack, base_env: dict[str, str], topic: str, wdb: asyncpg.Connection, worker_logs: Path,
    microsoft: Emulator,
) -> None:  # fmt: skip
    tid = str(uuid.uuid4())
    person = await microsoft.add_user(tid, name="Lynne\x00 Robbins", mail="lynne@contoso.com", title="Plan\x00ner")
    tokens = await microsoft.tokens(tid, person["oid"], str(uuid.uuid4()))
    from_graph, from_claims = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    events = [
        kit.sign_in(from_graph, now, oid=person["oid"], tid=tid,
                    token=kit.sealing(stack.sealing_key, tokens["access_token"])),
        kit.sign_in(from_claims, now, name="Diego\x00 Siciliani", email="diego\x00@contoso.com"),
        kit.sign_in(from_claims, now + timedelta(seconds=1), name="Diego Siciliani", email="diego@contoso.com"),
    ]  # fmt: skip
    worker = kit.start_worker(base_env, worker_logs, "unstorable-text")
    try:
        await kit.publish(stack.kafka.bootstrap_servers, topic, events)
        await kit.until(lambda: _all_applied(wdb, events), what="every sign-in applied")
    finally:
        worker.stop()

    rows = {
        str(r["user_id"]): (r["name"], r["email"], r["title"])
        for r in await wdb.fetch("select user_id, name, email, title from users where user_id = any($1)",
                                 [uuid.UUID(from_graph), uuid.UUID(from_claims)])
    }  # fmt: skip
    assert rows[from_graph] == ("Lynne Robbins", "lynne@contoso.com", "Planner")
    assert rows[from_claims] == ("Diego Siciliani", "diego@contoso.com", None)


async def _all_applied(db: asyncpg.Connection, events: list[kit.UserSignedIn]) -> bool:
    ids = [uuid.UUID(e.event_id) for e in events]
    return await kit.count(db, "select count(*) from processed_events where event_id = any($1)", ids) == len(events)
