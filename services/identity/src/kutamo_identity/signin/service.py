"""The sign-in use case: validate, link, record the sign-in and its event in one transaction, issue a session."""

import logging
import time
import uuid
from datetime import datetime, timedelta

import asyncpg

from kutamo_contracts import logformat
from kutamo_contracts.envelope import SOURCE_IDENTITY, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import Binding, seal_token
from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_identity.config import Config
from kutamo_identity.errors import NotFound, SignInRefused
from kutamo_identity.login.urls import callback_url
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox import writer as outbox
from kutamo_identity.scim import repository as directory
from kutamo_identity.sessions.issuer import SessionIssuer
from kutamo_identity.signin import azure, compact, history, microsoft_errors, nonces, secrets
from kutamo_identity.signin.keys import SigningKeys
from kutamo_identity.signin.linking import link
from kutamo_identity.signin.popup import POPUP_HELP
from kutamo_identity.signin.refusals import refuse
from kutamo_identity.signin.schemas import (
    LoginConfiguration,
    MicrosoftErrorGuidance,
    MicrosoftErrorReport,
    SignInRequest,
    SignInResponse,
)
from kutamo_identity.tenancy import tenant_transaction
from kutamo_identity.tenants import audit
from kutamo_identity.tenants.repository import Connection, bound_elsewhere, find_by_login_code, pin_directory
from kutamo_identity.tenants.rules import LOGIN_CODE
from kutamo_kit.seams import Clock, IdFactory

log = logging.getLogger(__name__)

SCOPES = ["openid", "profile", "email", "User.Read"]


