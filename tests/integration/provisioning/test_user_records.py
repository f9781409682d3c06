"""User records on the real PostgreSQL: applied once per event, never overwritten by an older sign-in."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kutamo_contracts.events import UserSignedIn
from kutamo_provisioning import db as worker_db
from kutamo_provisioning import users
from tests.support.databases import as_provisioning

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    # As the worker's login role, in the worker's own context (every tenant), as its batches run.
    connection = await asyncpg.connect(as_provisioning(database_url), server_settings={"search_path": "provisioning"})
    await worker_db.migrate(connection)
    await connection.execute("select set_config('kutamo.all_tenants', 'on', false)")
    yield connection
    await connection.close()


def sign_in(user_id: str, at: datetime, name: str = "Adele") -> UserSignedIn:
    return UserSignedIn(
        event_id=str(uuid.uuid4()),
        tenant_id="00000000-0000-4000-8000-000000000001",
        user_id=user_id,
        azure_tid=str(uuid.uuid4()),
        azure_oid=str(uuid.uuid4()),
        signed_in_at=at,
        login_code="contoso",
        name=name,
        email=f"{name.lower()}@contoso.com",
    )


def item(event: UserSignedIn, title: str | None = None) -> users.Item:
    known = title is not None
    return users.Item(event, users.Details(name=event.name, email=event.email, title=title, title_known=known))


async def apply(conn: asyncpg.Connection, event: UserSignedIn, title: str | None = None) -> users.Outcome:
    async with conn.transaction():
        (outcome,) = await users.apply_batch(conn, [item(event, title)], T0)
    return outcome


async def apply_batch(conn: asyncpg.Connection, items: list[users.Item]) -> list[users.Outcome]:
    async with conn.transaction():
        return await users.apply_batch(conn, items, T0)


async def test_the_same_event_twice_leaves_one_user_and_one_processed_event(conn: asyncpg.Connection) -> None:
    user_id = str(uuid.uuid4())
    event = sign_in(user_id, T0)

    first = await apply(conn, event, title="Engineer")
    again = await apply(conn, event, title="Engineer")

    assert (first.change, again.change) == ("created", "duplicate")
    assert await conn.fetchval("select count(*) from users where user_id = $1", uuid.UUID(user_id)) == 1
    assert (
        await conn.fetchval("select count(*) from processed_events where event_id = $1", uuid.UUID(event.event_id)) == 1
    )


async def test_an_older_sign_in_applied_late_does_not_overwrite_newer_data(conn: asyncpg.Connection) -> None:
    user_id = str(uuid.uuid4())
    await apply(conn, sign_in(user_id, T0 + timedelta(minutes=5), name="Adele Vance"), title="Director")

    late = await apply(conn, sign_in(user_id, T0, name="Adele"), title="Intern")

    assert late.change == "stale"
    row = await conn.fetchrow("select name, title from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["title"]) == ("Adele Vance", "Director")


async def test_a_sign_in_without_graph_data_keeps_the_known_title(conn: asyncpg.Connection) -> None:
    user_id = str(uuid.uuid4())
    await apply(conn, sign_in(user_id, T0), title="Engineer")

    later = await apply(conn, sign_in(user_id, T0 + timedelta(hours=1), name="Adele V"), title=None)

    assert later.change == "updated"
    assert later.changed_fields == ["name", "email"]
    row = await conn.fetchrow("select name, title from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["title"]) == ("Adele V", "Engineer")


async def test_the_same_event_twice_in_one_batch_is_applied_once(conn: asyncpg.Connection) -> None:
    event = sign_in(str(uuid.uuid4()), T0)

    outcomes = await apply_batch(conn, [item(event, "Engineer"), item(event, "Engineer")])

    assert [o.change for o in outcomes] == ["created", "duplicate"]


async def test_a_batch_with_several_sign_ins_of_one_user_applies_them_in_order(conn: asyncpg.Connection) -> None:
    user_id = str(uuid.uuid4())
    first = sign_in(user_id, T0, name="Adele")
    second = sign_in(user_id, T0 + timedelta(minutes=1), name="Adele Vance")
    late = sign_in(user_id, T0 - timedelta(minutes=1), name="A. Vance")

    outcomes = await apply_batch(conn, [item(first, "Engineer"), item(second), item(late, "Intern")])

    assert [o.change for o in outcomes] == ["created", "updated", "stale"]
    assert outcomes[1].changed_fields == ["name", "email"]
    row = await conn.fetchrow("select name, title, source_event_id from users where user_id = $1", uuid.UUID(user_id))
    assert (row["name"], row["title"], str(row["source_event_id"])) == ("Adele Vance", "Engineer", second.event_id)
    outcome = await conn.fetchval("select outcome from processed_events where event_id = $1", uuid.UUID(late.event_id))
    assert outcome == "stale"


async def test_a_sign_in_whose_profile_was_not_refreshed_says_why(conn: asyncpg.Connection) -> None:
    user_id = str(uuid.uuid4())
    await apply(conn, sign_in(user_id, T0), title="Engineer")
    later = sign_in(user_id, T0 + timedelta(hours=1))
    details = users.Details(name=later.name, email=later.email, not_refreshed_reason="graph_token_expired")

    await apply_batch(conn, [users.Item(later, details)])

    row = await conn.fetchrow(
        "select title, profile_refreshed, not_refreshed_reason from users where user_id = $1", uuid.UUID(user_id)
    )
    assert tuple(row) == ("Engineer", False, "graph_token_expired")
