"""Who may call the admin API: API keys in `Authorization: Bearer <key>`, checked per tenant and scope.

An operator key acts on every tenant; a tenant-admin key only on its own. The bootstrap operator key
(KUTAMO_OPERATOR_KEY) is compared in constant time and never stored.
"""

import uuid

import asyncpg

from kutamo_identity.errors import Forbidden, Unauthorized
from kutamo_identity.tenants import keys
from kutamo_identity.tenants.keys import Principal
from kutamo_kit.operators import OperatorKey, bearer

BOOTSTRAP = Principal(actor="operator-key:env", scope="operator", tenant_id=None)


class Authenticator:
    def __init__(self, pool: asyncpg.Pool, bootstrap_operator_key: str | None) -> None:
        self._pool = pool
        self._bootstrap = OperatorKey(bootstrap_operator_key)

    async def principal(self, authorization: str | None) -> Principal:
        key = bearer(authorization)
        if key is None:
            raise Unauthorized(
                "api_key_required", "Send an API key as 'Authorization: Bearer <key>'. Operators create keys."
            )
        if self._bootstrap.matches(key):
            return BOOTSTRAP
        principal = await keys.authenticate(self._pool, key) if key.startswith(keys.PREFIX) else None
        if principal is None:
            raise Unauthorized("api_key_invalid", "This API key is unknown or revoked. Ask an operator for a new one.")
        return principal


def require_tenant(principal: Principal, tenant_id: uuid.UUID) -> None:
    """The caller may act on this tenant: an operator, or that tenant's own admin."""
    if not principal.is_operator and principal.tenant_id != tenant_id:
        raise Forbidden("forbidden_tenant", "This API key belongs to another tenant and cannot act on this one.")


def require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise Forbidden("forbidden_scope", "Only an operator key can do this; tenant-admin keys cannot.")
