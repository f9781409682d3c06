"""The tenant admin use cases. Each change and its audit entry commit together, in the tenant's context."""

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec

from kutamo_identity.config import Config
from kutamo_identity.errors import BadRequest, Conflict, NotFound
from kutamo_identity.login.urls import callback_url, login_url
from kutamo_identity.signin import secrets
from kutamo_identity.tenancy import tenant_transaction
from kutamo_identity.tenants import audit, binding, keys, repository, rules
from kutamo_identity.tenants.auth import require_operator, require_tenant
from kutamo_identity.tenants.keys import Principal
from kutamo_identity.tenants.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    AuditEntry,
    AuditPage,
    AzureAdConnection,
    AzureAdConnectionPut,
    DirectoryApproval,
    DirectoryApproved,
    Tenant,
    TenantCreate,
    VerificationCode,
)
from kutamo_kit.seams import Clock


def _tenant_missing() -> NotFound:
    return NotFound("tenant_not_found", "There is no tenant with this id.")


def _connection_missing() -> NotFound:
    return NotFound("connection_not_found", "This tenant has no Azure AD connection yet; create it with PUT.")


class TenantAdminService:
    def __init__(self, pool: asyncpg.Pool, config: Config, clock: Clock) -> None:
        self._pool = pool
        self._config = config
        self._clock = clock

    async def create_tenant(self, who: Principal, body: TenantCreate) -> Tenant:
        require_operator(who)
        rules.check_text(body.display_name, "display_name")
        tenant_id, now = uuid.uuid4(), self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            await repository.create_tenant(conn, tenant_id, body.display_name.strip(), now)
            await audit.record(
                conn, tenant_id, who.actor, "tenant.created", now, after={"display_name": body.display_name}
            )
        return Tenant(id=tenant_id, display_name=body.display_name.strip(), created_at=now)

    async def get_tenant(self, who: Principal, tenant_id: uuid.UUID) -> Tenant:
        require_tenant(who, tenant_id)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            row = await repository.get_tenant(conn, tenant_id)
        if row is None:
            raise _tenant_missing()
        return msgspec.convert(row, Tenant)

    async def create_api_key(self, who: Principal, tenant_id: uuid.UUID, body: ApiKeyCreate) -> ApiKeyCreated:
        require_operator(who)
        rules.check_text(body.name, "name")
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            if await repository.get_tenant(conn, tenant_id) is None:
                raise _tenant_missing()
            described, key = await keys.create(
                conn, tenant_id=tenant_id, scope="tenant-admin", name=body.name, created_by=who.actor, now=now
            )
            await audit.record(conn, tenant_id, who.actor, "api_key.created", now, after=public_row(described))
        return msgspec.convert({**described, "key": key}, ApiKeyCreated)

    async def list_api_keys(self, who: Principal, tenant_id: uuid.UUID) -> list[ApiKey]:
        require_tenant(who, tenant_id)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            return [msgspec.convert(row, ApiKey) for row in await keys.listing(conn, tenant_id)]

    async def revoke_api_key(self, who: Principal, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
        require_operator(who)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            revoked = await keys.revoke(conn, tenant_id, key_id, now)
            if revoked is None:
                raise NotFound("api_key_not_found", "This tenant has no API key with this id.")
            await audit.record(conn, tenant_id, who.actor, "api_key.revoked", now, after=public_row(revoked))

    async def put_connection(
        self, who: Principal, tenant_id: uuid.UUID, body: AzureAdConnectionPut
    ) -> AzureAdConnection:
        require_tenant(who, tenant_id)
        application_id = rules.parse_application_id(body.application_id)
        login_code = rules.check_login_code(body.login_code)
        note = rules.check_user_note(body.user_note)
        entered = rules.parse_directory_id(body.directory_id) if body.directory_id else None
        now = self._clock()
        grace = now + timedelta(days=self._config.login_code_grace_days)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            if await repository.get_tenant(conn, tenant_id) is None:
                raise _tenant_missing()
            before = await repository.connection_row(conn, tenant_id)
            directory_id, proposed = binding.directories(who, before, entered)
            if (
                directory_id is not None
                and binding.pair_changes(before, application_id, directory_id)
                and await repository.bound_elsewhere(conn, tenant_id, application_id, directory_id)
            ):
                raise binding.already_bound()
            status = "disabled" if before and before["status"] == "disabled" else (
                "active" if directory_id else "pending_verification"
            )  # fmt: skip
            try:
                await repository.claim_login_code(
                    conn, tenant_id, login_code, before["login_code"] if before else None, now, grace
                )
                await repository.upsert_connection(
                    conn, tenant_id=tenant_id, application_id=application_id, login_code=login_code, user_note=note,
                    directory_id=directory_id, status=status, now=now, proposed_directory_id=proposed,
                    sign_in_flow=body.sign_in_flow or (before["sign_in_flow"] if before else "implicit"),
                    allow_guests=body.allow_guests if body.allow_guests is not None else bool(
                        before and before["allow_guests"]
                    ),
                )  # fmt: skip
            except (repository.LoginCodeTaken, asyncpg.UniqueViolationError, asyncpg.InsufficientPrivilegeError):
                raise Conflict(
                    "login_code_taken",
                    f"The login code {login_code!r} is already used by another organisation; choose another.",
                ) from None
            after = await repository.connection_row(conn, tenant_id)
            action = "azure_ad.updated" if before else "azure_ad.created"
            await audit.record(
                conn, tenant_id, who.actor, action, now, before=public_row(before), after=public_row(after)
            )
        assert after is not None
        return self._connection(after)

    async def get_connection(self, who: Principal, tenant_id: uuid.UUID) -> AzureAdConnection:
        require_tenant(who, tenant_id)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            row = await repository.connection_row(conn, tenant_id)
        if row is None:
            raise _connection_missing()
        return self._connection(row)

    async def delete_connection(self, who: Principal, tenant_id: uuid.UUID) -> None:
        require_tenant(who, tenant_id)
        now = self._clock()
        grace = now + timedelta(days=self._config.login_code_grace_days)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            before = await repository.connection_row(conn, tenant_id)
            if before is None:
                raise _connection_missing()
            if before["disabled_by_operator"] and not who.is_operator:
                raise binding.disabled_by_operator()  # deleting and recreating would turn sign-in back on
            await repository.delete_connection(conn, tenant_id, grace)
            await audit.record(
                conn, tenant_id, who.actor, "azure_ad.deleted", now, before=public_row(before),
                after={"login_code_reserved_until": grace.isoformat()},
            )  # fmt: skip

    async def set_enabled(self, who: Principal, tenant_id: uuid.UUID, enabled: bool) -> AzureAdConnection:
        require_tenant(who, tenant_id)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            before = await repository.connection_row(conn, tenant_id)
            if before is None:
                raise _connection_missing()
            if enabled and before["disabled_by_operator"] and not who.is_operator:
                raise binding.disabled_by_operator()
            status = ("active" if before["directory_id"] else "pending_verification") if enabled else "disabled"
            # An operator's "off" stays an operator's even if the tenant admin presses "off" again.
            by_operator = who.is_operator or bool(before["disabled_by_operator"])
            await repository.set_status(conn, tenant_id, status, now, by_operator=by_operator)
            after = await repository.connection_row(conn, tenant_id)
            action = "azure_ad.enabled" if enabled else "azure_ad.disabled"
            await audit.record(
                conn, tenant_id, who.actor, action, now, before=public_row(before), after=public_row(after)
            )
        assert after is not None
        return self._connection(after)

    async def approve_directory(
        self, who: Principal, tenant_id: uuid.UUID, body: DirectoryApproval
    ) -> DirectoryApproved:
        """An operator lets this tenant pin a directory another tenant pinned for the same application."""
        require_operator(who)
        directory_id = rules.parse_directory_id(body.directory_id)
        now = self._clock()
        async with tenant_transaction(self._pool, tenant_id) as conn:
            if await repository.get_tenant(conn, tenant_id) is None:
                raise _tenant_missing()
            if body.application_id is not None:
                application_id = rules.parse_application_id(body.application_id)
            else:
                row = await repository.connection_row(conn, tenant_id)
                if row is None:
                    raise _connection_missing()
                application_id = row["application_id"]
            await repository.approve_directory(conn, tenant_id, application_id, directory_id, who.actor, now)
            approved = {"application_id": str(application_id), "directory_id": str(directory_id)}
            await audit.record(conn, tenant_id, who.actor, "azure_ad.directory_approved", now, after=approved)
        return DirectoryApproved(
            tenant_id=tenant_id, application_id=str(application_id), directory_id=str(directory_id),
            approved_at=now, approved_by=who.actor,
        )  # fmt: skip

    async def create_verification_code(self, who: Principal, tenant_id: uuid.UUID) -> VerificationCode:
        require_tenant(who, tenant_id)
        now = self._clock()
        ttl = timedelta(seconds=self._config.verification_code_ttl_seconds)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            row = await repository.connection_row(conn, tenant_id)
            if row is None:
                raise _connection_missing()
            if row["directory_id"] is not None:
                raise BadRequest("already_verified", "This connection's directory is already set; nothing to verify.")
            code = await secrets.issue_verification_code(conn, tenant_id, now, ttl, who.actor)
            await audit.record(conn, tenant_id, who.actor, "azure_ad.verification_code_created", now)
        login_url = self._login_url(row["login_code"]) + f"?verification_code={code}"
        return VerificationCode(verification_code=code, login_url=login_url, expires_at=now + ttl)

    async def audit_log(self, who: Principal, tenant_id: uuid.UUID, limit: int, before: int | None) -> AuditPage:
        require_tenant(who, tenant_id)
        async with tenant_transaction(self._pool, tenant_id) as conn:
            if await repository.get_tenant(conn, tenant_id) is None:
                raise _tenant_missing()
            rows = await audit.page(conn, tenant_id, limit, before)
        entries = [msgspec.convert(row, AuditEntry) for row in rows]
        return AuditPage(entries=entries, next_before=entries[-1].id if len(entries) == limit else None)

    def _connection(self, row: dict[str, Any]) -> AzureAdConnection:
        return AzureAdConnection(
            tenant_id=row["tenant_id"],
            application_id=str(row["application_id"]),
            login_code=row["login_code"],
            login_url=self._login_url(row["login_code"]),
            user_note=row["user_note"],
            directory_id=str(row["directory_id"]) if row["directory_id"] else None,
            status=row["status"],
            sign_in_flow=row["sign_in_flow"],
            redirect_uri=callback_url(self._config.public_base_url),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            proposed_directory_id=str(row["proposed_directory_id"]) if row["proposed_directory_id"] else None,
            verification_required=row["directory_id"] is None,
            allow_guests=row["allow_guests"],
            disabled_by_operator=row["disabled_by_operator"],
        )

    def _login_url(self, login_code: str) -> str:
        return login_url(self._config.public_base_url, login_code)


def public_row(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the audit log keeps of a row: everything but secrets and the bookkeeping timestamps."""
    if row is None:
        return None
    hidden = {"key_hash", "created_at", "updated_at", "tenant_name"}
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in row.items() if k not in hidden}
