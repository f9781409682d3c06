"""HTTP routes of the SCIM 2.0 endpoint, /scim/v2 (HTTP only; the work is in ScimService).

The bearer token names the tenant; every authenticated request is audited by token id, method, route
and status (never its body or filter). Errors are SCIM error bodies (errors.py), not problem+json.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put, route
from litestar.params import Parameter

from kutamo_identity.scim import discovery
from kutamo_identity.scim.errors import EXCEPTION_HANDLERS, SCIM_JSON, ScimError, bad
from kutamo_identity.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA, project
from kutamo_identity.scim.service import ScimService
from kutamo_identity.scim.tokens import ScimCaller

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
Handler = Callable[[ScimCaller], Awaitable[Response[Any]]]
Req = Request[Any, Any, Any]
_decoder = msgspec.json.Decoder()


def scim(content: Any, status: int = 200) -> Response[Any]:
    return Response(content, status_code=status, media_type=SCIM_JSON)


async def _document(request: Request[Any, Any, Any]) -> Any:
    raw = await request.body()
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise bad("invalidSyntax", "The body is not valid JSON.") from None


async def _audited(
    request: Req, service: ScimService, route_name: str, resource_id: str | None, work: Handler
) -> Response[Any]:
    caller = await service.authenticate(request.headers.get("authorization"))
    try:
        result = await work(caller)
    except ScimError as exc:
        await service.record(caller, request.method, route_name, resource_id, exc.status, exc.scim_type)
        raise
    except Exception:
        await service.record(caller, request.method, route_name, resource_id, 500, None)
        raise
    await service.record(caller, request.method, route_name, resource_id, result.status_code or 200, None)
    return result


class ScimController(Controller):
    path = "/scim/v2"
    tags = ("scim",)
    exception_handlers = EXCEPTION_HANDLERS  # type: ignore[assignment]
    include_in_schema = False

    @get("/ServiceProviderConfig")
    async def service_provider_config(self, request: Req, scim_service: ScimService) -> Response[Any]:
        document = discovery.service_provider_config(scim_service.base_url)
        return await _audited(request, scim_service, "ServiceProviderConfig", None, _fixed(document))

    @get("/ResourceTypes")
    async def resource_types(self, request: Req, scim_service: ScimService) -> Response[Any]:
        document = discovery.list_of([discovery.user_resource_type(scim_service.base_url)])
        return await _audited(request, scim_service, "ResourceTypes", None, _fixed(document))

    @get("/ResourceTypes/{name:str}")
    async def resource_type(self, name: str, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(_: ScimCaller) -> Response[Any]:
            if name != "User":
                raise ScimError(404, f"No resource type {name!r}; this endpoint provisions Users only.")
            return scim(discovery.user_resource_type(scim_service.base_url))

        return await _audited(request, scim_service, "ResourceTypes/{name}", None, work)

    @get("/Schemas")
    async def schemas(self, request: Req, scim_service: ScimService) -> Response[Any]:
        base = scim_service.base_url
        documents = [discovery.user_schema(base), discovery.enterprise_schema(base)]
        return await _audited(request, scim_service, "Schemas", None, _fixed(discovery.list_of(documents)))

    @get("/Schemas/{schema_id:str}")
    async def schema(self, schema_id: str, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(_: ScimCaller) -> Response[Any]:
            base = scim_service.base_url
            found = {USER_SCHEMA: discovery.user_schema, ENTERPRISE_SCHEMA: discovery.enterprise_schema}.get(schema_id)
            if found is None:
                raise ScimError(404, f"No schema {schema_id!r}.")
            return scim(found(base))

        return await _audited(request, scim_service, "Schemas/{id}", None, work)

    @get("/Users")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        scim_service: ScimService,
        filter_text: Annotated[str | None, Parameter(query="filter")] = None,
        start_index: Annotated[int, Parameter(query="startIndex")] = 1,
        count: Annotated[int, Parameter(query="count")] = 100,
        attributes: str | None = None,
        excluded: Annotated[str | None, Parameter(query="excludedAttributes")] = None,
    ) -> Response[Any]:
        async def work(caller: ScimCaller) -> Response[Any]:
            return scim(await scim_service.search(caller, filter_text, start_index, count, attributes, excluded))

        return await _audited(request, scim_service, "Users", None, work)

    @post("/Users")
    async def create_user(self, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(caller: ScimCaller) -> Response[Any]:
            created = await scim_service.create(caller, await _document(request))
            return Response(created, status_code=201, media_type=SCIM_JSON,
                            headers={"Location": created["meta"]["location"]})  # fmt: skip

        return await _audited(request, scim_service, "Users", None, work)

    @post(["/Users/.search", "/.search"])
    async def search_users(self, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(caller: ScimCaller) -> Response[Any]:
            query = await _document(request)
            if not isinstance(query, dict) or SEARCH_SCHEMA not in (query.get("schemas") or []):
                raise bad("invalidSyntax", f"The body must be a SearchRequest ({SEARCH_SCHEMA}).")
            try:
                start, count = int(query.get("startIndex", 1)), int(query.get("count", 100))
            except (TypeError, ValueError):
                raise bad("invalidValue", "startIndex and count must be integers.") from None
            names = {k: ",".join(v) if isinstance(v, list) else None for k, v in query.items()}
            found = await scim_service.search(caller, query.get("filter"), start, count,
                                              names.get("attributes"), names.get("excludedAttributes"))  # fmt: skip
            return scim(found)

        return await _audited(request, scim_service, "Users/.search", None, work)

    @get("/Users/{user_id:str}")
    async def get_user(
        self,
        user_id: str,
        request: Req,
        scim_service: ScimService,
        attributes: str | None = None,
        excluded: Annotated[str | None, Parameter(query="excludedAttributes")] = None,
    ) -> Response[Any]:
        async def work(caller: ScimCaller) -> Response[Any]:
            return scim(project(await scim_service.get(caller, user_id), attributes, excluded))

        return await _audited(request, scim_service, "Users/{id}", user_id, work)

    @put("/Users/{user_id:str}")
    async def replace_user(self, user_id: str, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(caller: ScimCaller) -> Response[Any]:
            return scim(await scim_service.replace(caller, user_id, await _document(request)))

        return await _audited(request, scim_service, "Users/{id}", user_id, work)

    @patch("/Users/{user_id:str}")
    async def patch_user(self, user_id: str, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(caller: ScimCaller) -> Response[Any]:
            return scim(await scim_service.patch(caller, user_id, await _document(request)))

        return await _audited(request, scim_service, "Users/{id}", user_id, work)

    @delete("/Users/{user_id:str}", status_code=204)
    async def delete_user(self, user_id: str, request: Req, scim_service: ScimService) -> Response[None]:
        async def work(caller: ScimCaller) -> Response[None]:
            await scim_service.delete(caller, user_id)
            return Response(None, status_code=204)

        return await _audited(request, scim_service, "Users/{id}", user_id, work)

    @route(["/Groups", "/Groups/{rest:path}"], http_method=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def groups(self, request: Req, scim_service: ScimService) -> Response[Any]:
        async def work(_: ScimCaller) -> Response[Any]:
            raise ScimError(501, "Kutamo provisions users only, not groups. In Entra's Provisioning > Mappings, "
                            "turn off 'Provision Microsoft Entra ID Groups'; assigned groups still scope which "
                            "users are provisioned.")  # fmt: skip

        return await _audited(request, scim_service, "Groups", None, work)

    @route("/{rest:path}", http_method=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def elsewhere(self, rest: str) -> Response[Any]:
        raise ScimError(404, f"There is nothing at /scim/v2{rest}; the resources are /Users and the discovery "
                        "endpoints.")  # fmt: skip


def _fixed(document: dict[str, Any]) -> Handler:
    async def work(_: ScimCaller) -> Response[Any]:
        return scim(document)

    return work
