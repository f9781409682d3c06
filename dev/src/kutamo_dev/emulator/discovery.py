"""Microsoft's OpenID discovery documents and key sets, v2.0 and v1, on Microsoft's own paths."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from kutamo_dev.emulator.authority import GRAPH_HOST, LOGIN_HOST, Tenant, issuer_v1, issuer_v2, resolve_tenant
from kutamo_dev.emulator.state import Emulator, EmulatorState

__all__ = ["discovery_handlers"]

# Microsoft lets clients cache these documents for a day; clients may rely on the header.
_CACHE_HEADERS = {"Cache-Control": "max-age=86400, private"}
_CLAIMS_SUPPORTED = [
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
    "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
    "tid", "ver", "at_hash", "c_hash", "email",
]  # fmt: skip


def _base_url(request: Request[Any, Any, Any], state: EmulatorState) -> str:
    """Where clients reach this emulator: the configured public URL, else the request's own host."""
    return (state.public_url or str(request.base_url)).rstrip("/")


def _tenant_not_found(segment: str) -> Response[dict[str, Any]]:
    """Microsoft's AADSTS90002 answer for a tenant segment that names no directory."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "error": "invalid_tenant",
        "error_description": (
            f"AADSTS90002: Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud."
        ),
        "error_codes": [90002],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
        "error_uri": f"{LOGIN_HOST}/error?code=90002",
    }
    return Response(content=body, status_code=400)


def _outage() -> Response[dict[str, Any]]:
    body = {"error": "temporarily_unavailable", "error_description": "AADSTS90033: A transient error has occurred."}
    return Response(content=body, status_code=503)


def _region_scope(tenant: Tenant) -> str | None:
    # Multi-tenant documents carry no region; a directory's document names where it lives.
    return None if tenant.tid is None else "EU"


def _v2_document(tenant: Tenant, base: str) -> dict[str, Any]:
    authority = f"{base}/{tenant.segment}"
    return {
        "token_endpoint": f"{authority}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{authority}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer_v2(tenant.issuer_tid),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"https://{GRAPH_HOST}/oidc/userinfo",
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
        "claims_supported": _CLAIMS_SUPPORTED,
        "kerberos_endpoint": f"{authority}/kerberos",
        "tenant_region_scope": _region_scope(tenant),
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": GRAPH_HOST,
        "rbac_url": "https://pas.windows.net",
    }


def _v1_document(tenant: Tenant, base: str) -> dict[str, Any]:
    authority = f"{base}/{tenant.segment}"
    return {
        "token_endpoint": f"{authority}/oauth2/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{authority}/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": issuer_v1(tenant.issuer_tid),
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{authority}/oauth2/authorize",
        "device_authorization_endpoint": f"{authority}/oauth2/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{authority}/oauth2/logout",
        "claims_supported": _CLAIMS_SUPPORTED,
        "check_session_iframe": f"{authority}/oauth2/checksession",
        "userinfo_endpoint": f"{authority}/openid/userinfo",
        "kerberos_endpoint": f"{authority}/kerberos",
        "tenant_region_scope": _region_scope(tenant),
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": GRAPH_HOST,
        "rbac_url": "https://pas.windows.net",
    }


@get("/{tenant:str}/v2.0/.well-known/openid-configuration", sync_to_thread=False)
def openid_configuration_v2(
    tenant: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator
) -> Response[dict[str, Any]]:
    """The v2.0 discovery document."""
    resolved = resolve_tenant(tenant)
    if resolved is None:
        return _tenant_not_found(tenant)
    emulator.discovery_hits.record(resolved.segment, "openid_configuration")
    if emulator.login_outage:
        return _outage()
    return Response(content=_v2_document(resolved, _base_url(request, emulator)), headers=_CACHE_HEADERS)


@get("/{tenant:str}/discovery/v2.0/keys", sync_to_thread=False)
def keys_v2(tenant: FromPath[str], emulator: Emulator) -> Response[dict[str, Any]]:
    """The v2.0 key set; each key names the issuer it signs for."""
    resolved = resolve_tenant(tenant)
    if resolved is None:
        return _tenant_not_found(tenant)
    emulator.discovery_hits.record(resolved.segment, "keys")
    if emulator.login_outage:
        return _outage()
    return Response(content=emulator.keys.jwks(issuer_v2(resolved.issuer_tid)), headers=_CACHE_HEADERS)


@get("/{tenant:str}/.well-known/openid-configuration", sync_to_thread=False)
def openid_configuration_v1(
    tenant: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator
) -> Response[dict[str, Any]]:
    """The v1 discovery document."""
    resolved = resolve_tenant(tenant)
    if resolved is None:
        return _tenant_not_found(tenant)
    emulator.discovery_hits.record(resolved.segment, "openid_configuration_v1")
    if emulator.login_outage:
        return _outage()
    return Response(content=_v1_document(resolved, _base_url(request, emulator)), headers=_CACHE_HEADERS)


@get("/{tenant:str}/discovery/keys", sync_to_thread=False)
def keys_v1(tenant: FromPath[str], emulator: Emulator) -> Response[dict[str, Any]]:
    """The v1 key set: the same keys, without the per-key issuer."""
    resolved = resolve_tenant(tenant)
    if resolved is None:
        return _tenant_not_found(tenant)
    emulator.discovery_hits.record(resolved.segment, "keys_v1")
    if emulator.login_outage:
        return _outage()
    return Response(content=emulator.keys.jwks(issuer=None), headers=_CACHE_HEADERS)


discovery_handlers = [openid_configuration_v2, keys_v2, openid_configuration_v1, keys_v1]
