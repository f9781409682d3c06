"""User records, a batch at a time: idempotent by event id, and an older sign-in never overwrites newer data.

A batch is applied as if its events were applied one by one in arrival order, in one transaction:
the users' rows are locked, each event is checked against the state the previous ones left, and one
multi-row upsert writes each user's final state, guarded by `signed_in_at` in the statement itself.
"""

from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from kutamo_contracts.events import UserSignedIn

Change = Literal["created", "updated", "unchanged", "stale", "duplicate", "erased"]
FIELDS = ("name", "email", "title", "avatar_sha256")
COLUMNS = (
    "user_id", "tenant_id", "azure_tid", "azure_oid", "name", "email", "title", "avatar_sha256", "signed_in_at",
    "source_event_id", "profile_refreshed", "not_refreshed_reason", "profile_refreshed_at", "created_at", "updated_at",
    "email_source", "email_verified",
)  # fmt: skip
_TYPES = (
    "uuid", "uuid", "uuid", "uuid", "text", "text", "text", "text", "timestamptz",
    "uuid", "bool", "text", "timestamptz", "timestamptz", "timestamptz",
    "text", "bool",
)  # fmt: skip
_KEPT_ON_CONFLICT = {"user_id", "created_at"}
# The batch travels as one JSON document, unpacked by PostgreSQL: far cheaper than binding an array
# per column, element by element.
_UPSERT = (
    f"insert into users ({', '.join(COLUMNS)}) select {', '.join(COLUMNS)} from jsonb_to_recordset($1::jsonb)"  # noqa: S608
    + f" as x({', '.join(f'{c} {t}' for c, t in zip(COLUMNS, _TYPES, strict=True))})"
    + " on conflict (user_id) do update set "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in _KEPT_ON_CONFLICT)
    + " where users.deleted_at is null and (users.signed_in_at is null or users.signed_in_at < excluded.signed_in_at)"
    + " returning user_id"
)
_encoder = msgspec.json.Encoder(enc_hook=str)
Record = dict[str, Any]


class Details(msgspec.Struct, frozen=True, kw_only=True):
    """What we know of the person for one event. Title and avatar not known from Graph are kept as they are."""

    name: str | None
    email: str | None
    title: str | None = None
    title_known: bool = False
    avatar_sha256: str | None = None
    avatar_known: bool = False
    not_refreshed_reason: str | None = None
    email_source: str | None = None
    """`graph_mail`, `graph_user_principal_name` or the id_token claim the email came from."""
    email_verified: bool = False


class Item(msgspec.Struct, frozen=True):
    event: UserSignedIn
    details: Details


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    change: Change
    changed_fields: list[str] = []
    record: Record | None = None


async def apply_batch(conn: asyncpg.Connection, items: list[Item], now: datetime) -> list[Outcome]:
    """Apply the items inside the caller's transaction; one Outcome per item, in the same order."""
    # Ids travel as text (asyncpg encodes it for uuid columns); converting each to UUID costs more.
    fresh = {
        str(row[0])
        for row in await conn.fetch(
            "insert into processed_events (event_id, tenant_id, user_id, outcome, processed_at)"
            " select unnest(string_to_array($1, ',')::uuid[]), unnest(string_to_array($2, ',')::uuid[]),"
            " unnest(string_to_array($3, ',')::uuid[]), 'applied', $4"
            " on conflict (event_id) do nothing returning event_id",
            ",".join(i.event.event_id for i in items),
            ",".join(i.event.tenant_id for i in items),
            ",".join(i.event.user_id for i in items),
            now,
        )
    }
    # A user erased before (a replayed or late sign-in of theirs) is never provisioned again.
    erased = {
        str(row[0])
        for row in await conn.fetch(
            "select user_id from erased_users where user_id = any(string_to_array($1, ',')::uuid[])",
            ",".join({i.event.user_id for i in items}),
        )
    }
    rows = await conn.fetch(
        f"select {', '.join(COLUMNS)}, deleted_at from users where user_id = any(string_to_array($1, ',')::uuid[])"  # noqa: S608
        " order by user_id for update",
        ",".join({i.event.user_id for i in items}),
    )
    state: dict[str, Record] = {str(row["user_id"]): dict(row) for row in rows}
    outcomes: list[Outcome] = []
    touched: dict[str, list[int]] = {}
    for item in items:
        event_id, user_id = item.event.event_id, item.event.user_id
        if event_id not in fresh:
            outcomes.append(Outcome(change="duplicate"))
            continue
        fresh.discard(event_id)  # the same event twice in one batch: the second is a duplicate
        if user_id in erased:
            outcomes.append(Outcome(change="erased"))
            continue
        before = state.get(user_id)
        if before is not None and _stale(before, item.event):
            outcomes.append(Outcome(change="stale"))
            continue
        after = _merge(before, item, now)
        state[user_id] = after
        touched.setdefault(user_id, []).append(len(outcomes))
        outcomes.append(_outcome(before, after))
    if touched:
        finals = [state[u] for u in sorted(touched)]  # in key order, as rows were locked: no deadlocks
        written = {str(r[0]) for r in await conn.fetch(_UPSERT, _encoder.encode(finals).decode())}
        for user_id, positions in touched.items():
            if user_id not in written:  # another worker wrote a newer sign-in first
                for position in positions:
                    outcomes[position] = Outcome(change="stale")
    for change in ("stale", "erased"):
        ids = [i.event.event_id for i, o in zip(items, outcomes, strict=True) if o.change == change]
        if ids:
            await conn.execute("update processed_events set outcome = $2 where event_id = any($1::uuid[])", ids, change)
    return outcomes


def _stale(before: Record, event: UserSignedIn) -> bool:
    """An older sign-in than the one applied, or any sign-in of a user the directory deleted (issue 16)."""
    if before.get("deleted_at") is not None:
        return True
    return before["signed_in_at"] is not None and event.signed_in_at <= before["signed_in_at"]


def _merge(before: Record | None, item: Item, now: datetime) -> Record:
    event, details = item.event, item.details
    old: Record = before or {}
    return {
        "user_id": event.user_id,
        "tenant_id": event.tenant_id,
        "azure_tid": event.azure_tid,
        "azure_oid": event.azure_oid,
        "name": details.name if details.name is not None else old.get("name"),
        "email": details.email if details.email is not None else old.get("email"),
        "email_source": details.email_source if details.email is not None else old.get("email_source"),
        "email_verified": details.email_verified if details.email is not None else old.get("email_verified", False),
        "title": details.title if details.title_known else old.get("title"),
        "avatar_sha256": details.avatar_sha256 if details.avatar_known else old.get("avatar_sha256"),
        "signed_in_at": event.signed_in_at,
        "source_event_id": event.event_id,
        "profile_refreshed": details.title_known and details.avatar_known,
        "not_refreshed_reason": details.not_refreshed_reason,
        "profile_refreshed_at": now if details.title_known else old.get("profile_refreshed_at"),
        "created_at": old.get("created_at", now),
        "updated_at": now,
    }


def _outcome(before: Record | None, after: Record) -> Outcome:
    if before is None:
        return Outcome(change="created", changed_fields=[f for f in FIELDS if after[f] is not None], record=after)
    changed = [f for f in FIELDS if before[f] != after[f]]
    return Outcome(change="updated" if changed else "unchanged", changed_fields=changed, record=after)
