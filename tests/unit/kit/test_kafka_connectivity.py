"""A Kafka outage is told in a few lines, whatever aiokafka logs meanwhile, and the reconnect backoff
hooks into the aiokafka it was written for."""

import asyncio
import inspect
import logging

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from prometheus_client import CollectorRegistry

from kutamo_kit.kafka import clients, connectivity
from kutamo_kit.kafka.connectivity import KafkaConnectivity, KafkaMetrics, install


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    logging.getLogger().addHandler(caplog.handler)  # the folding handler writes to the root's handlers
    return caplog


def _ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kutamo.kafka"]


def test_thousands_of_library_errors_in_an_outage_become_one_line_and_the_metrics_follow(
    lines: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    tracker = install(KafkaConnectivity("127.0.0.1:1", metrics=KafkaMetrics("t", registry), waiting=lambda: 42))
    library = logging.getLogger("aiokafka")
    try:
        for _ in range(5000):
            library.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connect call failed")
            library.error("Unable to update metadata from %s", [1])

        assert _ours(lines) == ["Kafka unreachable; events wait in the outbox until it returns"]
        assert [r for r in lines.records if r.name.startswith("aiokafka")] == []
        assert lines.records[-1].events_waiting == 42  # type: ignore[attr-defined]
        assert registry.get_sample_value("t_kafka_reachable") == 0
        assert registry.get_sample_value("t_kafka_outages_total") == 1

        tracker.reachable_again("clients")

        assert _ours(lines)[-1] == "Kafka reachable again"
        assert lines.records[-1].library_messages_folded == 10_000  # type: ignore[attr-defined]
        assert registry.get_sample_value("t_kafka_reachable") == 1
    finally:
        library.handlers.clear()
        library.propagate = True


def test_other_library_warnings_are_written_once_per_30_seconds(lines: pytest.LogCaptureFixture) -> None:
    install(KafkaConnectivity("127.0.0.1:1"))
    library = logging.getLogger("aiokafka.consumer.group_coordinator")
    try:
        for _ in range(100):
            library.warning("Heartbeat failed for group %s", "g")

        assert [r.getMessage() for r in lines.records] == ["Heartbeat failed for group g"]
    finally:
        logging.getLogger("aiokafka").handlers.clear()
        logging.getLogger("aiokafka").propagate = True


async def test_an_outage_that_lasts_is_summarised_every_30_seconds_and_ends_when_the_relay_gets_through(
    lines: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connectivity, "SUMMARY_EVERY_S", 0.0)
    monkeypatch.setattr(connectivity, "_PROBE_S", 0.01)
    tracker = KafkaConnectivity("127.0.0.1:1")
    tracker.trouble("relay", "KafkaConnectionError")
    watcher = asyncio.create_task(tracker.watch())
    await asyncio.sleep(0.1)
    watcher.cancel()

    assert "Kafka still unreachable" in _ours(lines)
    tracker.trouble("relay", "KafkaConnectionError")
    assert _ours(lines).count("Kafka unreachable; events wait in the outbox until it returns") == 1
    tracker.reachable_again("relay")
    assert _ours(lines)[-1] == "Kafka reachable again"
    assert tracker.reachable


def test_a_quiet_tracker_writes_nothing_and_tells_its_listener(lines: pytest.LogCaptureFixture) -> None:
    heard: list[bool] = []
    tracker = KafkaConnectivity("127.0.0.1:1", quiet=True, on_change=heard.append)
    tracker.trouble("relay", "x")
    tracker.reachable_again("relay")

    assert heard == [False, True]
    assert _ours(lines) == []


async def test_reconnects_back_off_exponentially_up_to_the_cap() -> None:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    dials = 0

    async def failing(node_id: object, *, group: object = 0, no_hint: bool = False) -> None:
        nonlocal dials
        dials += 1

    producer.client._get_conn = failing
    clients.backoff_reconnects(producer, first=0.05, cap=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(4):
        assert await producer.client._get_conn(1) is None
    waited = loop.time() - started
    # Each dial after a failure waits out its backoff first (0.05, 0.1, 0.2 s with ±20% jitter): a caller
    # that retries at once (aiokafka's sender) is held back instead of spinning.
    assert dials == 4
    assert 0.8 * 0.35 <= waited < 1.0, waited


async def test_the_aiokafka_internals_the_backoff_wraps_are_still_there() -> None:
    """Fails loudly when an aiokafka upgrade moves the one method that dials a broker."""
    params = inspect.signature(AIOKafkaClient._get_conn).parameters
    assert list(params) == ["self", "node_id", "group", "no_hint"]
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1")
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    for client in (consumer._client, admin._client, producer.client):
        assert isinstance(client, AIOKafkaClient)
    for client in (consumer, admin, producer):
        clients.backoff_reconnects(client)
