"""The Kafka side of the worker: getmany -> batch -> dead letters -> commit; rebalances; graceful stop.

A partition's offset is committed only after the batch's database transaction committed and its dead
letters were acknowledged, so a crash at any point redelivers, and event ids make the redelivery
harmless. On a rebalance the listener waits for the batch in flight to commit (bounded); past that
bound the batch is abandoned, its commit fails, and the next owner redoes it idempotently.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError

from kutamo_contracts.topics import DEAD_LETTERS
from kutamo_provisioning import deadletters
from kutamo_provisioning.batch import BatchProcessor, Record, Result
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.seams import Clock

log = logging.getLogger(__name__)

_REVOKE_WAIT_SECONDS = 60.0


def _names(tps: set[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in tps)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: "SignInConsumer") -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            async with asyncio.timeout(_REVOKE_WAIT_SECONDS):
                async with self._worker.in_flight:
                    pass  # the batch in flight has committed (or there was none)
        except TimeoutError:
            log.warning("batch in flight abandoned at rebalance", extra={"partitions": _names(revoked)})
        self._worker.forget(revoked)
        log.info("partitions revoked", extra={"partitions": _names(revoked)})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._worker.assigned = set(assigned)
        self._worker.joined = True
        log.info("partitions assigned", extra={"partitions": _names(assigned)})


class SignInConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topic: str,
        batch: BatchProcessor,
        metrics: Metrics,
        clock: Clock,
        max_records: int,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._group = group_id
        self._topic = topic
        self._batch = batch
        self.metrics = metrics
        self._clock = clock
        self._max_records = max_records
        self.stopping = asyncio.Event()
        self.in_flight = asyncio.Lock()
        self.assigned: set[TopicPartition] = set()
        self.joined = False
        self.running = False

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def forget(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked & self.assigned:
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        self.assigned -= revoked

    def stop(self) -> None:
        """Stop fetching; the batch in flight finishes and commits, then the consumer leaves the group."""
        self.stopping.set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True)
        consumer.subscribe([self._topic], listener=_Rebalance(self))
        await producer.start()
        await consumer.start()
        self.running = True
        try:
            while not self.stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                if batches:
                    async with self.in_flight:
                        await self._handle(consumer, producer, batches)
        finally:
            self.running = False
            self.joined = False
            await consumer.stop()
            await producer.stop()

    async def _handle(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, batches: dict[TopicPartition, list[Record]]
    ) -> None:
        started = time.perf_counter()
        records = [r for rs in batches.values() for r in rs]
        result = await self._batch.process(records)
        await self._dead_letter(producer, result)
        try:
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batches.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("offset commit refused after a rebalance; the next owner redoes the batch (idempotent)",
                        extra={"error": type(exc).__name__})  # fmt: skip
        self.metrics.batch_size.observe(len(records))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        for change, count in Counter(o.change for o in result.outcomes).items():
            self.metrics.events.labels(change).inc(count)
        await self._update_lag(consumer)
        log.debug("batch applied", extra={"records": len(records), "dead_letters": len(result.failed)})

    async def _dead_letter(self, producer: AIOKafkaProducer, result: Result) -> None:
        sends = []
        for failed in result.failed:
            letter = deadletters.letter_for(failed.record, failed.error, failed.attempts, self._clock())
            sends.append(await producer.send(DEAD_LETTERS.name, letter.value, key=letter.key, headers=letter.headers))
        await asyncio.gather(*sends)
        for failed in result.failed:
            self.metrics.dead_letters.labels(failed.error.code).inc()
            log.error(
                "message dead-lettered",
                extra={
                    "topic": failed.record.topic, "partition": failed.record.partition,
                    "offset": failed.record.offset, "reason": failed.error.code, "attempts": failed.attempts,
                },
            )  # fmt: skip

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        """End offset minus what this member has committed (its position after the commit)."""
        for tp in list(self.assigned):
            end = consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = await consumer.position(tp)
            except IllegalStateError:
                continue
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(end - position, 0))
