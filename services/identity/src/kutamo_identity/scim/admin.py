"""The tenant admin's SCIM tokens: create (shown once), list, revoke. Rotation is create, paste into
Entra, revoke the old one. Each change is in the tenant's audit log, without the secret."""

import uuid

import asyncpg
import msgspec
from litestar import Controller, delete, get, post
from litestar.di import Provide

from kutamo_identity.errors import NotFound, problem_responses
from kutamo_identity.scim import tokens
from kutamo_identity.scim.schemas import ScimToken, ScimTokenCreate, ScimTokenCreated
from kutamo_identity.tenancy import tenant_transaction
from kutamo_identity.tenants import audit, repository, rules
from kutamo_identity.tenants.auth import require_tenant
from kutamo_identity.tenants.controller import provide_principal
from kutamo_identity.tenants.keys import Principal
from kutamo_kit.seams import Clock


class ScimTokenService:
    def __init__(self, pool: asyncpg.Pool, base_url: str, clock: Clock) -> None:
        self._pool = pool
        self.tenant_url = base_url.rstrip("/") + "/scim/v2"
        self._clock = clock

    async def create(self, who: Principal | str, tenant_id: uuid.UUID, body: ScimTokenCreate) -> ScimTokenCreated:
        actor = who if isinstance(who, str) else who.actor
        if not isinstance(who, str):
            require_tenant(who, tenant_id)
        rules.check_text(body.name, "name")
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            if await repository.get_tenant(conn, tenant_id) is None:
                raise NotFound("tenant_not_found", "There is no tenant with this id.")
            described, token = await tokens.create(conn, tenant_id, body.name.strip(), actor, now)
            await audit.record(conn, tenant_id, actor, "scim_token.created", now,
                               after={"id": str(described["id"]), "name": described["name"]})  # fmt: skip
        return msgspec.convert({**described, "token": token, "tenant_url": self.tenant_url}, ScimTokenCreated)

    async def listing(self, who: Principal, tenant_id: uuid.UUID) -> list[ScimToken]:
        require_tenant(who, tenant_id)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            return [msgspec.convert(row, ScimToken) for row in await tokens.listing(conn, tenant_id)]

    async def revoke(self, who: Principal | str, tenant_id: uuid.UUID, token_id: uuid.UUID) -> None:
        actor = who if isinstance(who, str) else who.actor
        if not isinstance(who, str):
            require_tenant(who, tenant_id)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            revoked = await tokens.revoke(conn, tenant_id, token_id, now)
            if revoked is None:
                raise NotFound("scim_token_not_found", "This tenant has no SCIM token with this id.")
            await audit.record(conn, tenant_id, actor, "scim_token.revoked", now, after={"id": str(token_id)})


AUTH = problem_responses(400, 401, 403, 404)


class ScimTokensController(Controller):
    path = "/v1/tenants/{tenant_id:uuid}/scim-tokens"
    tags = ("tenant admin",)
    dependencies = {"who": Provide(provide_principal)}  # noqa: RUF012 - Litestar's declaration style
    security = ({"apiKey": []},)

    @post("/", status_code=201, summary="Create a SCIM token for Entra provisioning (shown once)", responses=AUTH)
    async def create(
        self, tenant_id: uuid.UUID, data: ScimTokenCreate, who: Principal, scim_tokens: ScimTokenService
    ) -> ScimTokenCreated:
        return await scim_tokens.create(who, tenant_id, data)

    @get("/", summary="The tenant's SCIM tokens, without secrets", responses=AUTH)
    async def list_tokens(self, tenant_id: uuid.UUID, who: Principal, scim_tokens: ScimTokenService) -> list[ScimToken]:
        return await scim_tokens.listing(who, tenant_id)

    @delete("/{token_id:uuid}", summary="Revoke a SCIM token", responses=AUTH)
    async def revoke(
        self, tenant_id: uuid.UUID, token_id: uuid.UUID, who: Principal, scim_tokens: ScimTokenService
    ) -> None:
        await scim_tokens.revoke(who, tenant_id, token_id)
