"""The composition root: create_app(config) wires the pool, Graph client, consumer, outbox relay and API."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from kutamo_kit import runtime
from kutamo_kit.kafka.connectivity import KafkaConnectivity, install
from kutamo_kit.openapi import bearer, openapi
from kutamo_kit.outages import DATABASE, database_unavailable
from kutamo_kit.outbox.process import RelayProcess
from kutamo_kit.problems import exception_handlers
from kutamo_kit.seams import Clock, system_clock
from kutamo_provisioning import db, outbox
from kutamo_provisioning.access import Access
from kutamo_provisioning.api import UsersController
from kutamo_provisioning.avatar_urls import AvatarUrls
from kutamo_provisioning.avatars import AvatarStore, PostgresAvatarStore
from kutamo_provisioning.batch import BatchProcessor
from kutamo_provisioning.config import Config
from kutamo_provisioning.consumer import SignInConsumer
from kutamo_provisioning.erasure import ErasureConsumer
from kutamo_provisioning.graph import GraphClient
from kutamo_provisioning.health import HealthController, keep_ready_gauge
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.provisioner import Provisioner
from kutamo_provisioning.sessions import SessionVerifier
from kutamo_provisioning.tenancy import worker_transaction

log = logging.getLogger(__name__)

_SHUTDOWN_SECONDS = 20.0
_SWEEP_SECONDS = 300.0


def create_app(
    config: Config, *, clock: Clock = system_clock, transport: httpx.AsyncBaseTransport | None = None
) -> Litestar:
    metrics = Metrics()
    store = PostgresAvatarStore()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await db.create_pool(config.database_url, max_size=12)
        # As many connections as Graph reads in flight: a larger pool costs httpcore CPU on every request
        # (it scans its connections), measured at 3-5x the CPU per event with 64 connections for 32 reads.
        n = config.graph_concurrency
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(float(config.graph_timeout_seconds)), transport=transport, limits=limits
        )
        graph = GraphClient(http, config.graph_base_url, config.avatar_max_bytes, metrics)
        provisioner = Provisioner(graph, config.sealing_keys, clock, metrics)
        kafka = install(KafkaConnectivity(config.kafka_bootstrap_servers, metrics=metrics.kafka,
                                          waiting=metrics.relay.waiting))  # fmt: skip
        relay = RelayProcess(outbox.OUTBOX, config.database_url, config.kafka_bootstrap_servers, service="provisioning",
                             log_level=config.log_level, metrics=metrics.relay, connectivity=kafka)  # fmt: skip
        consumer = SignInConsumer(
            config.kafka_bootstrap_servers,
            config.kafka_consumer_group,
            config.signed_in_topic,
            BatchProcessor(
                pool,
                provisioner,
                store,
                clock,
                config.graph_concurrency,
                config.provisioned_topic,
                config.lifecycle_topic,
            ),
            metrics,
            clock,
            config.batch_max_records,
            config.batches_in_flight,
            also=(config.lifecycle_topic,),
        )
        erasures = ErasureConsumer(config.kafka_bootstrap_servers, config.kafka_consumer_group, pool, store,
                                   metrics, clock, consumer.stopping)  # fmt: skip
        sessions = SessionVerifier(http, config.identity_base_url, config.session_issuer, config.clock_skew_seconds)
        access = Access(sessions, config.operator_key, pool)
        app.state.update(db_pool=pool, consumer=consumer, relay=relay, access=access)
        tasks = [
            asyncio.create_task(_keep_running("consumer", consumer.run, consumer.stopping), name="consumer"),
            asyncio.create_task(relay.run(consumer.stopping), name="outbox-relay"),
            asyncio.create_task(_keep_running("erasures", erasures.run, consumer.stopping), name="erasures"),
            asyncio.create_task(_sweep_avatars(pool, store, consumer.stopping), name="avatar-sweep"),
        ]
        gauge = asyncio.create_task(keep_ready_gauge(pool, consumer, metrics), name="ready-gauge")
        watcher = asyncio.create_task(kafka.watch(), name="kafka-connectivity")
        runtime.tune_gc()
        try:
            yield
        finally:
            # SIGTERM/SIGINT land here through uvicorn: stop fetching, finish and commit the batch, close.
            consumer.stop()
            gauge.cancel()
            watcher.cancel()
            _, pending = await asyncio.wait(tasks, timeout=_SHUTDOWN_SECONDS)
            for task in pending:
                task.cancel()
            await http.aclose()
            await pool.close()

    def from_state(name: str) -> Callable[[State], Any]:
        def provide(state: State) -> Any:
            return state[name]

        return provide

    dependencies = {n: Provide(from_state(n), sync_to_thread=False) for n in ("db_pool", "consumer", "relay", "access")}
    dependencies["metrics"] = Provide(lambda: metrics, sync_to_thread=False)
    dependencies["avatar_store"] = Provide(lambda: store, sync_to_thread=False)
    urls = AvatarUrls(config.sealing_keys, config.avatar_url_ttl_seconds)
    dependencies["avatar_urls"] = Provide(lambda: urls, sync_to_thread=False)
    dependencies["clock"] = Provide(lambda: clock, sync_to_thread=False)
    return Litestar(
        route_handlers=[UsersController, HealthController],
        lifespan=[lifespan],
        dependencies=dependencies,
        exception_handlers=exception_handlers(),
        # The Kutamo app reads its users from the browser with the session token (Authorization header).
        cors_config=CORSConfig(allow_origins=config.cors_allowed_origins, allow_headers=["Authorization"])
        if config.cors_allowed_origins
        else None,
        openapi_config=_OPENAPI,
        logging_config=None,
    )


_OPENAPI = openapi(
    "Kutamo Provisioning",
    "Users and avatars provisioned from Microsoft sign-ins.",
    {
        "bearer": bearer("A Kutamo session token, or the operator key"),
        "operatorKeyDeprecated": SecurityScheme(
            type="apiKey",
            name="X-Operator-Key",
            security_scheme_in="header",
            description="Deprecated: the operator key in its former header, accepted for this release only; "
            "send it as Authorization: Bearer",
        ),
    },
)


async def _sweep_avatars(pool: asyncpg.Pool, store: AvatarStore, stopping: asyncio.Event) -> None:
    """Every few minutes, delete avatars no user references (batches sweep what they replace at once;
    this catches what a crash or a locked row left behind)."""
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), _SWEEP_SECONDS)
        if stopping.is_set():
            return
        try:
            async with worker_transaction(pool) as conn:
                swept = await store.sweep(conn)
            if swept:
                log.info("unreferenced avatars deleted", extra={"avatars": swept})
        except Exception as exc:
            log.warning("avatar sweep failed; retrying later", extra={"error_class": type(exc).__name__})


async def _keep_running(name: str, run: Callable[[], Awaitable[None]], stopping: asyncio.Event) -> None:
    """Run a loop; if Kafka is unreachable or it fails, log once and start again, until stopping."""
    delay = 1.0
    while not stopping.is_set():
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if database_unavailable(exc):  # logged once per outage, not per restart
                DATABASE.failed(exc)
            else:
                log.exception("%s stopped; restarting", name, extra={"retry_in_s": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, 10.0)
        else:
            return
