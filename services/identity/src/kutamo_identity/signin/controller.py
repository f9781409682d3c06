"""HTTP routes of the sign-in path; HTTP only, the work is in SignInService."""

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter

from kutamo_identity.correlation import traceparent_of
from kutamo_identity.errors import problem_responses
from kutamo_identity.ratelimit import rate_limit
from kutamo_identity.signin.schemas import (
    LoginConfiguration,
    MicrosoftErrorGuidance,
    MicrosoftErrorReport,
    SignInRequest,
    SignInResponse,
)
from kutamo_identity.signin.service import SignInService

LoginCodeParam = Annotated[str, Parameter(max_length=64)]


class SignInController(Controller):
    """Public: anyone may call these, so each client address is rate limited."""

    path = "/v1"
    before_request = staticmethod(rate_limit)  # a hook, not a method (Litestar unbinds it too)

    @get(
        "/login/{login_code:str}",
        summary="Login page configuration for a login code, with a fresh nonce",
        responses=problem_responses(429),
    )
    async def login_configuration(
        self, login_code: LoginCodeParam, signin_service: SignInService
    ) -> LoginConfiguration:
        return await signin_service.login_configuration(login_code)

    @post("/sign-ins", status_code=201, summary="Sign in with a Microsoft id_token", responses=problem_responses(429))
    async def sign_in(
        self, data: SignInRequest, request: Request[Any, Any, Any], signin_service: SignInService
    ) -> SignInResponse:
        return await signin_service.sign_in(data, traceparent=traceparent_of(request.scope))

    @post(
        "/login/{login_code:str}/microsoft-errors",
        status_code=200,
        summary="Guidance for an error Microsoft showed in the sign-in popup",
        responses=problem_responses(429),
    )
    async def microsoft_error(
        self, login_code: LoginCodeParam, data: MicrosoftErrorReport, signin_service: SignInService
    ) -> MicrosoftErrorGuidance:
        return await signin_service.report_microsoft_error(login_code, data)
