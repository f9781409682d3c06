"""Liveness, readiness (database reachable, consumer running and in its group) and Prometheus metrics."""

import asyncio
from typing import Any

import asyncpg
from litestar import Controller, Response, get

from kutamo_kit.outbox.process import RelayProcess
from kutamo_provisioning.consumer import SignInConsumer
from kutamo_provisioning.metrics import CONTENT_TYPE_LATEST, Metrics

_GAUGE_SECONDS = 5.0


async def checks(db_pool: asyncpg.Pool, consumer: SignInConsumer) -> dict[str, Any]:
    """Each check and whether it passed; the worker is ready when all pass."""
    found: dict[str, Any] = {}
    try:
        await asyncio.wait_for(db_pool.fetchval("select 1"), 2)
        found["database"] = {"ok": True}
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        found["database"] = {"ok": False, "error": type(exc).__name__}
    found["kafka"] = await _kafka_reachable(consumer.bootstrap_servers)
    found["consumer"] = {
        "ok": consumer.running and consumer.joined,
        "running": consumer.running,
        "joined_group": consumer.joined,
        "assigned_partitions": sorted(tp.partition for tp in consumer.assigned if tp.topic == consumer.topic),
        "assigned_lifecycle_partitions": sorted(tp.partition for tp in consumer.assigned if tp.topic != consumer.topic),
    }
    return found


async def _kafka_reachable(bootstrap_servers: str) -> dict[str, Any]:
    """Whether a broker accepts a connection: the consumer itself keeps looking healthy through an outage."""
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), 1.5)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return {"ok": True}
    return {"ok": False, "error": "no Kafka broker accepts connections"}


async def keep_ready_gauge(db_pool: asyncpg.Pool, consumer: SignInConsumer, metrics: Metrics) -> None:
    """Keep `kutamo_provisioning_ready` current between scrapes (cancel to stop)."""
    while True:
        metrics.ready.set(1 if all(c["ok"] for c in (await checks(db_pool, consumer)).values()) else 0)
        await asyncio.sleep(_GAUGE_SECONDS)


class HealthController(Controller):
    @get("/health/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/health/ready")
    async def ready(
        self, db_pool: asyncpg.Pool, consumer: SignInConsumer, relay: RelayProcess, metrics: Metrics
    ) -> Response[dict[str, Any]]:
        found = await checks(db_pool, consumer)
        ok = all(c["ok"] for c in found.values())
        metrics.ready.set(1 if ok else 0)
        body = {"status": "ok" if ok else "unavailable", "checks": found, "outbox_relay_leader": relay.leader}
        return Response(body, status_code=200 if ok else 503)

    @get("/metrics")
    async def metrics(self, metrics: Metrics) -> Response[bytes]:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
