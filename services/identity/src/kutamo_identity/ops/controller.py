"""The pipeline page and its JSON summary (operator key required for the data)."""

from importlib import resources
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State

from kutamo_identity.errors import problem_responses
from kutamo_identity.ops.pipeline import PipelineView, Summary
from kutamo_identity.tenants.auth import Authenticator, require_operator

_PAGE = resources.files("kutamo_identity.ops").joinpath("page.html").read_bytes()


class OpsController(Controller):
    path = "/ops"
    tags = ("operations",)

    @get("/", summary="The live pipeline page for operators", include_in_schema=False)
    async def page(self) -> Response[bytes]:
        # The page holds no data; it asks for an operator key and polls /ops/summary.
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self' 'unsafe-inline'"}
        return Response(_PAGE, media_type="text/html; charset=utf-8", headers=headers)

    @get("/summary", summary="Pipeline summary (operator key)", responses=problem_responses(401, 403))
    async def summary(
        self, request: Request[Any, Any, State], authenticator: Authenticator, pipeline: PipelineView
    ) -> Summary:
        require_operator(await authenticator.principal(request.headers.get("authorization")))
        return await pipeline.summary()
