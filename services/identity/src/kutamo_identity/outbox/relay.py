"""The identity service's outbox relay: the kit's relay (kutamo_kit.outbox) on the identity outbox, in
a process of its own next to each identity process, out of the loop that serves sign-ins."""

from datetime import timedelta

from kutamo_identity.config import Config
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox.writer import OUTBOX
from kutamo_kit.kafka.connectivity import KafkaConnectivity
from kutamo_kit.outbox.process import RelayProcess

__all__ = ["RELAY_LINGER_S", "RelayProcess", "relay_process"]

# While sign-ins pour in, the relay reads the outbox at most once per linger, so a read (and its produce
# request, and its delete) carries the sign-ins of the last 25 ms. Measured at saturation (docs/benchmarks.md):
# relay CPU per sign-in 0.107 ms at 10 ms, 0.06 ms at 25 ms (PostgreSQL 0.48 -> 0.39 ms). Fuller batches help
# the worker too: sign-in to user record at 1,000/s p50 27 -> 29 ms, p99 74-92 -> 48 ms (bench/relay.py).
RELAY_LINGER_S = 0.025


def relay_process(config: Config, metrics: IdentityMetrics, connectivity: KafkaConnectivity) -> RelayProcess:
    return RelayProcess(
        OUTBOX,
        config.database_url,
        config.kafka_bootstrap_servers,
        service="identity",
        log_level=config.log_level,
        metrics=metrics.relay,
        connectivity=connectivity,
        options={"retention": timedelta(hours=config.outbox_retention_hours), "linger": RELAY_LINGER_S},
    )
