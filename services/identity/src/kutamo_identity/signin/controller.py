"""HTTP routes of the sign-in path; HTTP only, the work is in SignInService."""

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter

from kutamo_identity.signin.schemas import LoginConfiguration, SignInRequest, SignInResponse
from kutamo_identity.signin.service import SignInService


class SignInController(Controller):
    path = "/v1"

    @get("/login/{login_code:str}", summary="Login page configuration for a login code")
    async def login_configuration(
        self, login_code: Annotated[str, Parameter(max_length=64)], signin_service: SignInService
    ) -> LoginConfiguration:
        return await signin_service.login_configuration(login_code)

    @post("/sign-ins", status_code=201, summary="Sign in with a Microsoft id_token")
    async def sign_in(
        self, data: SignInRequest, request: Request[Any, Any, Any], signin_service: SignInService
    ) -> SignInResponse:
        return await signin_service.sign_in(data, traceparent=request.headers.get("traceparent"))
