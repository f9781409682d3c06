"""The composition root: create_app(config) wires the pool, Graph client, consumer and read API."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from kutamo_provisioning import db
from kutamo_provisioning.api import EXCEPTION_HANDLERS, HealthController, UsersController
from kutamo_provisioning.config import Config
from kutamo_provisioning.consumer import SignInConsumer
from kutamo_provisioning.graph import GraphClient
from kutamo_provisioning.provisioner import Provisioner
from kutamo_provisioning.seams import Clock, system_clock
from kutamo_provisioning.sessions import SessionVerifier

log = logging.getLogger(__name__)


def create_app(
    config: Config, *, clock: Clock = system_clock, transport: httpx.AsyncBaseTransport | None = None
) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await db.create_pool(config.database_url)
        async with pool.acquire() as conn:
            await db.migrate(conn)
        http = httpx.AsyncClient(timeout=httpx.Timeout(float(config.graph_timeout_seconds)), transport=transport)
        graph = GraphClient(http, config.graph_base_url, config.avatar_max_bytes)
        consumer = SignInConsumer(
            config.kafka_bootstrap_servers,
            config.kafka_consumer_group,
            Provisioner(pool, graph, config.token_sealing_key, clock),
            clock,
        )
        app.state.update(db_pool=pool, consumer=consumer, verifier=SessionVerifier(http, config.identity_base_url))
        task = asyncio.create_task(_keep_consuming(consumer), name="sign-in-consumer")
        try:
            yield
        finally:
            consumer.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 15)
            await http.aclose()
            await pool.close()

    def provide_pool(state: State) -> asyncpg.Pool:
        pool: asyncpg.Pool = state.db_pool
        return pool

    def provide_consumer(state: State) -> SignInConsumer:
        consumer: SignInConsumer = state.consumer
        return consumer

    def provide_verifier(state: State) -> SessionVerifier:
        verifier: SessionVerifier = state.verifier
        return verifier

    return Litestar(
        route_handlers=[UsersController, HealthController],
        lifespan=[lifespan],
        dependencies={
            "db_pool": Provide(provide_pool, sync_to_thread=False),
            "consumer": Provide(provide_consumer, sync_to_thread=False),
            "verifier": Provide(provide_verifier, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        logging_config=None,
    )


async def _keep_consuming(consumer: SignInConsumer) -> None:
    """Run the consumer; if Kafka is unreachable or the loop fails, log once and start again."""
    delay = 1.0
    while True:
        try:
            await consumer.run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("consumer stopped; restarting", extra={"retry_in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
