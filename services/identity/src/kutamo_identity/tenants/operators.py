"""What operators do that belongs to no tenant: their own API keys, and the whole audit stream.

Each change and its audit entry (without a tenant) commit together, in an operator transaction.
"""

import uuid

import asyncpg
import msgspec

from kutamo_identity.errors import NotFound
from kutamo_identity.tenancy import operator_transaction
from kutamo_identity.tenants import audit, keys, rules
from kutamo_identity.tenants.auth import require_operator
from kutamo_identity.tenants.keys import Principal
from kutamo_identity.tenants.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, AuditEntry, AuditPage
from kutamo_identity.tenants.service import public_row
from kutamo_kit.seams import Clock


class OperatorService:
    def __init__(self, pool: asyncpg.Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    async def create_key(self, who: Principal, body: ApiKeyCreate) -> ApiKeyCreated:
        require_operator(who)
        rules.check_text(body.name, "name")  # as for a tenant's keys: PostgreSQL cannot store NUL
        now = self._clock()
        async with operator_transaction(self._pool) as conn:
            described, key = await keys.create(
                conn, tenant_id=None, scope="operator", name=body.name, created_by=who.actor, now=now
            )
            await audit.record(conn, None, who.actor, "api_key.created", now, after=public_row(described))
        return msgspec.convert({**described, "key": key}, ApiKeyCreated)

    async def list_keys(self, who: Principal) -> list[ApiKey]:
        require_operator(who)
        async with operator_transaction(self._pool) as conn:
            return [msgspec.convert(row, ApiKey) for row in await keys.listing(conn, None)]

    async def revoke_key(self, who: Principal, key_id: uuid.UUID) -> None:
        require_operator(who)
        now = self._clock()
        async with operator_transaction(self._pool) as conn:
            revoked = await keys.revoke(conn, None, key_id, now)
            if revoked is None:
                raise NotFound("api_key_not_found", "There is no operator key with this id.")
            await audit.record(conn, None, who.actor, "api_key.revoked", now, after=public_row(revoked))

    async def audit_log(self, who: Principal, limit: int, before: int | None) -> AuditPage:
        require_operator(who)
        async with operator_transaction(self._pool) as conn:
            rows = await audit.page_all(conn, limit, before)
        entries = [msgspec.convert(row, AuditEntry) for row in rows]
        return AuditPage(entries=entries, next_before=entries[-1].id if len(entries) == limit else None)
