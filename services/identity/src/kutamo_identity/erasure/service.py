"""Erase what the identity service holds about a user (or every user of a tenant), and tell the others.

In one transaction: the user's identity (the tid/oid link), sign-ins, and every outbox row keyed by
them, waiting or already published; then one `UserErased` event per user into the outbox, so the
worker and downstream consumers erase theirs. The identity row is deleted first: it waits for a sign-in
of that user in flight, whose outbox row the later deletes then see. Erasure does not bar the person:
signing in again creates a new user with a new id.
"""

import logging
import uuid
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from kutamo_contracts.envelope import SOURCE_IDENTITY, encode_record
from kutamo_contracts.events import UserErased
from kutamo_contracts.topics import USER_ERASED
from kutamo_identity.errors import NotFound
from kutamo_identity.outbox import writer as outbox
from kutamo_identity.tenancy import operator_transaction
from kutamo_identity.tenants import audit
from kutamo_identity.tenants.auth import require_operator
from kutamo_identity.tenants.keys import Principal
from kutamo_kit.seams import Clock, IdFactory

log = logging.getLogger(__name__)


class Erasure(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    scope: Literal["user", "tenant"]
    user_ids: list[uuid.UUID]
    """The users erased; each has a `user-erased` event on its way to Kafka."""
    event_ids: list[uuid.UUID]
    erased_at: datetime


class ErasureService:
    def __init__(self, pool: asyncpg.Pool, clock: Clock, new_id: IdFactory) -> None:
        self._pool = pool
        self._clock = clock
        self._new_id = new_id

    async def erase_user(self, who: Principal, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Erasure:
        require_operator(who)
        now = self._clock()
        async with operator_transaction(self._pool) as conn:
            gone = await conn.fetchval(
                "delete from identities where tenant_id = $1 and user_id = $2 returning user_id", tenant_id, user_id
            )
            if gone is None:
                raise NotFound("user_not_found", "This tenant has no user with this id (or it was erased already).")
            event_ids = await self._erase(conn, tenant_id, [user_id], "user", now)
            await audit.record(conn, tenant_id, who.actor, "user.erased", now, before={"user_id": str(user_id)})
        log.info("user erased", extra={"tenant_id": str(tenant_id), "user_id": str(user_id), "actor": who.actor})
        return Erasure(tenant_id=tenant_id, scope="user", user_ids=[user_id], event_ids=event_ids, erased_at=now)

    async def erase_tenant(self, who: Principal, tenant_id: uuid.UUID) -> Erasure:
        """Every user of the tenant, then the tenant itself: connection, keys, login codes, audit log, links."""
        require_operator(who)
        now = self._clock()
        async with operator_transaction(self._pool) as conn:
            if await conn.fetchval("select 1 from tenants where id = $1 for update", tenant_id) is None:
                raise NotFound("tenant_not_found", "There is no tenant with this id.")
            user_ids: list[uuid.UUID] = [
                r[0] for r in await conn.fetch(
                    "delete from identities where tenant_id = $1 returning user_id", tenant_id
                )
            ]  # fmt: skip
            event_ids = await self._erase(conn, tenant_id, user_ids, "tenant", now)
            await conn.execute("delete from tenants where id = $1", tenant_id)  # the rest cascades
        # The tenant's audit log went with it; this line is the record (actor, tenant, how many users).
        log.warning("tenant erased", extra={"tenant_id": str(tenant_id), "users": len(user_ids), "actor": who.actor})
        return Erasure(tenant_id=tenant_id, scope="tenant", user_ids=user_ids, event_ids=event_ids, erased_at=now)

    async def _erase(
        self, conn: asyncpg.Connection, tenant_id: uuid.UUID, user_ids: list[uuid.UUID],
        scope: Literal["user", "tenant"], now: datetime,
    ) -> list[uuid.UUID]:  # fmt: skip
        keys = [str(u).encode() for u in user_ids]
        await conn.execute("delete from sign_ins where tenant_id = $1 and user_id = any($2)", tenant_id, user_ids)
        # Events about the user, waiting or kept after publishing (OUTBOX_RETENTION_HOURS), hold their name
        # and email: they go too. The outbox is not tenant-owned; rows are found by their key, the user id.
        await conn.execute("delete from outbox where key = any($1::bytea[])", keys)
        await conn.execute("delete from outbox_published where key = any($1::bytea[])", keys)
        event_ids = []
        for user_id in user_ids:
            event_id = str(self._new_id())
            event = UserErased(event_id=event_id, tenant_id=str(tenant_id), user_id=str(user_id), erased_at=now,
                               scope=scope)  # fmt: skip
            envelope = encode_record(USER_ERASED, event, event_id=event_id, subject=str(user_id),
                                     source=SOURCE_IDENTITY, time=now)  # fmt: skip
            await outbox.add(conn, event_id, envelope, now)
            event_ids.append(uuid.UUID(event_id))
        return event_ids
