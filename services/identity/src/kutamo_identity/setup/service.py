"""The setup page's use cases. A setup session acts only on its link's tenant, as a tenant admin whose
actor is `setup-link:<id>`, through TenantAdminService: the rules, audit entries and errors are those
of the admin API."""

from urllib.parse import urlsplit

import asyncpg

from kutamo_identity.config import Config
from kutamo_identity.errors import BadRequest, NotFound
from kutamo_identity.login.urls import callback_url, login_url
from kutamo_identity.setup import links, sessions
from kutamo_identity.setup.problems import setup_problem
from kutamo_identity.setup.schemas import (
    Availability,
    LoginCodeAvailability,
    SetupLinkRef,
    SetupState,
    SetupTenant,
    SignInList,
    SignInSummary,
)
from kutamo_identity.setup.sessions import SetupSession
from kutamo_identity.signin import history
from kutamo_identity.tenancy import resolve_login_code, tenant_transaction
from kutamo_identity.tenants import audit, repository, rules
from kutamo_identity.tenants.keys import Principal
from kutamo_identity.tenants.schemas import AzureAdConnection
from kutamo_identity.tenants.service import TenantAdminService
from kutamo_kit.seams import Clock

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SetupService:
    def __init__(self, pool: asyncpg.Pool, config: Config, clock: Clock, tenant_admin: TenantAdminService) -> None:
        self._pool = pool
        self._config = config
        self._clock = clock
        self.tenant_admin = tenant_admin
        parts = urlsplit(config.public_base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}".lower()
        self.secure_cookie = parts.scheme == "https"

    async def open_session(self, secret: str) -> tuple[str, int]:
        """Exchange a link's secret for a setup session: the cookie value and its max age in seconds."""
        found = await links.find(self._pool, secret)
        if found is None:
            raise setup_problem("setup_link_unknown")
        now = self._clock()
        if found["revoked_at"] is not None:
            raise setup_problem("setup_link_revoked")
        if found["expires_at"] <= now:
            raise setup_problem("setup_link_expired")
        link_id, tenant_id = found["id"], found["tenant_id"]
        async with tenant_transaction(self._pool, tenant_id) as conn:
            link_expires = await links.mark_used(conn, link_id, now)
            if link_expires is None:  # revoked a moment ago
                raise setup_problem("setup_link_revoked")
            cookie, expires = await sessions.open_session(
                conn, link_id=link_id, tenant_id=tenant_id, now=now, link_expires_at=link_expires
            )
            await audit.record(
                conn, tenant_id, f"setup-link:{link_id}", "setup_link.used", now,
                after={"session_expires_at": expires.isoformat()},
            )  # fmt: skip
        return cookie, max(1, int((expires - now).total_seconds()))

    async def authenticate(self, cookie: str | None) -> SetupSession:
        session = await sessions.authenticate(self._pool, cookie, self._clock()) if cookie else None
        if session is None:
            raise setup_problem("setup_session_required")
        return session

    def check_origin(self, origin: str | None) -> None:
        """A browser names the page's origin on a cross-site request; only our own is accepted."""
        if origin is not None and origin.strip().rstrip("/").lower() != self._origin:
            raise setup_problem("csrf_failed")

    def check_csrf(self, session: SetupSession, method: str, token: str | None, origin: str | None) -> None:
        if method.upper() not in STATE_CHANGING:
            return
        self.check_origin(origin)
        if not sessions.csrf_matches(session, token):
            raise setup_problem("csrf_failed")

    async def state(self, session: SetupSession) -> SetupState:
        who = principal(session)
        tenant = await self.tenant_admin.get_tenant(who, session.tenant_id)
        return SetupState(
            tenant=SetupTenant(id=tenant.id, display_name=tenant.display_name),
            connection=await self.connection(session),
            link=SetupLinkRef(id=session.link_id, expires_at=session.link_expires_at),
            csrf_token=session.csrf_token,
            redirect_uri=callback_url(self._config.public_base_url),
            login_code_grace_days=self._config.login_code_grace_days,
            session_expires_at=session.expires_at,
        )

    async def connection(self, session: SetupSession) -> AzureAdConnection | None:
        try:
            return await self.tenant_admin.get_connection(principal(session), session.tenant_id)
        except NotFound:
            return None

    async def login_code(self, session: SetupSession, code: str) -> LoginCodeAvailability:
        """Whether the tenant could take this code now; a look-up only, nothing is reserved."""
        try:
            rules.check_login_code(code)
        except BadRequest as refused:
            kind: Availability = "reserved" if refused.code == "reserved_login_code" else "invalid"
            return LoginCodeAvailability(code=code, availability=kind, login_url=None, detail=refused.detail)
        url = login_url(self._config.public_base_url, code)
        async with tenant_transaction(self._pool, session.tenant_id) as conn:
            current = await repository.connection_row(conn, session.tenant_id)
        current_code: str | None = current["login_code"] if current else None
        if current_code is not None and current_code.lower() == code.lower():
            detail = "This is your organisation's current login code."
            return LoginCodeAvailability(code=code, availability="current", login_url=url, detail=detail)
        owner = await resolve_login_code(self._pool, code)
        if owner is not None and owner != session.tenant_id:
            detail = f"Another organisation uses the login code {code!r}, or did until recently; choose another."
            return LoginCodeAvailability(code=code, availability="taken", login_url=url, detail=detail)
        detail = f"Available: your people will sign in at {url}."
        if current_code is not None:
            days = self._config.login_code_grace_days
            detail += f" The current code {current_code!r} keeps working for {days} days after the change."
        return LoginCodeAvailability(code=code, availability="available", login_url=url, detail=detail)

    async def sign_ins(self, session: SetupSession, limit: int) -> SignInList:
        async with tenant_transaction(self._pool, session.tenant_id) as conn:
            rows = await history.recent(conn, session.tenant_id, limit)
        return SignInList(sign_ins=[SignInSummary(at=r["at"], name=r["name"], result=r["result"]) for r in rows])


def principal(session: SetupSession) -> Principal:
    """The setup session as a tenant admin of its link's tenant, named after the link in the audit log."""
    return Principal(actor=session.actor, scope="tenant-admin", tenant_id=session.tenant_id)
