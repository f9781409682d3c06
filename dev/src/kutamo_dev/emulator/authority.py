"""Tenant segments of Microsoft's login paths and the issuer strings Microsoft derives from them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = [
    "CONSUMERS_TENANT_ID",
    "GRAPH_HOST",
    "LOGIN_HOST",
    "Tenant",
    "issuer_v1",
    "issuer_v2",
    "resolve_tenant",
]

# Real tokens carry Microsoft's hosts even when the emulator serves on localhost; clients that
# compare issuers must see exactly what production would send them.
LOGIN_HOST = "https://login.microsoftonline.com"
GRAPH_HOST = "graph.microsoft.com"
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
_TEMPLATE_TENANT = "{tenantid}"


@dataclass(frozen=True, slots=True)
class Tenant:
    """The `{tenant}` path segment: the segment as written and the directory id it names, if one."""

    segment: str
    tid: str | None

    @property
    def issuer_tid(self) -> str:
        """The tenant part of the issuer: the GUID, or Microsoft's literal template for multi-tenant."""
        return self.tid if self.tid is not None else _TEMPLATE_TENANT


def resolve_tenant(segment: str) -> Tenant | None:
    """Map a path segment to a tenant; None when Microsoft would answer AADSTS90002 (not found)."""
    lowered = segment.lower()
    if lowered in {"common", "organizations"}:
        return Tenant(segment=lowered, tid=None)
    if lowered == "consumers":
        return Tenant(segment=lowered, tid=CONSUMERS_TENANT_ID)
    try:
        return Tenant(segment=lowered, tid=str(uuid.UUID(segment)))
    except ValueError:
        return None


def issuer_v2(tid: str) -> str:
    """The v2.0 issuer for a directory (or the `{tenantid}` template)."""
    return f"{LOGIN_HOST}/{tid}/v2.0"


def issuer_v1(tid: str) -> str:
    """The v1.0 issuer for a directory (or the `{tenantid}` template); note the trailing slash."""
    return f"https://sts.windows.net/{tid}/"
