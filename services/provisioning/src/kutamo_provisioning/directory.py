"""Lifecycle events from the customer's directory (SCIM), applied to user records.

Each event carries the user's whole directory state and a per-user version: it is applied only when
newer than the version the record holds (stale-safe) and only once (processed_events, idempotent).
Sign-in events never change `active`, and are ignored for a deleted user, so the two topics may
interleave in any order without bringing a leaver back. Deleting removes the personal data (name,
email, title, avatar) and keeps a tombstone with the identifiers; the avatar's bytes go too unless
another user has the same picture.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg
from aiokafka import ConsumerRecord

from kutamo_contracts.envelope import EnvelopeError, decode_record
from kutamo_contracts.events import UserLifecycleChanged
from kutamo_contracts.topics import USER_LIFECYCLE
from kutamo_provisioning import users
from kutamo_provisioning.errors import MalformedEvent, ProcessingFailed, ProvisioningError
from kutamo_provisioning.tenancy import worker_transaction

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

_UPSERT = """
    insert into users (user_id, tenant_id, azure_tid, azure_oid, name, email, title, signed_in_at, source_event_id,
                       created_at, updated_at, active, deleted_at, directory_version, directory_changed_at)
    values ($1, $2, $3, $4, $5, $6, $7, null, $8, $9, $9, $10, null, $11, $12)
    on conflict (user_id) do update set
        name = coalesce(excluded.name, users.name), email = coalesce(excluded.email, users.email),
        title = coalesce(excluded.title, users.title), active = excluded.active, deleted_at = null,
        directory_version = excluded.directory_version, directory_changed_at = excluded.directory_changed_at,
        updated_at = excluded.updated_at
    where users.directory_version < excluded.directory_version
"""
_TOMBSTONE = """
    insert into users (user_id, tenant_id, azure_tid, azure_oid, signed_in_at, source_event_id, created_at, updated_at,
                       active, deleted_at, directory_version, directory_changed_at)
    values ($1, $2, $3, $4, null, $5, $6, $6, false, $7, $8, $7)
    on conflict (user_id) do update set
        name = null, email = null, title = null, avatar_sha256 = null, profile_refreshed_at = null, active = false,
        deleted_at = excluded.deleted_at, directory_version = excluded.directory_version,
        directory_changed_at = excluded.directory_changed_at, updated_at = excluded.updated_at
    where users.directory_version < excluded.directory_version
"""


def decode(record: Record) -> UserLifecycleChanged:
    try:
        return decode_record(USER_LIFECYCLE, UserLifecycleChanged, record.headers, record.value)
    except EnvelopeError as exc:
        raise MalformedEvent(str(exc)) from exc


async def process(
    pool: asyncpg.Pool, records: Sequence[Record], now: datetime
) -> tuple[list[tuple[Record, ProvisioningError]], list[users.Outcome]]:
    """Apply the records in offset order, in one transaction; malformed ones are returned to dead-letter."""
    failed: list[tuple[Record, ProvisioningError]] = []
    events: list[UserLifecycleChanged] = []
    for record in records:
        try:
            events.append(decode(record))
        except MalformedEvent as exc:
            failed.append((record, exc))
        except Exception as exc:  # decoding is deterministic: retrying would change nothing
            failed.append((record, ProcessingFailed(exc)))
    if not events:
        return failed, []
    async with worker_transaction(pool) as conn:
        outcomes = [await apply(conn, event, now) for event in events]
    return failed, outcomes


async def apply(conn: asyncpg.Connection, event: UserLifecycleChanged, now: datetime) -> users.Outcome:
    fresh = await conn.fetchval(
        "insert into processed_events (event_id, outcome, processed_at, tenant_id, user_id)"
        " values ($1, $2, $3, $4, $5) on conflict (event_id) do nothing returning event_id",
        uuid.UUID(event.event_id), f"directory_{event.change}", now, uuid.UUID(event.tenant_id),
        uuid.UUID(event.user_id),
    )  # fmt: skip
    if fresh is None:
        return users.Outcome(change="duplicate")
    ids = (uuid.UUID(event.user_id), uuid.UUID(event.tenant_id), uuid.UUID(event.azure_tid), uuid.UUID(event.azure_oid))
    avatar = await conn.fetchval("select avatar_sha256 from users where user_id = $1 for update", ids[0])
    if event.change == "deleted":
        status = await conn.execute(_TOMBSTONE, *ids, uuid.UUID(event.event_id), now, event.changed_at, event.version)
        if avatar is not None:
            await conn.execute(
                "delete from avatars a where a.tenant_id = $2 and a.sha256 = $1"
                " and not exists (select from users u where u.tenant_id = $2 and u.avatar_sha256 = $1)",
                avatar,
                ids[1],
            )
    else:
        status = await conn.execute(
            _UPSERT, *ids, event.name, event.email, event.title, uuid.UUID(event.event_id), now, event.active,
            event.version, event.changed_at,
        )  # fmt: skip
    if status.endswith(" 0"):
        await conn.execute(
            "update processed_events set outcome = 'stale' where event_id = $1", uuid.UUID(event.event_id)
        )
        return users.Outcome(change="stale")
    return users.Outcome(change="created" if event.change == "created" else "updated")
