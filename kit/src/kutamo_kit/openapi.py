"""The OpenAPI document both services publish at /schema: title, problem+json note, security schemes."""

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

__all__ = ["bearer", "openapi"]


def bearer(description: str) -> SecurityScheme:
    return SecurityScheme(type="http", scheme="bearer", description=description)


def openapi(title: str, description: str, schemes: dict[str, SecurityScheme]) -> OpenAPIConfig:
    note = " Errors are application/problem+json with a stable `code` (docs/errors.md)."
    return OpenAPIConfig(
        title=title,
        version="1.0.0",
        path="/schema",
        description=description + note,
        components=Components(security_schemes=dict(schemes)),
    )
