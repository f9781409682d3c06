"""The identity service's Prometheus metrics, in a registry of its own served at /metrics.

With several processes on one port (WEB_CONCURRENCY > 1) any of them answers a scrape, so each writes
its values to files in PROMETHEUS_MULTIPROC_DIR (the supervisor sets it, server.py) and /metrics sums
them: counters include those of processes that have died since, gauges show the largest live value.

Label sets are bounded: `tenant_id` is bounded by configuration (one per customer), `result` and
`code` by the refusal catalogue and Microsoft's AADSTS codes we know; never a user id.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from kutamo_identity.ops.recent import RecentOutcomes
from kutamo_kit.kafka.connectivity import KafkaMetrics
from kutamo_kit.outbox.metrics import RelayMetrics

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class IdentityMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess_dir = os.environ.get(MULTIPROCESS_DIR)
        if self._multiprocess_dir is None:  # process_* figures of one of several processes would mislead
            ProcessCollector(registry=self.registry)
        self.sign_ins = Counter(
            "kutamo_identity_sign_ins_total",
            "Sign-in attempts by tenant and result (ok, or the refusal code).",
            ["tenant_id", "result"],
            registry=self.registry,
        )
        self.validation_seconds = Histogram(
            "kutamo_identity_token_validation_seconds",
            "Time to validate a Microsoft id_token, key fetches included.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0),
            registry=self.registry,
        )
        self.key_refreshes = Counter(
            "kutamo_identity_signing_key_refreshes_total",
            "Fetches of a directory's Microsoft signing keys, by result (ok, failed).",
            ["result"],
            registry=self.registry,
        )
        self.ready = Gauge(
            "kutamo_identity_ready",
            "1 when the service can serve sign-ins (its database answers), else 0.",
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        # kutamo_identity_outbox_backlog_rows, _outbox_oldest_age_seconds, _relay_published_total, ... and
        # kutamo_identity_kafka_reachable, _kafka_outages_total, _kafka_outage_seconds: the kit's.
        self.relay = RelayMetrics("kutamo_identity", self.registry)
        self.kafka = KafkaMetrics("kutamo_identity", self.registry)
        self.microsoft_errors = Counter(
            "kutamo_identity_microsoft_errors_total",
            "Errors Microsoft showed in the sign-in popup, as reported by frontends, by tenant and code.",
            ["tenant_id", "code"],
            registry=self.registry,
        )
        self.recent_sign_ins = RecentOutcomes()
        self.recent_microsoft_errors = RecentOutcomes()

    def exposition(self) -> bytes:
        """The text /metrics answers: this process's registry, or every process's values summed."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(combined)

    def sign_in(self, tenant_id: str, result: str) -> None:
        """Count one sign-in outcome: `ok` or the refusal code."""
        self.sign_ins.labels(tenant_id, result).inc()
        self.recent_sign_ins.add(tenant_id, result)

    def microsoft_error(self, tenant_id: str, code: str) -> None:
        self.microsoft_errors.labels(tenant_id, code).inc()
        self.recent_microsoft_errors.add(tenant_id, code)
