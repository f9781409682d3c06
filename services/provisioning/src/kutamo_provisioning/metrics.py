"""The worker's Prometheus metrics, in one registry per process (names follow issue 7 and operations/).

Label sets are bounded: partition, endpoint, HTTP status, reason and outcome; never a user or tenant id.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kutamo_kit.kafka.connectivity import KafkaMetrics
from kutamo_kit.outbox.metrics import RelayMetrics

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

P = "kutamo_provisioning_"
_BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        self.ready = Gauge(P + "ready", "1 when the database is reachable and the consumer in its group", registry=r)
        self.consumer_lag = Gauge(
            P + "consumer_lag_messages",
            "Messages not yet committed per partition (end offset minus committed offset)",
            ["topic", "partition"],
            registry=r,
        )
        self.batch_size = Histogram(
            P + "batch_size_messages", "Records per getmany batch", buckets=_BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            P + "batch_processing_seconds", "Time from a batch's arrival to its offset commit", registry=r
        )
        self.events = Counter(
            P + "events_total",
            "Sign-in events by outcome: created, updated, unchanged (applied) or duplicate, stale (skipped)",
            ["outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            P + "dead_letters_total", "Messages sent to the dead-letter topic, by reason", ["reason"], registry=r
        )
        self.graph_calls = Counter(
            P + "graph_calls_total",
            "Microsoft Graph calls by endpoint and HTTP status (or timeout/error)",
            ["endpoint", "status"],
            registry=r,
        )
        self.graph_retries = Counter(
            P + "graph_retries_total", "Graph calls retried, by endpoint and why", ["endpoint", "reason"], registry=r
        )
        self.graph_throttle_seconds = Counter(
            P + "graph_throttle_wait_seconds_total",
            "Seconds waited because Graph asked (Retry-After)",
            ["endpoint"],
            registry=r,
        )
        self.avatar_downloads = Counter(
            P + "avatar_downloads_total",
            "Avatar downloads by result: stored, none (404), rejected (type, bytes or size)",
            ["result"],
            registry=r,
        )
        self.avatar_bytes = Counter(
            P + "avatar_downloaded_bytes_total", "Bytes of avatars downloaded from Graph", registry=r
        )
        # The kit's: kutamo_provisioning_outbox_backlog_rows, _relay_published_total, _relay_errors_total, ...
        # and kutamo_provisioning_kafka_reachable, _kafka_outages_total, _kafka_outage_seconds.
        self.relay = RelayMetrics(P.rstrip("_"), r)
        self.kafka = KafkaMetrics(P.rstrip("_"), r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
