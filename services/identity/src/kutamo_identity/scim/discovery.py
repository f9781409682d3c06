"""The discovery documents (RFC 7644 section 4): what this endpoint supports, so a client need not guess.

Users only: Groups are not provisioned (ServiceProviderConfig and ResourceTypes say so; docs/scim.md
tells the IT admin to turn off Entra's group mapping and scope provisioning to assigned users/groups).
"""

from typing import Any

from kutamo_identity.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA

DOCS = "https://docs.kutamo.com/scim"


def _location(base: str, path: str) -> dict[str, str]:
    return {"location": f"{base}/scim/v2/{path}"}


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": DOCS,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "SCIM secret token",
                "description": "A per-organisation bearer token created by the organisation's Kutamo admin.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "documentationUri": DOCS,
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", **_location(base, "ServiceProviderConfig")},
    }


def user_resource_type(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person of the organisation; groups are not provisioned.",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
        "meta": {"resourceType": "ResourceType", **_location(base, "ResourceTypes/User")},
    }


def _attribute(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {
        "name": name, "type": kind, "multiValued": False, "required": False, "caseExact": False,
        "mutability": "readWrite", "returned": "default", "uniqueness": "none", "description": name, **extra,
    }  # fmt: skip


def user_schema(base: str) -> dict[str, Any]:
    sub = [_attribute("givenName"), _attribute("familyName"), _attribute("formatted")]
    email = [_attribute("value"), _attribute("type"), _attribute("primary", "boolean")]
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User account. Kutamo keeps userName, externalId (the Azure object id), active, name, "
        "the work email and title; other attributes are accepted and not kept.",
        "attributes": [
            _attribute("userName", required=True, uniqueness="server"),
            _attribute(
                "externalId",
                required=True,
                caseExact=True,
                mutability="immutable",
                description="The person's Azure object id, a GUID (map objectId to it).",
            ),
            _attribute("active", "boolean"),
            _attribute("displayName"),
            _attribute("name", "complex", subAttributes=sub),
            _attribute("emails", "complex", multiValued=True, subAttributes=email),
            _attribute("title"),
        ],
        "meta": {"resourceType": "Schema", **_location(base, f"Schemas/{USER_SCHEMA}")},
    }


def enterprise_schema(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise extension: accepted (Entra sends manager, department, ...) and not kept.",
        "attributes": [
            _attribute("employeeNumber"),
            _attribute("department"),
            _attribute("manager", "complex", subAttributes=[_attribute("value")]),
        ],
        "meta": {"resourceType": "Schema", **_location(base, f"Schemas/{ENTERPRISE_SCHEMA}")},
    }


def list_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }
