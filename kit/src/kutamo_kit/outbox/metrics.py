"""What the relay tells its service: rows published, failed rounds, leadership, the backlog. The
service shows it as Prometheus metrics named with its own prefix (`<prefix>_outbox_backlog_rows`, ...)."""

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["RelayMetrics", "RelayReport"]


class RelayReport(Protocol):
    def published(self, rows: int, seconds: float) -> None: ...

    def failed(self, error: str) -> None: ...

    def leading(self, leader: bool) -> None: ...

    def backlog(self, rows: int, oldest_age_seconds: float) -> None: ...


class RelayMetrics:
    """The relay's metrics in the service's registry; also what /health reads (leader, last error)."""

    def __init__(self, prefix: str, registry: CollectorRegistry) -> None:
        self.outbox_backlog = Gauge(
            f"{prefix}_outbox_backlog_rows",
            "Outbox rows not yet published to Kafka.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.outbox_oldest_age = Gauge(
            f"{prefix}_outbox_oldest_age_seconds",
            "Age of the oldest outbox row not yet published (0 when none).",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.relay_published = Counter(
            f"{prefix}_relay_published_total", "Events the outbox relay published to Kafka.", registry=registry
        )
        self.relay_errors = Counter(
            f"{prefix}_relay_errors_total",
            "Relay rounds that failed (Kafka or PostgreSQL unavailable, the relay process died) and will be retried.",
            registry=registry,
        )
        self.relay_publish_seconds = Histogram(
            f"{prefix}_relay_publish_seconds",
            "Time to publish one batch of outbox rows and mark them sent.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0),
            registry=registry,
        )
        self.relay_leader = Gauge(
            f"{prefix}_relay_leader",
            "1 when this instance's relay is the one publishing.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.leader = False
        self.last_error: str | None = None
        self.published_total = 0
        self._backlog = 0

    def published(self, rows: int, seconds: float) -> None:
        self.published_total += rows
        self.last_error = None
        self.relay_published.inc(rows)
        self.relay_publish_seconds.observe(seconds)

    def failed(self, error: str) -> None:
        self.last_error = error
        self.relay_errors.inc()

    def leading(self, leader: bool) -> None:
        self.leader = leader
        self.relay_leader.set(1 if leader else 0)

    def waiting(self) -> int:
        """Rows waiting in the outbox, as last counted."""
        return self._backlog

    def backlog(self, rows: int, oldest_age_seconds: float) -> None:
        self._backlog = rows
        self.outbox_backlog.set(rows)
        self.outbox_oldest_age.set(max(0.0, oldest_age_seconds))
