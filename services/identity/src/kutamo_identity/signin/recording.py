"""Writing an accepted sign-in: the nonce consumed, the person linked by (tid, oid), the sign-in row and its
event's outbox row, all or nothing. Ordinary sign-ins take one statement (identity.record_sign_in,
migration 0021: one round trip); a verification sign-in, which also pins the directory with an audit
entry, keeps its multi-statement transaction."""

import uuid
from datetime import datetime, timedelta

import asyncpg

from kutamo_contracts.envelope import SOURCE_IDENTITY, Envelope, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import Binding, seal_token
from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_identity.config import Config
from kutamo_identity.outbox import writer as outbox
from kutamo_identity.scim import repository as directory
from kutamo_identity.signin import azure, nonces, secrets
from kutamo_identity.signin.linking import KnownUsers, link
from kutamo_identity.signin.refusals import refuse
from kutamo_identity.signin.schemas import SignInRequest
from kutamo_identity.tenancy import tenant_transaction
from kutamo_identity.tenants import audit
from kutamo_identity.tenants.repository import Connection, bound_elsewhere, pin_directory
from kutamo_kit.seams import Clock, IdFactory


class ConnectionChanged(Exception):
    """The connection changed (or was disabled) since it was cached; nothing was written."""


class SignInRecorder:
    def __init__(self, pool: asyncpg.Pool, config: Config, clock: Clock, new_id: IdFactory) -> None:
        self._pool = pool
        self._config = config
        self._clock = clock
        self._new_id = new_id
        self._known_users = KnownUsers()

    async def record(
        self, connection: Connection, request: SignInRequest, person: azure.MicrosoftIdentity, now: datetime,
        event_id: str, traceparent: str | None, nonce_expires: datetime,
    ) -> str:  # fmt: skip
        """Nonce, link, sign-in row and outbox row in one statement: one round trip (migration 0021)."""
        tenant_id = connection.tenant_id
        known = self._known_users.get(tenant_id, person.tid, person.oid)
        user_id, new = (known, False) if known is not None else (self._new_id(), True)
        for _ in range(3):
            envelope = self._envelope(connection, request, person, now, event_id, str(user_id), traceparent)
            try:
                row = await self._pool.fetchrow(
                    "select outcome, user_id from record_sign_in($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                    " $13, $14, $15)",
                    tenant_id, nonces.digest(request.nonce), nonce_expires, person.tid,  # asyncpg takes uuid text
                    person.oid, user_id, new, now, event_id, _text(person.name),
                    envelope.topic, envelope.key, envelope.value, outbox.encode_headers(envelope), connection.version,
                )  # fmt: skip
            except asyncpg.SerializationError:  # linked by a racing sign-in: the next call sees the link
                continue
            assert row is not None, "a function call gives one row"
            outcome, linked = row["outcome"], row["user_id"]
            if outcome == "ok":
                self._known_users.remember(tenant_id, person.tid, person.oid, user_id)
                return str(user_id)
            if outcome == "stale":
                raise ConnectionChanged
            if outcome != "relink":
                raise refuse(outcome)
            user_id, new = (linked, False) if linked is not None else (self._new_id(), True)
        raise refuse("nonce_invalid")  # three races in a row for one person: the page retries with a new nonce

    async def record_verification(
        self, connection: Connection, request: SignInRequest, person: azure.MicrosoftIdentity, now: datetime,
        event_id: str, traceparent: str | None, nonce_expires: datetime,
    ) -> str:  # fmt: skip
        """A verification sign-in: pins the directory, audited, in the same transaction as the sign-in."""
        async with tenant_transaction(self._pool, connection.tenant_id) as conn:
            if not await nonces.consume(conn, request.nonce, connection.tenant_id, nonce_expires, now):
                raise refuse("nonce_invalid")
            await self._pin(conn, connection, request, person, now)
            user_id = str(
                await link(
                    conn,
                    tenant_id=connection.tenant_id,
                    tid=person.tid,
                    oid=person.oid,
                    new_user_id=self._new_id(),
                    now=now,
                )
            )
            if await directory.is_inactive(conn, user_id):
                raise refuse("user_deactivated")
            await conn.execute(
                "insert into sign_ins (event_id, tenant_id, user_id, signed_in_at, name) values ($1, $2, $3, $4, $5)",
                event_id,
                connection.tenant_id,
                user_id,
                now,
                _text(person.name),
            )
            envelope = self._envelope(connection, request, person, now, event_id, user_id, traceparent)
            await outbox.add(conn, event_id, envelope, now)
        return user_id

    def _envelope(
        self, connection: Connection, request: SignInRequest, person: azure.MicrosoftIdentity, now: datetime,
        event_id: str, user_id: str, traceparent: str | None,
    ) -> Envelope:  # fmt: skip
        event = UserSignedIn(
            event_id=event_id,
            tenant_id=str(connection.tenant_id),
            user_id=user_id,
            azure_tid=person.tid,
            azure_oid=person.oid,
            signed_in_at=now,
            login_code=connection.login_code,
            name=person.name,
            email=person.email.address,
            email_source=person.email.source,
            email_verified=person.email.verified,
            sealed_graph_token=self._seal(request, Binding(event_id, str(connection.tenant_id), user_id, person.oid)),
        )
        return encode_record(
            USER_SIGNED_IN, event, event_id=event_id, subject=user_id, source=SOURCE_IDENTITY, time=now,
            traceparent=traceparent,
        )  # fmt: skip

    @staticmethod
    async def _pin(
        conn: asyncpg.Connection,
        connection: Connection,
        request: SignInRequest,
        person: azure.MicrosoftIdentity,
        now: datetime,
    ) -> None:
        """Consume the verification code and pin the directory, audited, in the sign-in's transaction."""
        code = request.verification_code or ""
        issued = await secrets.consume_verification_code(conn, code, connection.tenant_id, person.tid, now)
        if issued is None:
            raise refuse("verification_invalid")
        application_id = uuid.UUID(connection.application_id)
        if await bound_elsewhere(conn, connection.tenant_id, application_id, uuid.UUID(person.tid)):
            raise refuse("directory_already_bound")
        if not await pin_directory(conn, connection.tenant_id, person.tid, now):
            raise refuse("verification_invalid")
        await audit.record(
            conn, connection.tenant_id, f"microsoft:{person.tid}/{person.oid}", "azure_ad.directory_verified", now,
            before={"directory_id": None, "proposed_directory_id": connection.proposed_directory_id},
            after={
                "directory_id": person.tid, "application_id": connection.application_id, "status": "active",
                "verified_by": {"tid": person.tid, "oid": person.oid},
                "verification_code": {"created_by": issued["created_by"], "created_at": issued["created_at"]},
            },
        )  # fmt: skip

    def _seal(self, request: SignInRequest, binding: Binding) -> str | None:
        if request.access_token is None:
            return None
        lifetime = request.access_token_expires_in or self._config.graph_token_ttl_seconds
        expires = self._clock() + timedelta(seconds=lifetime)
        return seal_token(self._config.sealing_keys, binding, request.access_token, expires)


def _text(name: str | None) -> str | None:
    return name.replace("\x00", "") if name else None  # PostgreSQL text holds no NUL
