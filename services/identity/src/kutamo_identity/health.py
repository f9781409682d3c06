"""Liveness, readiness, the published session keys, and the metrics (for operators: they list tenant ids)."""

from datetime import datetime
from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from kutamo_identity.errors import problem_responses
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox.relay import RelayProcess
from kutamo_identity.sessions.issuer import SessionIssuer, published_keys
from kutamo_identity.tenants.auth import Authenticator, require_operator
from kutamo_kit import health
from kutamo_kit.seams import Clock


async def readiness(
    db_pool: asyncpg.Pool, relay: RelayProcess, sessions: SessionIssuer, now: datetime
) -> dict[str, Any]:
    """Each check and whether it passed; the service is ready when all pass."""
    # Kafka being down does not stop sign-ins (events wait in the outbox), so it informs but does not fail.
    relay_state = {"ok": True, "leader": relay.leader, "last_error": relay.last_error}
    # A process started while PostgreSQL was away publishes its session key once the database answers.
    keys: dict[str, Any] = {"ok": True}
    if not sessions.can_sign(now):
        keys = {"ok": False, "reason": "this process's session signing key is not published yet (start-up "
                "waits for the database)"}  # fmt: skip
    return {"database": await health.database(db_pool), "outbox_relay": relay_state, "session_keys": keys}


async def watch_readiness(
    db_pool: asyncpg.Pool,
    relay: RelayProcess,
    sessions: SessionIssuer,
    clock: Clock,
    metrics: IdentityMetrics,
    every: float = 5,
) -> None:
    """Keep the `kutamo_identity_ready` gauge current between scrapes (cancel to stop)."""
    await health.keep_gauge(lambda: readiness(db_pool, relay, sessions, clock()), metrics.ready, every)


class HealthController(Controller):
    @get("/health/live", summary="The process is alive")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/health/ready", summary="The service can serve sign-ins")
    async def ready(
        self,
        db_pool: asyncpg.Pool,
        relay: RelayProcess,
        session_issuer: SessionIssuer,
        clock: Clock,
        metrics: IdentityMetrics,
    ) -> Response[dict[str, Any]]:
        found = await health.run(lambda: readiness(db_pool, relay, session_issuer, clock()), metrics.ready)
        return health.answer(found)

    @get(
        "/metrics",
        summary="Prometheus metrics (operator key: they name tenants)",
        media_type="text/plain; version=0.0.4",
        responses=problem_responses(401, 403),
        security=[{"apiKey": []}],
    )
    async def metrics(
        self, request: Request[Any, Any, Any], authenticator: Authenticator, metrics: IdentityMetrics
    ) -> Response[bytes]:
        require_operator(await authenticator.principal(request.headers.get("authorization")))
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @get("/.well-known/jwks.json", summary="Public keys that verify Kutamo session tokens")
    async def jwks(self, db_pool: asyncpg.Pool, clock: Clock) -> Response[dict[str, Any]]:
        keys = await published_keys(db_pool, clock())
        return Response({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})
