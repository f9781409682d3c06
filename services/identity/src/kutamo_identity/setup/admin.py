"""Setup links as operators and tenant admins manage them: create (the URL shown once), list, revoke.
Each change and its audit entry commit together, in the tenant's context."""

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec

from kutamo_identity.errors import NotFound
from kutamo_identity.setup import links
from kutamo_identity.setup.schemas import SetupLink, SetupLinkCreate, SetupLinkCreated
from kutamo_identity.tenancy import tenant_transaction
from kutamo_identity.tenants import audit, repository
from kutamo_identity.tenants.auth import require_tenant
from kutamo_identity.tenants.keys import Principal
from kutamo_kit.seams import Clock


class SetupLinkService:
    def __init__(self, pool: asyncpg.Pool, public_base_url: str, clock: Clock) -> None:
        self._pool = pool
        self._public_base_url = public_base_url
        self._clock = clock

    async def create(self, who: Principal, tenant_id: uuid.UUID, body: SetupLinkCreate) -> SetupLinkCreated:
        require_tenant(who, tenant_id)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            if await repository.get_tenant(conn, tenant_id) is None:
                raise NotFound("tenant_not_found", "There is no tenant with this id.")
            row, secret = await links.create(
                conn, tenant_id, created_by=who.actor, now=now, valid=timedelta(days=body.valid_days)
            )
            await audit.record(conn, tenant_id, who.actor, "setup_link.created", now, after=_public(row))
        return SetupLinkCreated(
            id=row["id"],
            url=links.url(self._public_base_url, secret),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    async def listing(self, who: Principal, tenant_id: uuid.UUID) -> list[SetupLink]:
        require_tenant(who, tenant_id)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            rows = await links.listing(conn, tenant_id)
        return [msgspec.convert({**row, "status": links.status(row, now)}, SetupLink) for row in rows]

    async def revoke(self, who: Principal, tenant_id: uuid.UUID, link_id: uuid.UUID) -> None:
        require_tenant(who, tenant_id)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            row = await links.revoke(conn, tenant_id, link_id, now)
            if row is None:
                raise NotFound("setup_link_not_found", "This tenant has no setup link with this id.")
            await audit.record(conn, tenant_id, who.actor, "setup_link.revoked", now, after=_public(row))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a link: its id, who made it and its validity; never its secret."""
    return {"id": str(row["id"]), "created_by": row["created_by"], "expires_at": row["expires_at"].isoformat(),
            "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None}  # fmt: skip
