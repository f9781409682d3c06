"""Liveness, readiness (database reachable, consumer running and in its group) and Prometheus metrics."""

from typing import Any

import asyncpg
from litestar import Controller, Response, get

from kutamo_kit import health
from kutamo_kit.outbox.process import RelayProcess
from kutamo_provisioning.consumer import SignInConsumer
from kutamo_provisioning.metrics import CONTENT_TYPE_LATEST, Metrics

_GAUGE_SECONDS = 5.0


async def checks(db_pool: asyncpg.Pool, consumer: SignInConsumer) -> dict[str, Any]:
    """Each check and whether it passed; the worker is ready when all pass."""
    return {
        "database": await health.database(db_pool),
        "kafka": await health.kafka(consumer.bootstrap_servers),
        "consumer": {
            "ok": consumer.running and consumer.joined,
            "running": consumer.running,
            "joined_group": consumer.joined,
            "paused_for_database": consumer.paused_for_database,
            "assigned_partitions": sorted(tp.partition for tp in consumer.assigned if tp.topic == consumer.topic),
            "assigned_lifecycle_partitions": sorted(
                tp.partition for tp in consumer.assigned if tp.topic != consumer.topic
            ),
        },
    }


async def keep_ready_gauge(db_pool: asyncpg.Pool, consumer: SignInConsumer, metrics: Metrics) -> None:
    """Keep `kutamo_provisioning_ready` current between scrapes (cancel to stop)."""
    await health.keep_gauge(lambda: checks(db_pool, consumer), metrics.ready, _GAUGE_SECONDS)


class HealthController(Controller):
    @get("/health/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/health/ready")
    async def ready(
        self, db_pool: asyncpg.Pool, consumer: SignInConsumer, relay: RelayProcess, metrics: Metrics
    ) -> Response[dict[str, Any]]:
        found = await health.run(lambda: checks(db_pool, consumer), metrics.ready)
        return health.answer(found, outbox_relay_leader=relay.leader)

    @get("/metrics")
    async def metrics(self, metrics: Metrics) -> Response[bytes]:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
