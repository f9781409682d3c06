"""The composition root: create_app(config) wires the pool, keys, relay and routes together."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from kutamo_identity import db
from kutamo_identity.config import Config
from kutamo_identity.correlation import CorrelationMiddleware
from kutamo_identity.erasure.controller import ErasureController
from kutamo_identity.erasure.service import ErasureService
from kutamo_identity.health import HealthController, watch_readiness
from kutamo_identity.login.controller import AssetsController, LoginPagesController
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.ops.controller import OpsController
from kutamo_identity.ops.pipeline import PipelineView
from kutamo_identity.outbox.relay import RelayProcess, relay_process
from kutamo_identity.ratelimit import ClientRateLimiter
from kutamo_identity.scim import routes as scim
from kutamo_identity.sessions import issuer as session_keys
from kutamo_identity.sessions.issuer import SessionIssuer
from kutamo_identity.setup import sessions as setup_sessions
from kutamo_identity.setup.admin import SetupLinkService
from kutamo_identity.setup.controller import SetupApiController, SetupLinksController, SetupSessionController
from kutamo_identity.setup.service import SetupService
from kutamo_identity.signin import secrets
from kutamo_identity.signin.controller import SignInController
from kutamo_identity.signin.keys import SigningKeys
from kutamo_identity.signin.service import SignInService
from kutamo_identity.tenancy import operator_transaction
from kutamo_identity.tenants.auth import Authenticator
from kutamo_identity.tenants.cache import ConnectionCache
from kutamo_identity.tenants.controller import OperatorsController, TenantsController
from kutamo_identity.tenants.operators import OperatorService
from kutamo_identity.tenants.service import TenantAdminService
from kutamo_kit import runtime
from kutamo_kit.kafka.connectivity import KafkaConnectivity, install
from kutamo_kit.openapi import bearer, openapi
from kutamo_kit.outages import DATABASE, DATABASE_ERRORS, database_unavailable
from kutamo_kit.problems import BodyDepthGuardedRequest, exception_handlers
from kutamo_kit.seams import Clock, IdFactory, random_id, system_clock


def _provide_operators(state: State) -> OperatorService:
    service: OperatorService = state.operators
    return service


def _provide_erasure(state: State) -> ErasureService:
    service: ErasureService = state.erasure
    return service


def _administration(state: State, pool: asyncpg.Pool, config: Config, clock: Clock, new_id: IdFactory) -> None:
    """The use cases of admins and operators: tenants, erasure, setup links, operator keys, auth."""
    state.tenant_admin = TenantAdminService(pool, config, clock)
    state.erasure = ErasureService(pool, clock, new_id)
    state.setup_links = SetupLinkService(pool, config.public_base_url, clock)
    state.operators = OperatorService(pool, clock)
    state.setup_service = SetupService(pool, config, clock, state.tenant_admin)
    state.authenticator = Authenticator(pool, config.operator_key)


def create_app(
    config: Config,
    *,
    clock: Clock = system_clock,
    new_id: IdFactory = random_id,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Litestar:
    metrics = IdentityMetrics()
    kafka = KafkaConnectivity(config.kafka_bootstrap_servers, metrics=metrics.kafka, waiting=metrics.relay.waiting)
    relay = relay_process(config, metrics, kafka)
    stopping = asyncio.Event()
    sessions = SessionIssuer(
        config.public_base_url,
        config.session_ttl_seconds,
        rotation=timedelta(hours=config.session_key_rotation_hours),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        install(kafka)  # aiokafka's outage chatter becomes this tracker's few lines
        # Nothing here waits for PostgreSQL: a process started (or replaced) while it is away serves 503
        # database_unavailable and is not ready until its start-up work below is done (docs/operations.md).
        pool = await db.create_pool(config.database_url, max_size=config.database_pool_size)
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), transport=transport)
        keys = SigningKeys(
            http,
            config.azure_login_base_url,
            clock,
            ttl=timedelta(seconds=config.signing_keys_ttl_seconds),
            min_refresh=timedelta(seconds=config.signing_keys_min_refresh_seconds),
            on_refresh=lambda ok: metrics.key_refreshes.labels("ok" if ok else "failed").inc(),
        )
        app.state.db_pool = pool
        app.state.rate_limiter = ClientRateLimiter(config.rate_limit_per_minute, clock)
        connections = ConnectionCache(pool)
        app.state.signin_service = SignInService(pool, keys, sessions, config, metrics, clock, new_id, connections)
        _administration(app.state, pool, config, clock, new_id)
        app.state.pipeline = PipelineView(
            pool,
            config.kafka_bootstrap_servers,
            config.provisioning_consumer_group,
            config.provisioning_base_url,
            metrics.recent_sign_ins,
            metrics.recent_microsoft_errors,
            clock,
            kafka,
        )
        relay_task = asyncio.create_task(relay.run(stopping), name="outbox-relay")
        chores = [
            asyncio.create_task(kafka.watch(), name="kafka-connectivity"),
            asyncio.create_task(keys.keep_fresh(config.signing_keys_ttl_seconds / 4), name="signing-keys"),
            asyncio.create_task(_keep_session_keys_published(pool, sessions, clock), name="session-keys"),
            asyncio.create_task(_housekeeping(pool, clock), name="housekeeping"),
            asyncio.create_task(watch_readiness(pool, relay, sessions, clock, metrics), name="readiness"),
            asyncio.create_task(connections.listen(), name="connection-cache"),
        ]
        runtime.tune_gc()  # everything above lives as long as the process
        try:
            yield
        finally:
            stopping.set()
            for chore in chores:
                chore.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(relay_task, 20)
            await asyncio.gather(*chores, return_exceptions=True)
            await app.state.pipeline.close()
            await http.aclose()
            await pool.close()

    def provide_pool(state: State) -> asyncpg.Pool:
        pool: asyncpg.Pool = state.db_pool
        return pool

    def provide_signin(state: State) -> SignInService:
        service: SignInService = state.signin_service
        return service

    def provide_tenant_admin(state: State) -> TenantAdminService:
        service: TenantAdminService = state.tenant_admin
        return service

    def provide_setup_links(state: State) -> SetupLinkService:
        service: SetupLinkService = state.setup_links
        return service

    def provide_setup_service(state: State) -> SetupService:
        service: SetupService = state.setup_service
        return service

    def provide_authenticator(state: State) -> Authenticator:
        authenticator: Authenticator = state.authenticator
        return authenticator

    def provide_pipeline(state: State) -> PipelineView:
        pipeline: PipelineView = state.pipeline
        return pipeline

    def provide_relay() -> RelayProcess:
        return relay

    def provide_session_issuer() -> SessionIssuer:
        return sessions

    def provide_config() -> Config:
        return config

    def provide_clock() -> Clock:
        return clock

    def provide_metrics() -> IdentityMetrics:
        return metrics

    return Litestar(
        route_handlers=[
            SignInController,
            TenantsController,
            OperatorsController,
            ErasureController,
            SetupLinksController,
            SetupSessionController,
            SetupApiController,
            OpsController,
            HealthController,
            LoginPagesController,
            AssetsController,
            scim.router(config, clock, new_id),
        ],
        lifespan=[lifespan],
        dependencies={
            "db_pool": Provide(provide_pool, sync_to_thread=False),
            "signin_service": Provide(provide_signin, sync_to_thread=False),
            "tenant_admin": Provide(provide_tenant_admin, sync_to_thread=False),
            "erasure": Provide(_provide_erasure, sync_to_thread=False),
            "setup_links": Provide(provide_setup_links, sync_to_thread=False),
            "operators": Provide(_provide_operators, sync_to_thread=False),
            "setup_service": Provide(provide_setup_service, sync_to_thread=False),
            "authenticator": Provide(provide_authenticator, sync_to_thread=False),
            "pipeline": Provide(provide_pipeline, sync_to_thread=False),
            "relay": Provide(provide_relay, sync_to_thread=False),
            "session_issuer": Provide(provide_session_issuer, sync_to_thread=False),
            "clock": Provide(provide_clock, sync_to_thread=False),
            "config": Provide(provide_config, sync_to_thread=False),
            "metrics": Provide(provide_metrics, sync_to_thread=False),
        },
        middleware=[CorrelationMiddleware()],
        exception_handlers=exception_handlers(max_body_kib=64),
        openapi_config=openapi(
            "Kutamo Identity",
            "Azure AD connections per tenant, Microsoft sign-in, Kutamo sessions.",
            {
                "apiKey": bearer("An operator or tenant-admin API key"),
                "setupSession": SecurityScheme(
                    type="apiKey",
                    name=setup_sessions.COOKIE,
                    security_scheme_in="cookie",
                    description="The setup session cookie from POST /setup/session; state-changing requests "
                    "also send X-Kutamo-CSRF (the csrf_token of GET /setup/api/state)",
                ),
            },
        ),
        cors_config=CORSConfig(allow_origins=config.cors_allowed_origins) if config.cors_allowed_origins else None,
        request_max_body_size=64 * 1024,
        request_class=BodyDepthGuardedRequest,
        logging_config=None,
    )


async def _housekeeping(pool: asyncpg.Pool, clock: Clock, every_seconds: float = 600) -> None:
    """Forget expired nonces, verification codes, setup sessions and retired session keys; a failure waits
    for the next round."""
    while True:
        try:
            async with operator_transaction(pool) as conn:
                await secrets.forget_expired(conn, clock())
                await setup_sessions.forget_expired(conn, clock())
                await session_keys.forget_retired(conn, clock())
        except DATABASE_ERRORS as exc:
            logging.getLogger(__name__).warning("housekeeping failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(every_seconds)


async def _keep_session_keys_published(
    pool: asyncpg.Pool, sessions: SessionIssuer, clock: Clock, every_seconds: float = 60, retry_seconds: float = 5
) -> None:
    """Publish this process's session keys at start, then each next one a period ahead. A failed round is
    tried again within `retry_seconds` (a process started while PostgreSQL is away publishes once it is
    back; readiness says so meanwhile); sign-ins also publish before they sign, so a failed round here
    only shortens the lead time. The database's absence is logged once per outage, not per round."""
    delay = 0.5
    while True:
        try:
            await sessions.publish_due(pool, clock())
        except DATABASE_ERRORS as exc:
            if database_unavailable(exc):
                DATABASE.failed(exc)
            else:
                logging.getLogger(__name__).warning(
                    "session key publication failed", extra={"error": type(exc).__name__}
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_seconds)
            continue
        delay = 0.5
        await asyncio.sleep(every_seconds)
