"""The IT admin's SCIM tokens from the setup page: the same rules and audit as the admin API, acting as the
setup link (session cookie, CSRF on changes), on the link's tenant only."""

import uuid

from litestar import Controller, delete, get, post
from litestar.di import Provide

from kutamo_identity.errors import problem_responses
from kutamo_identity.scim.admin import ScimTokenService
from kutamo_identity.scim.schemas import ScimToken, ScimTokenCreate, ScimTokenCreated
from kutamo_identity.setup.controller import NO_STORE, provide_setup_session, require_setup_session
from kutamo_identity.setup.links import SETUP_PATH
from kutamo_identity.setup.service import principal
from kutamo_identity.setup.sessions import SetupSession


class ScimSetupController(Controller):
    path = SETUP_PATH + "/api/scim-tokens"
    tags = ("setup page",)
    guards = [require_setup_session]  # noqa: RUF012 - Litestar's declaration style
    dependencies = {"session": Provide(provide_setup_session, sync_to_thread=False)}  # noqa: RUF012
    security = ({"setupSession": []},)
    cache_control = NO_STORE

    @get("/", summary="The tenant's SCIM tokens, without secrets", responses=problem_responses(401))
    async def list_tokens(self, session: SetupSession, scim_tokens: ScimTokenService) -> list[ScimToken]:
        return await scim_tokens.listing(principal(session), session.tenant_id)

    @post("/", status_code=201, summary="Create a SCIM token for Entra provisioning (shown once)",
          responses=problem_responses(400, 401, 403))  # fmt: skip
    async def create(
        self, data: ScimTokenCreate, session: SetupSession, scim_tokens: ScimTokenService
    ) -> ScimTokenCreated:
        return await scim_tokens.create(principal(session), session.tenant_id, data)

    @delete("/{token_id:uuid}", summary="Revoke a SCIM token", responses=problem_responses(401, 403, 404))
    async def revoke(self, token_id: uuid.UUID, session: SetupSession, scim_tokens: ScimTokenService) -> None:
        await scim_tokens.revoke(principal(session), session.tenant_id, token_id)
