"""The SCIM use cases. Each change, its new version and its lifecycle event (through the outbox)
commit in one transaction in the tenant's context; the event's key is the Kutamo user id, so the
relay keeps one user's events in order."""

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from kutamo_contracts.envelope import SOURCE_IDENTITY, encode_record
from kutamo_contracts.events import UserLifecycleChanged
from kutamo_contracts.topics import USER_LIFECYCLE
from kutamo_identity.outbox import writer as outbox
from kutamo_identity.scim import filters, patch, repository, resources, tokens
from kutamo_identity.scim.errors import ScimError, not_found
from kutamo_identity.scim.resources import UserState
from kutamo_identity.tenancy import tenant_transaction
from kutamo_kit import logformat
from kutamo_kit.outages import DATABASE_ERRORS
from kutamo_kit.seams import Clock, IdFactory

log = logging.getLogger(__name__)

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_COUNT = 200
DEFAULT_COUNT = 100


def _conflict(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


def _user_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found(raw) from None


def change_of(before: UserState | None, after: UserState) -> str | None:
    """What the directory did, or None when nothing Kutamo keeps changed."""
    if before is None:
        return "created"
    if before.active != after.active:
        return "reactivated" if after.active else "deactivated"
    return None if msgspec.structs.asdict(before) == msgspec.structs.asdict(after) else "updated"


class ScimService:
    def __init__(self, pool: asyncpg.Pool, base_url: str, clock: Clock, new_id: IdFactory) -> None:
        self._pool = pool
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._new_id = new_id

    @property
    def base_url(self) -> str:
        return self._base_url

    async def authenticate(self, authorization: str | None) -> tokens.ScimCaller:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ScimError(401, "Send the SCIM secret token as 'Authorization: Bearer <token>'.")
        caller = await tokens.authenticate(self._pool, authorization[7:].strip())
        if caller is None:
            raise ScimError(401, "This SCIM token is unknown or revoked. Create a new one in Kutamo and paste it "
                            "into Entra's Provisioning > Admin Credentials > Secret Token.")  # fmt: skip
        logformat.bind(tenant_id=str(caller.tenant_id))
        return caller

    async def create(self, caller: tokens.ScimCaller, document: Any) -> dict[str, Any]:
        state = resources.from_document(document)
        now = self._clock()
        try:
            async with tenant_transaction(self._pool, caller.tenant_id) as conn:
                directory = await repository.pinned_directory(conn, caller.tenant_id)
                if directory is None:
                    raise ScimError(400, "This Kutamo organisation has no verified Azure AD directory yet, so users "
                                    "cannot be linked. Complete the connection's verification sign-in (or enter the "
                                    "Directory (tenant) ID) in Kutamo, then restart provisioning.")  # fmt: skip
                existing = await repository.find_by_external_id(conn, caller.tenant_id, state.external_id)
                if existing is not None and existing["deleted_at"] is None:
                    raise _conflict(f"externalId {state.external_id} is already provisioned as user "
                                    f"{existing['user_id']}.")  # fmt: skip
                other = existing["user_id"] if existing else None
                if await repository.user_name_taken(conn, caller.tenant_id, state.user_name, other):
                    raise _conflict(f"userName {state.user_name!r} is already provisioned in this organisation.")
                user_id = other or await repository.link_identity(
                    conn, caller.tenant_id, directory, uuid.UUID(state.external_id), self._new_id(), now
                )
                version = existing["version"] + 1 if existing else 1
                row = await repository.save(conn, caller.tenant_id, user_id, state, version, now)
                await self._publish(conn, caller.tenant_id, user_id, "created", state, version, now)
        except asyncpg.UniqueViolationError:
            raise _conflict("A user with this userName or externalId was provisioned at the same moment.") from None
        return resources.render(*repository.state_of(row), self._base_url)

    async def get(self, caller: tokens.ScimCaller, raw_id: str) -> dict[str, Any]:
        user_id = _user_id(raw_id)
        async with tenant_transaction(self._pool, caller.tenant_id) as conn:
            row = await repository.find(conn, caller.tenant_id, user_id)
        if row is None:
            raise not_found(raw_id)
        return resources.render(*repository.state_of(row), self._base_url)

    async def search(
        self, caller: tokens.ScimCaller, filter_text: str | None, start_index: int, count: int,
        attributes: str | None = None, excluded: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        condition, params = filters.to_sql(filter_text, 2) if filter_text else ("true", [])
        start_index, count = max(start_index, 1), min(max(count, 0), MAX_COUNT)
        async with tenant_transaction(self._pool, caller.tenant_id) as conn:
            total, rows = await repository.page(conn, caller.tenant_id, condition, params, start_index - 1, count)
        return {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": len(rows),
            "Resources": [
                resources.project(resources.render(*repository.state_of(r), self._base_url), attributes, excluded)
                for r in rows
            ],
        }

    async def replace(self, caller: tokens.ScimCaller, raw_id: str, document: Any) -> dict[str, Any]:
        new = resources.from_document(document)
        return await self._change(caller, raw_id, lambda old: _same_person(old, new))

    async def patch(self, caller: tokens.ScimCaller, raw_id: str, document: Any) -> dict[str, Any]:
        return await self._change(caller, raw_id, lambda old: patch.apply(old, document))

    async def delete(self, caller: tokens.ScimCaller, raw_id: str) -> None:
        user_id, now = _user_id(raw_id), self._clock()
        async with tenant_transaction(self._pool, caller.tenant_id) as conn:
            row = await repository.find(conn, caller.tenant_id, user_id, lock=True)
            if row is None:
                raise not_found(raw_id)
            state, meta = repository.state_of(row)
            await repository.tombstone(conn, user_id, meta.version + 1, now)
            await conn.execute("update sign_ins set name = null where user_id = $1", user_id)
            gone = UserState(external_id=state.external_id, user_name="", active=False)
            await self._publish(conn, caller.tenant_id, user_id, "deleted", gone, meta.version + 1, now)

    async def _change(self, caller: tokens.ScimCaller, raw_id: str, change: Any) -> dict[str, Any]:
        user_id, now = _user_id(raw_id), self._clock()
        try:
            async with tenant_transaction(self._pool, caller.tenant_id) as conn:
                row = await repository.find(conn, caller.tenant_id, user_id, lock=True)
                if row is None:
                    raise not_found(raw_id)
                before, meta = repository.state_of(row)
                after: UserState = change(before)
                what = change_of(before, after)
                if what is None:
                    return resources.render(before, meta, self._base_url)
                if after.user_name.lower() != before.user_name.lower() and await repository.user_name_taken(
                    conn, caller.tenant_id, after.user_name, user_id
                ):
                    raise _conflict(f"userName {after.user_name!r} is already provisioned in this organisation.")
                row = await repository.save(conn, caller.tenant_id, user_id, after, meta.version + 1, now)
                await self._publish(conn, caller.tenant_id, user_id, what, after, meta.version + 1, now)
        except asyncpg.UniqueViolationError:
            raise _conflict("Another user in this organisation has this userName.") from None
        return resources.render(*repository.state_of(row), self._base_url)

    async def _publish(
        self, conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, change: str, state: UserState,
        version: int, now: datetime,
    ) -> None:  # fmt: skip
        tid, oid = await repository.azure_ids(conn, user_id)
        event_id = str(self._new_id())
        event = UserLifecycleChanged(
            event_id=event_id, tenant_id=str(tenant_id), user_id=str(user_id), azure_tid=tid, azure_oid=oid,
            change=change, active=state.active and change != "deleted", version=version, changed_at=now,  # type: ignore[arg-type]
            name=state.name, email=state.email, title=state.title,
        )  # fmt: skip
        envelope = encode_record(
            USER_LIFECYCLE, event, event_id=event_id, subject=str(user_id), source=SOURCE_IDENTITY, time=now
        )
        await outbox.add(conn, event_id, envelope, now)
        log.info("directory change", extra={"user_id": str(user_id), "change": change, "version": version})

    async def record(
        self, caller: tokens.ScimCaller, method: str, route: str, resource_id: str | None, status: int,
        scim_type: str | None,
    ) -> None:  # fmt: skip
        """The audit row of one SCIM request: token id, method, route, status; never the payload."""
        resource = None
        if resource_id:
            try:
                resource = uuid.UUID(resource_id)
            except ValueError:
                resource = None
        try:
            async with tenant_transaction(self._pool, caller.tenant_id) as conn:
                await repository.record_request(
                    conn, caller.tenant_id, caller.token_id, self._clock(), method, route, resource, status, scim_type
                )
        except DATABASE_ERRORS as exc:
            log.warning("SCIM request not audited", extra={"error": type(exc).__name__})


def _same_person(old: UserState, new: UserState) -> UserState:
    if new.external_id != old.external_id:
        raise ScimError(
            400,
            "externalId is the person's Azure object id, which links them to their Kutamo user; it cannot change.",
            "mutability",
        )
    return new
