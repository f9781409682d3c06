"""The SCIM endpoint and the SCIM token admin API as one router, so the app registers them in one line."""

from typing import Any

from litestar import Router
from litestar.datastructures import State
from litestar.di import Provide

from kutamo_identity.config import Config
from kutamo_identity.scim.admin import ScimTokensController, ScimTokenService
from kutamo_identity.scim.controller import ScimController
from kutamo_identity.scim.service import ScimService
from kutamo_identity.scim.setup_page import ScimSetupController
from kutamo_kit.seams import Clock, IdFactory


def router(config: Config, clock: Clock, new_id: IdFactory) -> Router:
    """Services are made on first use from the pool the app's lifespan opened, then kept in its state."""

    def provide_scim(state: State) -> ScimService:
        if "scim_service" not in state:
            state.scim_service = ScimService(state.db_pool, config.public_base_url, clock, new_id)
        service: ScimService = state.scim_service
        return service

    def provide_tokens(state: State) -> ScimTokenService:
        if "scim_tokens" not in state:
            state.scim_tokens = ScimTokenService(state.db_pool, config.public_base_url, clock)
        service: ScimTokenService = state.scim_tokens
        return service

    dependencies: dict[str, Any] = {
        "scim_service": Provide(provide_scim, sync_to_thread=False),
        "scim_tokens": Provide(provide_tokens, sync_to_thread=False),
    }
    return Router(
        path="/", route_handlers=[ScimController, ScimTokensController, ScimSetupController], dependencies=dependencies
    )
