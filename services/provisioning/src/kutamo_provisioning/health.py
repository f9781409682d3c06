"""Liveness, readiness (database reachable, consumer running and in its group) and Prometheus metrics."""

import asyncio
from typing import Any

import asyncpg
from litestar import Controller, Response, get

from kutamo_provisioning.consumer import SignInConsumer
from kutamo_provisioning.metrics import CONTENT_TYPE_LATEST, Metrics
from kutamo_provisioning.outbox import OutboxRelay


class HealthController(Controller):
    @get("/health/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/health/ready")
    async def ready(
        self, db_pool: asyncpg.Pool, consumer: SignInConsumer, relay: OutboxRelay
    ) -> Response[dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(db_pool.fetchval("select 1"), 2)
            checks["database"] = {"ok": True}
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["consumer"] = {
            "ok": consumer.running and consumer.joined,
            "running": consumer.running,
            "joined_group": consumer.joined,
            "assigned_partitions": sorted(tp.partition for tp in consumer.assigned),
        }
        ok = all(c["ok"] for c in checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks, "outbox_relay_leader": relay.leader}
        return Response(body, status_code=200 if ok else 503)

    @get("/metrics")
    async def metrics(self, metrics: Metrics) -> Response[bytes]:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
