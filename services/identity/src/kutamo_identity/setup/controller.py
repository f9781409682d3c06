"""HTTP routes of setup links (admin API), the setup session (cookie) and the setup page's API.
HTTP only: the work is in SetupLinkService and SetupService."""

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, Cookie, State
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter

from kutamo_identity.errors import problem_responses
from kutamo_identity.ratelimit import rate_limited
from kutamo_identity.setup.admin import SetupLinkService
from kutamo_identity.setup.links import SETUP_PATH
from kutamo_identity.setup.schemas import (
    LoginCodeAvailability,
    SetupLink,
    SetupLinkCreate,
    SetupLinkCreated,
    SetupSessionOpen,
    SetupState,
    SignInList,
)
from kutamo_identity.setup.service import SetupService, principal
from kutamo_identity.setup.sessions import COOKIE, SetupSession
from kutamo_identity.tenants.controller import provide_principal
from kutamo_identity.tenants.keys import Principal
from kutamo_identity.tenants.schemas import AuditPage, AzureAdConnection, AzureAdConnectionPut, VerificationCode

AUTH = problem_responses(400, 401, 403, 404)
SESSION = problem_responses(400, 401)
NO_STORE = CacheControlHeader(no_store=True)


class SetupLinksController(Controller):
    path = "/v1/tenants/{tenant_id:uuid}/setup-links"
    tags = ("tenant admin",)
    dependencies = {"who": Provide(provide_principal)}  # noqa: RUF012 - Litestar's declaration style
    security = ({"apiKey": []},)

    @post("/", status_code=201, summary="Create a setup link for the tenant's IT admin (URL shown once)",
          responses=AUTH)  # fmt: skip
    async def create(
        self,
        tenant_id: uuid.UUID,
        who: Principal,
        setup_links: SetupLinkService,
        data: SetupLinkCreate | None = None,
    ) -> SetupLinkCreated:
        return await setup_links.create(who, tenant_id, data or SetupLinkCreate())

    @get("/", summary="The tenant's setup links, without secrets", responses=AUTH)
    async def listing(self, tenant_id: uuid.UUID, who: Principal, setup_links: SetupLinkService) -> list[SetupLink]:
        return await setup_links.listing(who, tenant_id)

    @delete("/{link_id:uuid}", summary="Revoke a setup link; its setup sessions end", responses=AUTH)
    async def revoke(
        self, tenant_id: uuid.UUID, link_id: uuid.UUID, who: Principal, setup_links: SetupLinkService
    ) -> None:
        await setup_links.revoke(who, tenant_id, link_id)


class SetupSessionController(Controller):
    path = SETUP_PATH
    tags = ("setup page",)
    cache_control = NO_STORE

    @post(
        "/session",
        status_code=204,
        summary="Exchange a setup link's secret for a setup session cookie",
        responses=problem_responses(400, 403, 404, 410, 429),
        guards=[rate_limited],  # public: anyone may guess at links
    )
    async def open_session(
        self, data: SetupSessionOpen, request: Request[Any, Any, State], setup_service: SetupService
    ) -> Response[None]:
        setup_service.check_origin(request.headers.get("origin"))
        cookie, max_age = await setup_service.open_session(data.link)
        session_cookie = Cookie(
            key=COOKIE, value=cookie, max_age=max_age, path=SETUP_PATH,
            httponly=True, samesite="strict", secure=setup_service.secure_cookie,
        )  # fmt: skip
        return Response(None, status_code=204, cookies=[session_cookie])


async def require_setup_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every setup API request needs the session cookie; state-changing ones also the CSRF header and our Origin."""
    service: SetupService = connection.app.state.setup_service
    session = await service.authenticate(connection.cookies.get(COOKIE))
    headers, method = connection.headers, str(connection.scope.get("method", "GET"))
    service.check_csrf(session, method, headers.get("x-kutamo-csrf"), headers.get("origin"))
    connection.state.setup_session = session


def provide_setup_session(request: Request[Any, Any, State]) -> SetupSession:
    session: SetupSession = request.state.setup_session
    return session


class SetupApiController(Controller):
    path = SETUP_PATH + "/api"
    tags = ("setup page",)
    guards = [require_setup_session]  # noqa: RUF012 - Litestar's declaration style
    dependencies = {"session": Provide(provide_setup_session, sync_to_thread=False)}  # noqa: RUF012
    security = ({"setupSession": []},)
    cache_control = NO_STORE

    @get("/state", summary="The tenant, its connection and the CSRF token of this setup session", responses=SESSION)
    async def state(self, session: SetupSession, setup_service: SetupService) -> SetupState:
        return await setup_service.state(session)

    @get("/login-codes/{code:str}", summary="Whether this tenant could take a login code", responses=SESSION)
    async def login_code(
        self, code: Annotated[str, Parameter(max_length=200)], session: SetupSession, setup_service: SetupService
    ) -> LoginCodeAvailability:
        return await setup_service.login_code(session, code)

    @put("/connection", summary="Create or change the Azure AD connection",
         responses=problem_responses(400, 401, 403, 409))  # fmt: skip
    async def put_connection(
        self, data: AzureAdConnectionPut, session: SetupSession, setup_service: SetupService
    ) -> AzureAdConnection:
        return await setup_service.tenant_admin.put_connection(principal(session), session.tenant_id, data)

    @post("/connection/disable", status_code=200, summary="Turn sign-in off, keep the configuration",
          responses=problem_responses(401, 403, 404))  # fmt: skip
    async def disable(self, session: SetupSession, setup_service: SetupService) -> AzureAdConnection:
        return await setup_service.tenant_admin.set_enabled(principal(session), session.tenant_id, enabled=False)

    @post("/connection/enable", status_code=200, summary="Turn sign-in back on",
          responses=problem_responses(401, 403, 404))  # fmt: skip
    async def enable(self, session: SetupSession, setup_service: SetupService) -> AzureAdConnection:
        return await setup_service.tenant_admin.set_enabled(principal(session), session.tenant_id, enabled=True)

    @post("/verification-code", status_code=201, summary="A code for the verification (test) sign-in",
          responses=problem_responses(400, 401, 403, 404))  # fmt: skip
    async def verification_code(self, session: SetupSession, setup_service: SetupService) -> VerificationCode:
        return await setup_service.tenant_admin.create_verification_code(principal(session), session.tenant_id)

    @get("/sign-ins", summary="The tenant's last sign-ins, accepted and refused, newest first", responses=SESSION)
    async def sign_ins(
        self,
        session: SetupSession,
        setup_service: SetupService,
        limit: Annotated[int, Parameter(ge=1, le=50)] = 10,
    ) -> SignInList:
        return await setup_service.sign_ins(session, limit)

    @get("/audit-log", summary="The tenant's audit log, newest first", responses=SESSION)
    async def audit_log(
        self,
        session: SetupSession,
        setup_service: SetupService,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        before: Annotated[
            int | None, Parameter(ge=1, le=2**63 - 1, description="`next_before` of the previous page")
        ] = None,
    ) -> AuditPage:
        return await setup_service.tenant_admin.audit_log(principal(session), session.tenant_id, limit, before)
