"""The Kafka side of the worker: getmany -> batch -> dead letters -> commit; rebalances; graceful stop.

A partition's offset is committed only after the batch's database transaction committed and its dead
letters were acknowledged, so a crash at any point redelivers, and event ids make the redelivery
harmless. Up to BATCHES_IN_FLIGHT batches run at once, each on partitions no other batch in flight
holds: a partition's records are still applied one batch after the other, in offset order, while the
worker decodes one batch as PostgreSQL applies another. On a rebalance the listener waits for the
batches in flight to commit (bounded); past that bound they are abandoned, their commits fail, and the
next owner redoes them idempotently.

A batch that fails because PostgreSQL is away (kutamo_kit.outages) is not an error of its events: its
partitions are sought back to the batch's first offsets, every assigned partition is paused, and the
consumer keeps polling (so it stays in its group) without fetching until the database answers again;
then it resumes where it was. Nothing is dead-lettered or skipped for an outage.
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
from kutamo_kit.kafka import clients
from kutamo_kit.outages import DATABASE, database_unavailable
from kutamo_kit.seams import Clock
from kutamo_provisioning import deadletters
from kutamo_provisioning.batch import BatchProcessor, Record, Result
from kutamo_provisioning.metrics import Metrics

log = logging.getLogger(__name__)

_REVOKE_WAIT_SECONDS = 60.0
_DATABASE_PROBE_MS = 2000


def _names(tps: set[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in tps)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: "SignInConsumer") -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if not await self._worker.drain(_REVOKE_WAIT_SECONDS):
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
        in_flight: int = 2,
        also: tuple[str, ...] = (),
    ) -> None:
        self._also = also
        self._bootstrap = bootstrap_servers
        self._group = group_id
        self._topic = topic
        self._batch = batch
        self.metrics = metrics
        self._clock = clock
        self._max_records = max_records
        self.stopping = asyncio.Event()
        self._lanes = in_flight
        self._batches: dict[asyncio.Task[None], set[TopicPartition]] = {}
        self._first_offsets: dict[asyncio.Task[None], dict[TopicPartition, int]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.paused_for_database = False
        self.assigned: set[TopicPartition] = set()
        self.joined = False
        self.running = False

    @property
    def topic(self) -> str:
        """The sign-in topic (the lifecycle topic is consumed beside it, see `also`)."""
        return self._topic

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def forget(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked & self.assigned:
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        self.assigned -= revoked

    async def drain(self, seconds: float) -> bool:
        """Wait for the batches in flight to finish (True), or until `seconds` have passed (False)."""
        if not self._batches:
            return True
        _, pending = await asyncio.wait(list(self._batches), timeout=seconds)
        return not pending

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
            **clients.options(),
        )
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, **clients.options())
        clients.backoff_reconnects(consumer)
        clients.backoff_reconnects(producer)
        consumer.subscribe([self._topic, *self._also], listener=_Rebalance(self))
        await producer.start()
        await consumer.start()
        self._consumer = consumer
        self.running = True
        try:
            while not self.stopping.is_set():
                await self._fetch_one(consumer, producer)
            await self._finish(len(self._batches))
        finally:
            if self._batches:  # the loop failed: let the other batches finish (they commit), then give up
                await self.drain(_REVOKE_WAIT_SECONDS)
                for task in self._batches:
                    task.cancel()
                self._batches.clear()
                self._first_offsets.clear()
            self.running = False
            self.paused_for_database = False
            self.joined = False
            await consumer.stop()
            await producer.stop()

    async def _fetch_one(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        """Start one batch on partitions that have none in flight (or wait for a lane to free up)."""
        await self._finish(sum(1 for task in self._batches if task.done()))  # their partitions are free again
        if self.paused_for_database:
            await self._wait_for_database(consumer)
            return
        if len(self._batches) >= self._lanes:
            await self._finish(1)
            return
        busy = set().union(*self._batches.values()) if self._batches else set()
        free = [tp for tp in consumer.assignment() if tp not in busy]
        if not free:
            await self._finish(1)
            return
        # Short waits while batches run, so a lane that frees up is used at once.
        batches = await consumer.getmany(*free, timeout_ms=20 if self._batches else 500, max_records=self._max_records)
        if batches:
            task = asyncio.create_task(self._handle(consumer, producer, batches))
            self._batches[task] = set(batches)
            self._first_offsets[task] = {tp: records[0].offset for tp, records in batches.items()}

    async def _finish(self, count: int) -> None:
        """Wait until `count` batches in flight are done; a batch that failed fails the loop (it restarts)."""
        if not self._batches or count <= 0:
            return
        done = {task for task in self._batches if task.done()}
        if len(done) < count:
            when = asyncio.FIRST_COMPLETED if count < len(self._batches) else asyncio.ALL_COMPLETED
            done, _ = await asyncio.wait(list(self._batches), return_when=when)
        failed = []
        for task in done:
            del self._batches[task]
            first_offsets = self._first_offsets.pop(task, {})
            error = None if task.cancelled() else task.exception()
            if error is not None and database_unavailable(error):
                self._rewind(first_offsets, error)
            else:
                failed.append(task)
        for task in failed:
            task.result()

    def _rewind(self, first_offsets: dict[TopicPartition, int], error: BaseException) -> None:
        """The database is away: fetch this batch again once it is back, and nothing until then."""
        DATABASE.failed(error)
        assert self._consumer is not None
        for tp, offset in first_offsets.items():
            with contextlib.suppress(IllegalStateError, AssertionError):  # revoked meanwhile: its next owner redoes it
                self._consumer.seek(tp, offset)
        self._consumer.pause(*self._consumer.assignment())
        if not self.paused_for_database:
            self.paused_for_database = True
            log.info("consuming paused while the database is away; it resumes where it stopped",
                        extra={"partitions": _names(set(first_offsets))})  # fmt: skip

    async def _wait_for_database(self, consumer: AIOKafkaConsumer) -> None:
        """Poll the paused partitions (which keeps this member in its group) until the database answers."""
        consumer.pause(*consumer.assignment())  # partitions assigned by a rebalance meanwhile too
        await consumer.getmany(timeout_ms=_DATABASE_PROBE_MS)
        if self._batches or not await self._batch.database_answers():
            return
        consumer.resume(*consumer.assignment())
        self.paused_for_database = False
        DATABASE.answered()  # the one warning that the outage ended, if nothing said so before
        log.info("consuming resumed")

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
                    "error_class": failed.error.error_class, "error_message": failed.error.detail,
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
