"""Who is asking the read API: a Kutamo session of one tenant, or an operator; both in
`Authorization: Bearer` (a session is a JWT, the operator key is not). `X-Operator-Key` is deprecated:
accepted for this release, logged once (kutamo_kit.operators). A session
of a user the directory deactivated or deleted (issue 16) is refused as soon as the worker has applied
that lifecycle event, not only when the session expires.
"""

import contextlib
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar import Request

from kutamo_kit.operators import DEPRECATED_HEADER, OperatorKey, bearer
from kutamo_provisioning.errors import ApiError
from kutamo_provisioning.sessions import SessionVerifier
from kutamo_provisioning.tenancy import tenant_transaction, worker_transaction


class Caller(msgspec.Struct, frozen=True):
    tenant_id: uuid.UUID | None
    """The session's tenant; None for an operator, who may read every tenant."""

    def may_read(self, tenant_id: uuid.UUID) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id

    def transaction(self, pool: asyncpg.Pool) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        """A transaction that sees what this caller may read (row-level security): a tenant, or all."""
        return worker_transaction(pool) if self.tenant_id is None else tenant_transaction(pool, self.tenant_id)


class Access:
    def __init__(self, verifier: SessionVerifier, operator_key: str | None, pool: asyncpg.Pool | None = None) -> None:
        self._verifier = verifier
        self._pool = pool
        self._operator = OperatorKey(operator_key)

    async def caller(self, request: Request[Any, Any, Any]) -> Caller:
        authorization = request.headers.get("authorization")
        offered = bearer(authorization)
        operator = offered is not None and offered.count(".") < 2  # a session is a JWT, the operator key not
        legacy = request.headers.get(DEPRECATED_HEADER)
        if offered is None and legacy is not None:
            self._operator.deprecated_header_used()
            offered, operator = legacy, True
        if operator:
            assert offered is not None
            if not self._operator.matches(offered):
                raise ApiError(401, "operator_key_invalid", "The operator key is not valid.")
            return Caller(tenant_id=None)
        claims = await self._verifier.verify(authorization)
        try:
            caller = Caller(tenant_id=uuid.UUID(str(claims["tenant_id"])))
            user_id = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise ApiError(401, "session_invalid", "The session token is not valid; sign in again.") from None
        if self._pool is not None and await self._deactivated(caller, user_id):
            detail = "Your organisation has deactivated your account; this session is no longer accepted."
            raise ApiError(401, "user_deactivated", detail)
        return caller

    async def _deactivated(self, caller: Caller, user_id: uuid.UUID) -> bool:
        assert self._pool is not None
        # Read within the session's tenant: row-level security shows nothing outside a tenant context.
        async with caller.transaction(self._pool) as conn:
            inactive: bool | None = await conn.fetchval(
                "select not active or deleted_at is not null from users where user_id = $1", user_id
            )
        return bool(inactive)
