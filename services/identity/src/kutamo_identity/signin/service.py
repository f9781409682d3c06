"""The sign-in use case: validate, link, record the sign-in and its event in one transaction, issue a session."""

import logging
import time
import uuid
from datetime import timedelta

import asyncpg

from kutamo_identity.config import Config
from kutamo_identity.errors import NotFound, SignInRefused
from kutamo_identity.login.urls import callback_url
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.sessions.issuer import SessionIssuer
from kutamo_identity.signin import azure, compact, history, microsoft_errors, nonces, secrets
from kutamo_identity.signin.keys import SigningKeys
from kutamo_identity.signin.popup import POPUP_HELP
from kutamo_identity.signin.recording import ConnectionChanged, SignInRecorder
from kutamo_identity.signin.refusals import refuse
from kutamo_identity.signin.schemas import (
    LoginConfiguration,
    MicrosoftErrorGuidance,
    MicrosoftErrorReport,
    SignInRequest,
    SignInResponse,
)
from kutamo_identity.tenancy import tenant_transaction
from kutamo_identity.tenants.cache import ConnectionCache
from kutamo_identity.tenants.repository import Connection
from kutamo_identity.tenants.rules import LOGIN_CODE
from kutamo_kit import logformat
from kutamo_kit.outages import DATABASE_ERRORS
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
        connections: ConnectionCache,
    ) -> None:
        self._pool = pool
        self._keys = keys
        self._sessions = sessions
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._new_id = new_id
        self._nonce_key = nonces.derive_key(config.sealing_keys.current)
        self._connections = connections
        self._recorder = SignInRecorder(pool, config, clock, new_id)

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
            response = await self._decide(connection, request, traceparent)
        except SignInRefused as refusal:
            self._metrics.sign_in(str(connection.tenant_id), refusal.code)
            logformat.summarise("sign-in refused", code=refusal.code)  # on the request's access line
            await self._remember_refusal(connection.tenant_id, refusal.code)
            raise
        self._metrics.sign_in(str(connection.tenant_id), "ok")
        logformat.summarise("sign-in accepted", user_id=response.user_id, event_id=response.event_id)
        return response

    async def _decide(self, connection: Connection, request: SignInRequest, traceparent: str | None) -> SignInResponse:
        """Sign in on the cached connection; when it refuses, or the database finds the connection changed,
        once more on the connection as it is now (an admin may have changed it a moment ago, its NOTIFY
        still on the way). Nothing was written by the first attempt either way."""
        try:
            return await self._sign_in(connection, request, traceparent)
        except (SignInRefused, ConnectionChanged) as first:
            current = await self._connection(request.login_code, fresh=True)
            if current == connection:
                if isinstance(first, ConnectionChanged):
                    raise refuse("connection_disabled") from None
                raise
        try:
            return await self._sign_in(current, request, traceparent)
        except ConnectionChanged:
            raise refuse("connection_disabled") from None

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
        nonce_expires = nonces.check(self._nonce_key, request.nonce, connection.tenant_id, now)
        if nonce_expires is None:
            raise refuse("nonce_invalid")
        if verifying:
            user_id = await self._recorder.record_verification(
                connection, request, person, now, event_id, traceparent, nonce_expires
            )
        else:
            user_id = await self._recorder.record(
                connection, request, person, now, event_id, traceparent, nonce_expires
            )
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

    async def _remember_refusal(self, tenant_id: uuid.UUID, code: str) -> None:
        """For the tenant's setup page; failing to remember one must not change the answer."""
        try:
            async with tenant_transaction(self._pool, tenant_id) as conn:
                await history.record_refusal(conn, tenant_id, self._clock(), code)
        except DATABASE_ERRORS as exc:
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

    async def _connection(self, login_code: str, *, fresh: bool = False) -> Connection:
        # Only codes that could exist reach the database (and no NUL byte, which PostgreSQL refuses).
        valid = LOGIN_CODE.fullmatch(login_code)
        connection = await self._connections.find(login_code, fresh=fresh) if valid else None
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


def _text(name: str | None) -> str | None:
    return name.replace("\x00", "") if name else None  # PostgreSQL text holds no NUL
