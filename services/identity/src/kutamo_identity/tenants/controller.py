"""HTTP routes of the tenant admin API; HTTP only, the work is in TenantAdminService."""

import uuid
from typing import Annotated

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter

from kutamo_identity.erasure.service import Erasure, ErasureService
from kutamo_identity.errors import problem_responses
from kutamo_identity.tenants.auth import Authenticator
from kutamo_identity.tenants.keys import Principal
from kutamo_identity.tenants.operators import OperatorService
from kutamo_identity.tenants.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    AuditPage,
    AzureAdConnection,
    AzureAdConnectionPut,
    DirectoryApproval,
    DirectoryApproved,
    Tenant,
    TenantCreate,
    VerificationCode,
)
from kutamo_identity.tenants.service import TenantAdminService


async def provide_principal(request: Request[object, object, State], authenticator: Authenticator) -> Principal:
    return await authenticator.principal(request.headers.get("authorization"))


AUTH = problem_responses(400, 401, 403, 404)


class TenantsController(Controller):
    path = "/v1/tenants"
    tags = ("tenant admin",)
    dependencies = {"who": Provide(provide_principal)}  # noqa: RUF012 - Litestar's declaration style
    security = ({"apiKey": []},)

    @post("/", status_code=201, summary="Create a tenant (operator)", responses=problem_responses(400, 401, 403))
    async def create_tenant(self, data: TenantCreate, who: Principal, tenant_admin: TenantAdminService) -> Tenant:
        return await tenant_admin.create_tenant(who, data)

    @get("/{tenant_id:uuid}", summary="A tenant", responses=AUTH)
    async def get_tenant(self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService) -> Tenant:
        return await tenant_admin.get_tenant(who, tenant_id)

    @delete(
        "/{tenant_id:uuid}", status_code=200, responses=AUTH,
        summary="Erase a tenant: every user (announced as user-erased), then all it holds (operator)",
    )  # fmt: skip
    async def erase_tenant(self, tenant_id: uuid.UUID, who: Principal, erasure: ErasureService) -> Erasure:
        return await erasure.erase_tenant(who, tenant_id)

    @post("/{tenant_id:uuid}/api-keys", status_code=201, summary="Create a tenant-admin key (operator)", responses=AUTH)
    async def create_api_key(
        self, tenant_id: uuid.UUID, data: ApiKeyCreate, who: Principal, tenant_admin: TenantAdminService
    ) -> ApiKeyCreated:
        return await tenant_admin.create_api_key(who, tenant_id, data)

    @get("/{tenant_id:uuid}/api-keys", summary="The tenant's API keys, without secrets", responses=AUTH)
    async def list_api_keys(
        self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService
    ) -> list[ApiKey]:
        return await tenant_admin.list_api_keys(who, tenant_id)

    @delete("/{tenant_id:uuid}/api-keys/{key_id:uuid}", summary="Revoke an API key (operator)", responses=AUTH)
    async def revoke_api_key(
        self, tenant_id: uuid.UUID, key_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService
    ) -> None:
        await tenant_admin.revoke_api_key(who, tenant_id, key_id)

    @put(
        "/{tenant_id:uuid}/azure-ad",
        summary="Create or change the Azure AD connection",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def put_connection(
        self, tenant_id: uuid.UUID, data: AzureAdConnectionPut, who: Principal, tenant_admin: TenantAdminService
    ) -> AzureAdConnection:
        return await tenant_admin.put_connection(who, tenant_id, data)

    @get("/{tenant_id:uuid}/azure-ad", summary="The Azure AD connection", responses=AUTH)
    async def get_connection(
        self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService
    ) -> AzureAdConnection:
        return await tenant_admin.get_connection(who, tenant_id)

    @delete("/{tenant_id:uuid}/azure-ad", summary="Remove the Azure AD connection", responses=AUTH)
    async def delete_connection(self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService) -> None:
        await tenant_admin.delete_connection(who, tenant_id)

    @post("/{tenant_id:uuid}/azure-ad/disable", status_code=200, summary="Turn sign-in off, keep the configuration",
          responses=AUTH)  # fmt: skip
    async def disable(
        self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService
    ) -> AzureAdConnection:
        return await tenant_admin.set_enabled(who, tenant_id, enabled=False)

    @post("/{tenant_id:uuid}/azure-ad/enable", status_code=200, summary="Turn sign-in back on", responses=AUTH)
    async def enable(self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService) -> AzureAdConnection:
        return await tenant_admin.set_enabled(who, tenant_id, enabled=True)

    @post(
        "/{tenant_id:uuid}/azure-ad/verification-codes",
        status_code=201,
        summary="A single-use code for the verification sign-in of a pending connection",
        responses=AUTH,
    )
    async def verification_code(
        self, tenant_id: uuid.UUID, who: Principal, tenant_admin: TenantAdminService
    ) -> VerificationCode:
        return await tenant_admin.create_verification_code(who, tenant_id)

    @post(
        "/{tenant_id:uuid}/azure-ad/approve-directory",
        status_code=201,
        summary="Let this tenant pin a directory another tenant pinned for the same application (operator)",
        responses=AUTH,
    )
    async def approve_directory(
        self, tenant_id: uuid.UUID, data: DirectoryApproval, who: Principal, tenant_admin: TenantAdminService
    ) -> DirectoryApproved:
        return await tenant_admin.approve_directory(who, tenant_id, data)

    @get("/{tenant_id:uuid}/audit-log", summary="Changes to the connection and keys, newest first", responses=AUTH)
    async def audit_log(
        self,
        tenant_id: uuid.UUID,
        who: Principal,
        tenant_admin: TenantAdminService,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        before: Annotated[
            int | None, Parameter(ge=1, le=2**63 - 1, description="`next_before` of the previous page")
        ] = None,
    ) -> AuditPage:
        return await tenant_admin.audit_log(who, tenant_id, limit, before)


class OperatorsController(Controller):
    """Operators' own keys and the whole audit stream; operator keys only."""

    path = "/v1"
    tags = ("operators",)
    dependencies = {"who": Provide(provide_principal)}  # noqa: RUF012 - Litestar's declaration style
    security = ({"apiKey": []},)

    @post("/operator-keys", status_code=201, summary="Create an operator key (operator)",
          responses=problem_responses(400, 401, 403))  # fmt: skip
    async def create_key(self, data: ApiKeyCreate, who: Principal, operators: OperatorService) -> ApiKeyCreated:
        return await operators.create_key(who, data)

    @get("/operator-keys", summary="The operator keys, without secrets (operator)", responses=AUTH)
    async def list_keys(self, who: Principal, operators: OperatorService) -> list[ApiKey]:
        return await operators.list_keys(who)

    @delete("/operator-keys/{key_id:uuid}", summary="Revoke an operator key (operator)", responses=AUTH)
    async def revoke_key(self, key_id: uuid.UUID, who: Principal, operators: OperatorService) -> None:
        await operators.revoke_key(who, key_id)

    @get("/audit-log", summary="Every audit entry, operators' own included, newest first (operator)",
         responses=AUTH)  # fmt: skip
    async def audit_log(
        self,
        who: Principal,
        operators: OperatorService,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        before: Annotated[
            int | None, Parameter(ge=1, le=2**63 - 1, description="`next_before` of the previous page")
        ] = None,
    ) -> AuditPage:
        return await operators.audit_log(who, limit, before)