class SignInService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: SigningKeys,
        sessions: SessionIssuer,
        config: Config,
        metrics: IdentityMetrics,
        clock: Clock,
        new_id: IdFactory,
    ) -> None:
        self._pool = pool
        self._keys = keys
        self._sessions = sessions
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._new_id = new_id
        self._nonce_key = nonces.derive_key(config.sealing_keys.current)

    async def login_configuration(self, login_code: str) -> LoginConfiguration:
        connection = await self._connection(login_code)
        if connection.status == "disabled":
            raise self._unknown(login_code)
        # A proposed directory is the authority of the verification sign-in: a single-tenant app can only be
        # reached through its own directory (at /organizations Microsoft answers AADSTS50194).
        directory = connection.directory_id or connection.proposed_directory_id or "organizations"
        now = self._clock()
        expires = (now + timedelta(seconds=self._config.login_nonce_ttl_seconds)).replace(microsecond=0)
        nonce = nonces.issue(self._nonce_key, connection.tenant_id, expires)
        return LoginConfiguration(
            login_code=connection.login_code,
            organisation_name=connection.tenant_name,
            user_note=connection.user_note,
            client_id=connection.application_id,
            authority=f"{self._config.azure_login_base_url}/{directory}",
            scopes=SCOPES,
            popup_help=POPUP_HELP,
            nonce=nonce,
            nonce_expires_at=expires,
            status=connection.status,
            sign_in_flow=connection.sign_in_flow,
            redirect_uri=callback_url(self._config.public_base_url),
        )

    async def connection_for_page(self, login_code: str) -> Connection:
        """The connection behind a login page; unknown and disabled codes are NotFound alike."""
        connection = await self._connection(login_code)
        if connection.status == "disabled":
            raise self._unknown(login_code)
        return connection

    async def sign_in(self, request: SignInRequest, traceparent: str | None = None) -> SignInResponse:
        connection = await self._connection(request.login_code)
        logformat.bind(tenant_id=str(connection.tenant_id))
        try:
            response = await self._sign_in(connection, request, traceparent)
        except SignInRefused as refusal:
            self._metrics.sign_in(str(connection.tenant_id), refusal.code)
            log.info("sign-in refused", extra={"code": refusal.code})
            await self._remember_refusal(connection.tenant_id, refusal.code)
            raise
        self._metrics.sign_in(str(connection.tenant_id), "ok")
        log.info("sign-in accepted", extra={"user_id": response.user_id, "event_id": response.event_id})
        return response

    async def _sign_in(self, connection: Connection, request: SignInRequest, traceparent: str | None) -> SignInResponse:
        # The Graph token is sealed for the worker, which puts it in an HTTP header: only a token of
        # Microsoft's shape travels (an id_token without at_hash does not bind it to anything).
        if request.access_token is not None and not compact.is_jose_compact(request.access_token):
            raise refuse("access_token_malformed")
        verifying = await self._verifying(connection, request)
        started = time.perf_counter()
        person = await azure.validate(
            request.id_token,
            connection=connection,
            keys=self._keys,
            expect=azure.Expectations(
                nonce=request.nonce,
                access_token=request.access_token,
                skew_seconds=self._config.clock_skew_seconds,
                verifying=verifying,
            ),
            now=self._clock().timestamp(),
        )
        self._metrics.validation_seconds.observe(time.perf_counter() - started)
        now = self._clock()
        event_id = str(self._new_id())
        # Outside the transaction: a key is taken as published only once its row is committed.
        await self._sessions.publish_due(self._pool, now)
        async with tenant_transaction(self._pool, connection.tenant_id) as conn:
            nonce_expires = nonces.check(self._nonce_key, request.nonce, connection.tenant_id, now)
            if nonce_expires is None or not await nonces.consume(
                conn, request.nonce, connection.tenant_id, nonce_expires, now
            ):
                raise refuse("nonce_invalid")
            if verifying:
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
                person.name.replace("\x00", "") if person.name else None,  # PostgreSQL text holds no NUL
            )
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
                sealed_graph_token=self._seal(
                    request, Binding(event_id, str(connection.tenant_id), user_id, person.oid)
                ),
            )
            envelope = encode_record(
                USER_SIGNED_IN,
                event,
                event_id=event_id,
                subject=user_id,
                source=SOURCE_IDENTITY,
                time=now,
                traceparent=traceparent,
            )
            await outbox.add(conn, event_id, envelope, now)
        token, expires = self._sessions.issue(user_id=user_id, tenant_id=str(connection.tenant_id), now=now)
        return SignInResponse(
            user_id=user_id,
            tenant_id=str(connection.tenant_id),
            session_token=token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_at=expires,
            event_id=event_id,
            directory_verified=verifying,
        )

    async def _verifying(self, connection: Connection, request: SignInRequest) -> bool:
        """True for a valid verification sign-in of a pending connection; checked before any key fetch."""
        if request.verification_code is None:
            return False
        if connection.directory_id is not None:
            raise refuse("verification_invalid")
        async with tenant_transaction(self._pool, connection.tenant_id) as conn:
            valid = await secrets.verification_code_valid(
                conn, request.verification_code, connection.tenant_id, self._clock()
            )
        if not valid:
            raise refuse("verification_invalid")
        return True

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

    async def _remember_refusal(self, tenant_id: uuid.UUID, code: str) -> None:
        """For the tenant's setup page; failing to remember one must not change the answer."""
        try:
            async with tenant_transaction(self._pool, tenant_id) as conn:
                await history.record_refusal(conn, tenant_id, self._clock(), code)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("sign-in refusal not recorded", extra={"error": type(exc).__name__})

    async def report_microsoft_error(self, login_code: str, report: MicrosoftErrorReport) -> MicrosoftErrorGuidance:
        connection = await self._connection(login_code)
        found = microsoft_errors.guidance(report.error, report.error_description, report.error_codes)
        label = found.code if found.code in microsoft_errors.KNOWN_CODES else "other"
        self._metrics.microsoft_error(str(connection.tenant_id), label)
        admin_hint = found.admin_hint
        if admin_hint and found.code in microsoft_errors.ABOUT_REDIRECT_URI:
            admin_hint += f" The redirect URI to register: {callback_url(self._config.public_base_url)}"
        return MicrosoftErrorGuidance(code=found.code, detail=found.detail, admin_hint=admin_hint, retry=found.retry)

    def _seal(self, request: SignInRequest, binding: Binding) -> str | None:
        if request.access_token is None:
            return None
        lifetime = request.access_token_expires_in or self._config.graph_token_ttl_seconds
        expires = self._clock() + timedelta(seconds=lifetime)
        return seal_token(self._config.sealing_keys, binding, request.access_token, expires)

    async def _connection(self, login_code: str) -> Connection:
        # Only codes that could exist reach the database (and no NUL byte, which PostgreSQL refuses).
        connection = await find_by_login_code(self._pool, login_code) if LOGIN_CODE.fullmatch(login_code) else None
        if connection is None:
            self._metrics.sign_in("unknown", "unknown_login_code")
            raise self._unknown(login_code)
        return connection

    @staticmethod
    def _unknown(login_code: str) -> NotFound:
        return NotFound(
            "unknown_login_code",
            f"No organisation uses the login code {login_code!r}. Check the link your IT admin sent you.",
        )
