"""HTTP route of a user's erasure (operator keys only); a tenant's is on TenantsController (same path)."""

import uuid

from litestar import Controller, delete
from litestar.di import Provide

from kutamo_identity.erasure.service import Erasure, ErasureService
from kutamo_identity.errors import problem_responses
from kutamo_identity.tenants.controller import provide_principal
from kutamo_identity.tenants.keys import Principal

RESPONSES = problem_responses(400, 401, 403, 404)


class ErasureController(Controller):
    path = "/v1/tenants"
    tags = ("erasure",)
    dependencies = {"who": Provide(provide_principal)}  # noqa: RUF012 - Litestar's declaration style
    security = ({"apiKey": []},)

    @delete(
        "/{tenant_id:uuid}/users/{user_id:uuid}", status_code=200, responses=RESPONSES,
        summary="Erase a user: identity, sign-ins, events; announced as user-erased (operator)",
    )  # fmt: skip
    async def erase_user(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, who: Principal, erasure: ErasureService
    ) -> Erasure:
        return await erasure.erase_user(who, tenant_id, user_id)
