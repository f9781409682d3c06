"""Whether Kafka is reachable, told once: one line when an outage starts, a summary at most every
30 s while it lasts (how long, how many events wait), one line when it ends.

aiokafka reports an unreachable broker by logging, at error level, every failed dial and metadata
refresh ("Unable connect to node ...", "Unable to update metadata ...") — thousands of lines a
minute. `install` puts a handler on the `aiokafka` logger (which then stops propagating): records
that say the broker is unreachable mark the outage and are counted, not written; the library's other
warnings are written at most once per message per 30 s (with how many were held back), and while an
outage lasts they are counted into its summary too.

Sources: a process's own clients (their log records, then a TCP probe of the bootstrap servers once
they fall quiet) and, for a service whose relay runs in a child process, the relay's view, which the
child reports over its pipe (`trouble("relay")` / `reachable("relay")`). Kafka is unreachable while
any source says so. The metrics (`<prefix>_kafka_reachable`, `<prefix>_kafka_outages_total`,
`<prefix>_kafka_outage_seconds`) follow the same state.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["KafkaConnectivity", "KafkaMetrics", "install"]

log = logging.getLogger("kutamo.kafka")

SUMMARY_EVERY_S = 30.0
_QUIET_S = 3.0  # no trouble from the clients for this long, and the probe connects: the outage ended
_PROBE_S = 1.0
# Messages of aiokafka that mean "the broker cannot be reached" (matched in the formatted message).
_TROUBLE = (
    "Unable connect to",
    "Unable to update metadata",
    "Unable to request metadata",
    "Unable to bootstrap",
    "NodeNotReadyError",
    "KafkaConnectionError",
    "Connect call failed",
    "RequestTimedOutError",
)


class KafkaMetrics:
    def __init__(self, prefix: str, registry: CollectorRegistry) -> None:
        self.reachable = Gauge(
            f"{prefix}_kafka_reachable", "1 while Kafka is reachable from this instance, 0 during an outage.",
            registry=registry, multiprocess_mode="livemin",
        )  # fmt: skip
        self.outages = Counter(
            f"{prefix}_kafka_outages_total", "Kafka outages this instance went through.", registry=registry
        )
        self.outage_seconds = Gauge(
            f"{prefix}_kafka_outage_seconds", "How long the current Kafka outage has lasted (0 when reachable).",
            registry=registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self.reachable.set(1)


class KafkaConnectivity:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        metrics: KafkaMetrics | None = None,
        waiting: Callable[[], float | None] | None = None,
        on_change: Callable[[bool], None] | None = None,
        quiet: bool = False,
    ) -> None:
        """`waiting` counts the events held back (the outbox backlog); `on_change` hears every change of
        state; `quiet` writes no lines (a relay child: its parent reports for it)."""
        self._servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
        self._metrics = metrics
        self._waiting = waiting
        self._on_change = on_change
        self._quiet = quiet
        self._troubled: dict[str, str] = {}
        self._last_trouble = 0.0
        self.down_since: float | None = None
        self.outages = 0
        self.folded = 0
        self._next_summary = 0.0

    @property
    def reachable(self) -> bool:
        return self.down_since is None

    def outage_seconds(self) -> float:
        return 0.0 if self.down_since is None else time.monotonic() - self.down_since

    def trouble(self, source: str, reason: str) -> None:
        """A source found Kafka unreachable (cheap: called for every library record of an outage)."""
        self._last_trouble = time.monotonic()
        self._troubled.setdefault(source, reason)
        if self.down_since is None:
            self.down_since = self._last_trouble
            self.outages += 1
            self._next_summary = self.down_since + SUMMARY_EVERY_S
            if self._metrics is not None:
                self._metrics.reachable.set(0)
                self._metrics.outages.inc()
            if not self._quiet:
                log.warning(
                    "Kafka unreachable; events wait in the outbox until it returns",
                    extra={"kafka": ",".join(self._servers), "source": source, "reason": reason[:200],
                           "events_waiting": self._count_waiting()},
                )  # fmt: skip
            self._changed(False)

    def reachable_again(self, source: str) -> None:
        """A source reached Kafka (a relay's batch acknowledged, a probe connected)."""
        if self._troubled.pop(source, None) is None or self._troubled or self.down_since is None:
            return
        lasted = time.monotonic() - self.down_since
        self.down_since = None
        if self._metrics is not None:
            self._metrics.reachable.set(1)
            self._metrics.outage_seconds.set(0)
        if not self._quiet:
            log.warning(
                "Kafka reachable again",
                extra={"outage_s": round(lasted, 1), "events_waiting": self._count_waiting(),
                       "library_messages_folded": self.folded},
            )  # fmt: skip
        self.folded = 0
        self._changed(True)

    def forget(self, source: str) -> None:
        """A source is gone (a relay process exited): its view no longer counts."""
        if source in self._troubled:
            self.reachable_again(source)

    async def watch(self) -> None:
        """Run for the process's life: summaries during an outage, and its end once the clients fall
        quiet and a bootstrap server accepts a connection (cancel to stop)."""
        while True:
            await asyncio.sleep(_PROBE_S)
            if self.down_since is None:
                continue
            now = time.monotonic()
            if self._metrics is not None:
                self._metrics.outage_seconds.set(now - self.down_since)
            if "clients" in self._troubled and now - self._last_trouble >= _QUIET_S and await self._probe():
                self.reachable_again("clients")
            elif now >= self._next_summary:
                self._next_summary = now + SUMMARY_EVERY_S
                if not self._quiet:
                    log.warning(
                        "Kafka still unreachable",
                        extra={"outage_s": round(now - self.down_since, 1), "events_waiting": self._count_waiting(),
                               "library_messages_folded": self.folded, "sources": sorted(self._troubled)},
                    )  # fmt: skip

    async def _probe(self) -> bool:
        for server in self._servers:
            host, _, port = server.rpartition(":")
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host or "localhost", int(port)), 1.0)
            except (OSError, TimeoutError, ValueError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False

    def _count_waiting(self) -> float | None:
        if self._waiting is None:
            return None
        try:
            return self._waiting()
        except Exception:  # a gauge that cannot be read must not break the report
            return None

    def _changed(self, reachable: bool) -> None:
        if self._on_change is not None:
            self._on_change(reachable)


class _Folding(logging.Handler):
    """On the `aiokafka` logger: outage records to the tracker, the rest rate-limited to the root's handlers."""

    def __init__(self, tracker: KafkaConnectivity, every: float = SUMMARY_EVERY_S) -> None:
        super().__init__()
        self.tracker = tracker
        self._every = every
        self._last: dict[tuple[str, object], tuple[float, int]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if any(sign in message for sign in _TROUBLE):
                self.tracker.folded += 1
                self.tracker.trouble("clients", message)
                return
            if not self.tracker.reachable and record.levelno >= logging.WARNING:
                self.tracker.folded += 1
                return
            key = (record.name, record.msg)
            now = time.monotonic()
            last, held = self._last.get(key, (float("-inf"), 0))
            if now - last < self._every:
                self._last[key] = (last, held + 1)
                return
            if len(self._last) > 1000:
                self._last.clear()
            self._last[key] = (now, 0)
            if held:
                record.held_back = held
            for handler in logging.getLogger().handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
        except Exception:
            self.handleError(record)


def install(tracker: KafkaConnectivity) -> KafkaConnectivity:
    """Route aiokafka's log records through `tracker` for the rest of this process (replacing an earlier one)."""
    library = logging.getLogger("aiokafka")
    library.handlers[:] = [h for h in library.handlers if not isinstance(h, _Folding)]
    library.addHandler(_Folding(tracker))
    library.propagate = False
    return tracker
