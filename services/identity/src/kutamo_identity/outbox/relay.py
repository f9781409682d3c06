"""The identity service's outbox relay: the kit's relay (kutamo_kit.outbox) on the identity outbox, in
a process of its own next to each identity process, out of the loop that serves sign-ins."""

from datetime import timedelta

from kutamo_identity.config import Config
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox.writer import OUTBOX
from kutamo_kit.kafka.connectivity import KafkaConnectivity
from kutamo_kit.outbox.process import RelayProcess

__all__ = ["RelayProcess", "relay_process"]


def relay_process(config: Config, metrics: IdentityMetrics, connectivity: KafkaConnectivity) -> RelayProcess:
    return RelayProcess(
        OUTBOX,
        config.database_url,
        config.kafka_bootstrap_servers,
        service="identity",
        log_level=config.log_level,
        metrics=metrics.relay,
        connectivity=connectivity,
        options={"retention": timedelta(hours=config.outbox_retention_hours)},
    )
